"""Where the time of one training step goes: the timing table and bar chart of notebook 06.

A step is timed whole, then its parts: the matrix products alone (with the
step's exact shapes), the optimizer's update alone, and the rest by
difference (ReLU, softmax, bias sums, the calls between them). Each figure is
the fastest of several rounds, the one least disturbed by other programs, and
the rounds interleave the functions so that a burst of load hits all alike.

These are figures *of this machine, now*; the benchmarks of a checkout
(``python -m benchmarks speed``) measure
with more care (repeated runs, the load of other programs recorded).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from mlp.nn.layers import Dense
from mlp.nn.losses import SoftmaxCrossEntropy
from mlp.nn.network import MLP
from mlp.nn.optimizers import Optimizer
from mlp.training.loop import train_step


def epoch_flops(sizes: Sequence[int], n_samples: int) -> float:
    """FLOPs of one training epoch's matrix products (2 per multiply-add).

    Forward ``x @ W`` and the weight gradient ``x.T @ g`` cost ``2·N·n_in·n_out``
    each in every layer; the input gradient ``g @ W.T`` costs as much in every
    layer but the first, whose input is the data.
    """
    per_layer = [n_in * n_out for n_in, n_out in itertools.pairwise(sizes)]
    return 2.0 * n_samples * (2 * sum(per_layer) + sum(per_layer[1:]))


PARTS = ("matrix products", "optimizer", "everything else")


def best_seconds(
    functions: Mapping[str, Callable[[], Any]], rounds: int = 9, number: int = 40
) -> dict[str, float]:
    """Seconds per call of each function: the fastest of ``rounds`` timings of ``number`` calls."""
    best = dict.fromkeys(functions, np.inf)
    for _ in range(rounds):
        for name, fn in functions.items():
            start = time.perf_counter()
            for _ in range(number):
                fn()
            best[name] = min(best[name], (time.perf_counter() - start) / number)
    return best


def step_breakdown(
    sizes: Sequence[int],
    x: np.ndarray,
    y: np.ndarray,
    optimizer: Optimizer,
    *,
    dtype: type = np.float32,
    rounds: int = 9,
    number: int = 40,
) -> dict[str, float]:
    """Seconds of one training step on the batch ``(x, y)`` and of its ``PARTS``, for ``MLP(sizes)``."""
    model = MLP(sizes, seed=0, dtype=dtype)
    loss = SoftmaxCrossEntropy()
    xb = x.astype(dtype)
    n = len(xb)
    weights = [layer.weight.value for layer in model.layers if isinstance(layer, Dense)]
    inputs = [xb] + [np.ones((n, w.shape[1]), dtype) for w in weights[:-1]]  # each layer's input
    grads = [np.ones((n, w.shape[1]), dtype) for w in weights]  # each layer's output gradient

    def products() -> None:
        for k, (inp, w, g) in enumerate(zip(inputs, weights, grads)):
            inp @ w  # forward:         (n, n_in) @ (n_in, n_out)
            inp.T @ g  # weight gradient: (n_in, n) @ (n, n_out)
            if k > 0:
                g @ w.T  # input gradient:  (n, n_out) @ (n_out, n_in); the data's is never needed

    t = best_seconds(
        {
            "step": lambda: train_step(model, loss, optimizer, xb, y, 0.0),
            "matrix products": products,
            "optimizer": lambda: optimizer.step(model.parameters()),
        },
        rounds=rounds,
        number=number,
    )
    t["everything else"] = max(t["step"] - t["matrix products"] - t["optimizer"], 0.0)
    return t


def peak_flops(dtype: type = np.float32, n: int = 1024) -> float:
    """FLOP/s of one ``n`` × ``n`` matrix product: close to the core's peak speed."""
    a = np.random.default_rng(0).standard_normal((n, n)).astype(dtype)
    return 2 * n**3 / best_seconds({"a @ a": lambda: a @ a}, rounds=5, number=3)["a @ a"]


def gather_seconds(x: np.ndarray, batch_size: int = 128, seed: int = 1) -> float:
    """Seconds to copy one random batch out of ``x``, as ``fit`` does before each step (an epoch's mean)."""
    order = np.random.default_rng(seed).permutation(len(x))
    batches = [order[i : i + batch_size] for i in range(0, len(x), batch_size)]

    def gather_epoch() -> None:
        for batch in batches:
            x[batch]  # a fresh (batch_size, 784) copy, dropped at once

    return best_seconds({"epoch": gather_epoch}, rounds=3, number=1)["epoch"] / len(batches)


def breakdown_table(timings: Mapping[str, Mapping[str, float]], flop_per_step: float) -> str:
    """One line per timed variant: the step in µs, each part's share, the products' speed in GFLOP/s."""
    lines = [
        f"{'':<20} {'step':>9}  " + "  ".join(f"{part:>16}" for part in PARTS) + f"  {'products at':>12}"
    ]
    for name, t in timings.items():
        shares = "  ".join(f"{1e6 * t[part]:>6.0f} µs ({t[part] / t['step']:>4.0%})" for part in PARTS)
        speed = flop_per_step / t["matrix products"] / 1e9
        lines.append(f"{name:<20} {1e6 * t['step']:>6.0f} µs  {shares}  {speed:>4.0f} GFLOP/s")
    return "\n".join(lines)


def plot_breakdown(
    timings: Mapping[str, Mapping[str, float]], title: str = "Where the time of one step goes"
):
    """A horizontal stacked bar per timed variant, one segment per part; returns the matplotlib Figure."""
    import matplotlib.pyplot as plt

    names = list(timings)
    fig, ax = plt.subplots(figsize=(8.5, 0.6 + 0.6 * len(names)))
    left = np.zeros(len(names))
    for part in PARTS:
        widths = np.array([1e6 * timings[name][part] for name in names])
        ax.barh(names, widths, left=left, label=part)
        left += widths
    ax.set(xlabel="µs per training step (batch 128, one thread)", title=title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.invert_yaxis()
    fig.tight_layout()
    return fig
