"""Training speed: one epoch of the benchmark network, in mlp and in PyTorch, the runs taking turns.

The network is 784-128-64-10, Adam (lr 1e-3), batch 128, float32, on the
60,000 training images, timed as ``fit`` times it (``History.seconds``).
The contestants take turns, so that a change in the machine's load hits them
alike; a thread count whose epoch takes 5 times the 1-thread one is not run
again ("given up"): it is contended.

* ``FusedAdam`` (``mlp.nn.fast``) is the figure compared with PyTorch: the
  same update as ``mlp.Adam`` in fewer passes over memory, and what
  ``python -m mlp train`` uses. ``mlp.Adam``, the paper's update line by line
  as notebook 06 prints it, is timed too.
* "in-place dW" writes the weight gradient into the existing ``.grad`` arrays
  (``np.matmul(..., out=)``), as mlp did before ``Dense.backward`` became the
  three lines of its derivation: it shows what allocating a fresh gradient costs.
* PyTorch (if installed): the same network, initial weights, batches and
  Adam hyper-parameters (``benchmarks.torch_twin``), at 1 thread;
  ``torch.optim.Adam`` as a PyTorch user writes it is the reference,
  ``fused=True``, its fastest CPU variant, is shown too. Ratios are taken per
  pair of runs of the same round.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np

from benchmarks.machine import mean_or_none, other_load
from benchmarks.report import Figure, Report
from benchmarks.torch_twin import TorchTwin
from mlp.course.timing import epoch_flops
from mlp.nn.fast import FusedAdam
from mlp.nn.layers import Dense
from mlp.nn.network import MLP, Sequential
from mlp.nn.optimizers import Adam
from mlp.training.loop import fit
from mlp.training.threads import available_cores, best_thread_count

SIZES = (784, 128, 64, 10)
BATCH_SIZE = 128
LEARNING_RATE = 1e-3
GIVE_UP_FACTOR = 5  # stop re-running a thread count whose epoch took 5× the 1-thread one
TARGET_EPOCH = 0.6  # seconds, at 1 thread
TARGET_OVER_FLOOR = 2.2
TARGET_OVER_TORCH = 0.6


class InPlaceDense(Dense):
    """``Dense`` whose backward writes ``dW`` and ``db`` into the ``.grad`` arrays it already has."""

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self.backward_parameters(grad_out)
        return grad_out @ self.weight.value.T

    def backward_parameters(self, grad_out: np.ndarray) -> None:
        np.matmul(self._x.T, grad_out, out=self.weight.grad)
        np.sum(grad_out, axis=0, out=self.bias.grad)


def with_in_place_backward(model: Sequential) -> Sequential:
    """The same network, every Dense layer an ``InPlaceDense`` holding the same weights."""
    layers = []
    for layer in model.layers:
        if isinstance(layer, Dense):
            twin = InPlaceDense(layer.n_in, layer.n_out, init=layer.init)
            twin.weight.value, twin.bias.value = layer.weight.value.copy(), layer.bias.value.copy()
            layer = twin
        layers.append(layer)
    return Sequential(layers)


def mlp_epoch(
    x: np.ndarray, y: np.ndarray, threads: int, *, fused: bool = True, in_place: bool = False
) -> tuple[float, float]:
    """Seconds and mean training loss of one epoch of the benchmark network."""
    model = MLP(SIZES, seed=0)
    if in_place:
        model = with_in_place_backward(model)
    optimizer = (FusedAdam if fused else Adam)(LEARNING_RATE)
    history = fit(
        model,
        x,
        y,
        epochs=1,
        batch_size=BATCH_SIZE,
        optimizer=optimizer,
        seed=0,
        progress=False,
        threads=threads,
    )
    return history.seconds[0], history.train_loss[0]


def contestants(
    x: np.ndarray, y: np.ndarray, counts: list[int], with_torch: bool
) -> dict[str, Callable[[], tuple[float, float]]]:
    """Everything that runs an epoch, by name: mlp at each thread count, its variants, PyTorch."""
    runs: dict[str, Callable[[], tuple[float, float]]] = {
        f"mlp {n}": partial(mlp_epoch, x, y, n) for n in counts
    }
    runs["mlp adam"] = partial(mlp_epoch, x, y, 1, fused=False)
    runs["mlp in-place"] = partial(mlp_epoch, x, y, 1, in_place=True)
    if with_torch:
        twin = TorchTwin(x, y, SIZES, BATCH_SIZE, LEARNING_RATE)
        runs["torch"] = twin.epoch
        runs["torch fused"] = partial(twin.epoch, fused=True)
    return runs


def take_turns(
    runs: dict[str, Callable[[], tuple[float, float]]], repeats: int
) -> tuple[dict[str, list[float]], dict[str, list[float]], set[str], float | None]:
    """Run every contestant once per round; seconds and losses by name, those given up, the load."""
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    losses: dict[str, list[float]] = {name: [] for name in runs}
    given_up: set[str] = set()
    loads: list[float] = []
    for _ in range(repeats):
        with other_load(loads):
            for name, epoch in runs.items():
                if name in given_up:
                    continue
                t, loss = epoch()
                seconds[name].append(t)
                losses[name].append(loss)
                if name != "mlp 1" and t > GIVE_UP_FACTOR * np.median(seconds["mlp 1"]):
                    given_up.add(name)  # contended: more runs would only take minutes to say so again
    return seconds, losses, given_up, mean_or_none(loads)


def measure_training(
    report: Report, x: np.ndarray, y: np.ndarray, repeats: int, peak: float, with_torch: bool
) -> None:
    """Epoch times at each thread count, of the variants and in PyTorch; the thread pick."""
    report.section(
        f"One epoch: {'-'.join(map(str, SIZES))}, Adam lr {LEARNING_RATE:g}, batch {BATCH_SIZE}, "
        f"float32, {len(x):,} images"
    )
    counts = sorted({1, min(2, available_cores()), available_cores()})
    seconds, losses, given_up, load = take_turns(contestants(x, y, counts, with_torch), repeats)

    def add(key: str, name: str, runs: list[float], target: float | None = None, unit: str = "s", **options):
        report.add(key, Figure(name, unit, runs, target, **options))

    add("epoch_1_thread", "epoch, 1 thread, FusedAdam", seconds["mlp 1"], TARGET_EPOCH, other_load=load)
    floor = epoch_flops(SIZES, len(x)) / (peak * 1e9)
    over_floor = [t / floor for t in seconds["mlp 1"]]
    add(
        "epoch_over_floor",
        "FusedAdam epoch / matrix-product floor",
        over_floor,
        TARGET_OVER_FLOOR,
        unit="×",
        digits=2,
    )
    for n in counts[1:]:
        note = f"given up after {len(seconds[f'mlp {n}'])} runs" if f"mlp {n}" in given_up else ""
        add(
            f"epoch_{n}_threads",
            f"epoch, {n} threads, FusedAdam",
            seconds[f"mlp {n}"],
            note=note,
            other_load=load,
        )
    add(
        "epoch_plain_adam",
        "epoch, 1 thread, Adam (the paper's update, as printed)",
        seconds["mlp adam"],
        other_load=load,
    )
    in_place = [a / b for a, b in zip(seconds["mlp in-place"], seconds["mlp 1"])]
    add(
        "in_place_over_allocating",
        "in-place dW (out=) / Dense.backward as printed, paired",
        in_place,
        unit="×",
        digits=3,
    )

    best_thread_count.cache_clear()  # measure now, as fit(threads=None) would in a fresh process
    pick = best_thread_count(SIZES, BATCH_SIZE, "float32")
    medians = {n: float(np.median(seconds[f"mlp {n}"])) for n in counts}
    report.machine["best_thread_count"] = pick
    at_pick = [medians[pick] / min(medians.values())]
    add(
        "thread_pick",
        "epoch at best_thread_count's pick / fastest",
        at_pick,
        1.05,
        unit="×",
        digits=2,
        note=f"picked {pick} of {counts}",
    )
    names = ["mlp 1", "mlp adam", "mlp in-place"]
    if with_torch:
        compare_with_torch(report, seconds, load)
        names += ["torch", "torch fused"]
    report.notes.append(
        "the same computation in all: mean training loss over the epoch "
        + ", ".join(f"{name} {np.median(losses[name]):.5f}" for name in names)
    )


def compare_with_torch(report: Report, seconds: dict[str, list[float]], load: float | None) -> None:
    """PyTorch's epochs, and mlp's over PyTorch's in each round."""
    for key, name, label in (
        ("torch", "torch", "default Adam"),
        ("torch_fused", "torch fused", "Adam(fused=True)"),
    ):
        report.add(
            f"{key}_epoch", Figure(f"PyTorch epoch, 1 thread, {label}", "s", seconds[name], other_load=load)
        )
    pairs = (
        ("mlp_over_torch", "mlp 1", "torch", "mlp FusedAdam / PyTorch default Adam", TARGET_OVER_TORCH),
        ("plain_adam_over_torch", "mlp adam", "torch", "mlp Adam (as printed) / PyTorch default Adam", None),
        ("mlp_over_torch_fused", "mlp 1", "torch fused", "mlp FusedAdam / PyTorch Adam(fused=True)", None),
    )
    for key, mine, theirs, label, target in pairs:
        ratios = [a / b for a, b in zip(seconds[mine], seconds[theirs])]
        report.add(key, Figure(f"{label}, paired runs", "×", ratios, target, digits=2))
