"""Fine-tuning: more training from where the network is, on a few new examples, without forgetting.

A trained network has no "learning mode" to switch on: teaching it a new
handwriting is the same gradient descent that trained it, started from its
trained weights instead of random ones, on the new examples. The danger is
*catastrophic forgetting*. Gradient descent lowers the loss of what is in the
batch and nothing else; a batch of nothing but slashed zeros pulls every
weight towards "everything round is a zero", and the longer it trains, the
more ordinary digits it misreads (taught five slashed zeros alone, the shipped
model falls from 99.1 % to 95.9 % MNIST test accuracy in 320 steps, most of
it 8s read as 0). The remedy is to keep
showing it what it knew: *replay* old examples in every batch, so that each
step must serve the old task and the new one at once.

``fine_tune`` is that, with a recipe tuned on the pad's styles
(``python -m benchmarks teach`` prints the figures):

* **Replay ratio**: one example in eight of each batch is new, the other
  seven are MNIST training images (``mlp.training.replay.mnist_replay``), the
  same number of each digit. A new style often resembles an old digit (a
  slashed zero looks like an 8): the replayed 8s in the same batches keep
  the network from reading every 8 as a zero. Fewer old examples and the
  network forgets more; fewer new ones and it needs more steps to learn.
* **A small learning rate** (``LR``, a tenth of the shipped recipe's 2e-3),
  decaying linearly to 0: Adam's first steps move every weight by about the
  learning rate, whatever its gradient, so a large one would shake weights
  that the new examples have nothing to say about.
* **Few steps** (``STEPS``): 40 teach a style (10 barely move the network);
  more buy nothing on the new style and, even with replay, cost a few tenths
  of a percent of MNIST accuracy. Forty steps of batches of 128 take about a
  tenth of a second on one core.
* **Augmentation of the new examples** (``mlp.random_affine``: small
  rotations, scalings, shifts), a different variant at each step: five
  drawings become hundreds, and the network learns the style rather than
  those five images. Replayed MNIST images are shown as they are.
* **Dropout on**, as when the shipped model was trained (fine-tuning is more
  of the same training), with masks drawn from ``seed``. Switching it off
  changed the figures by less than their spread from one set of examples to
  another, so we kept the network's training conditions.

Everything random (which examples go in which batch, the augmentations, the
dropout masks) derives from ``seed``, and the matrix products run on one BLAS
thread, so the same model, examples and seed give the same weights, bit for bit.
The model passed in is only read, never written, so a caller (the pad) may go
on using it, in another thread, while its copy is being taught.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from mlp.nn.fast import FusedAdam
from mlp.nn.inputs import as_batch
from mlp.nn.layers import Dropout
from mlp.nn.losses import SoftmaxCrossEntropy
from mlp.nn.network import Sequential
from mlp.nn.optimizers import linear_decay
from mlp.training.augment import random_affine
from mlp.training.loop import train_step

STEPS = 40
LR = 2e-4
BATCH_SIZE = 128
NEW_FRACTION = 1 / 8  # of each batch, with replay: 16 new examples and 112 old ones
PROGRESS_CALLS = 20  # ``progress`` is called about this many times, not at every step

Progress = Callable[[int, int], Any]


def fine_tune(
    model: Sequential,
    x_new: np.ndarray,
    y_new: np.ndarray | int,
    *,
    replay: tuple[np.ndarray, np.ndarray] | None = None,
    steps: int | None = None,
    lr: float | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> Sequential:
    """A copy of ``model`` trained further on ``(x_new, y_new)``; ``model`` itself is left unchanged.

    * ``x_new``: the new examples, ``(N, 784)``, ``(N, 28, 28)`` or one
      ``(28, 28)`` image, floats in [0, 1]; ``y_new`` their digits, ints 0-9.
    * ``replay=(x, y)``: old examples (e.g. ``mnist_replay()``) that fill
      seven eighths of every batch so the network keeps what it knew.
      Without it, every batch is new examples only, and the network forgets.
    * ``steps``, ``lr``, ``batch_size``: default ``STEPS``, ``LR`` and
      ``BATCH_SIZE``, the recipe in this module's docstring.
    * ``seed`` fixes every random draw: same inputs and seed, same weights.
    * ``progress(done_steps, total_steps)`` is called about
      ``PROGRESS_CALLS`` times, the last with ``done_steps == total_steps``.

    Raises ``TypeError`` or ``ValueError``, before any work, for inputs that
    are not what this says. The returned model's ``metadata["fine_tuned"]``
    lists how it was taught, and goes into its file with ``save_model``.
    """
    steps = STEPS if steps is None else _positive_int(steps, "steps")
    lr = LR if lr is None else _positive_float(lr, "lr")
    batch_size = BATCH_SIZE if batch_size is None else _positive_int(batch_size, "batch_size")
    x, y, old = _validated(model, x_new, y_new, replay, batch_size, seed, progress)

    tuned = _copy(model, seed)
    rng = np.random.default_rng(seed)
    n_new = max(1, round(NEW_FRACTION * batch_size)) if old is not None else batch_size
    new_batches = _shuffled_indices(len(x), n_new, rng)
    old_batches = _shuffled_indices(len(old[0]), batch_size - n_new, rng) if old is not None else None
    loss, optimizer = SoftmaxCrossEntropy(), FusedAdam(lr, schedule=linear_decay)
    report_every = max(1, math.ceil(steps / PROGRESS_CALLS))

    if progress is not None:
        progress(0, steps)
    with threadpool_limits(limits=1, user_api="blas"), tuned.mode(training=True):
        for step in range(steps):
            idx = next(new_batches)
            xb, yb = random_affine(x[idx], rng), y[idx]
            if old_batches is not None:
                old_idx = next(old_batches)
                xb, yb = np.concatenate([xb, old[0][old_idx]]), np.concatenate([yb, old[1][old_idx]])
            train_step(tuned, loss, optimizer, xb, yb, step / steps)
            if progress is not None and ((step + 1) % report_every == 0 or step + 1 == steps):
                progress(step + 1, steps)

    record = {
        "examples": len(x),
        "replay": 0 if old is None else len(old[0]),
        "steps": steps,
        "lr": lr,
        "batch_size": batch_size,
        "new_per_batch": n_new,
        "seed": int(seed),
    }
    tuned.metadata["fine_tuned"] = [*tuned.metadata.get("fine_tuned", []), record]
    return tuned


def _copy(model: Sequential, seed: int) -> Sequential:
    """A copy with its own weights, metadata and dropout masks drawn from ``seed``."""
    tuned = model.astype(model.dtype)  # rebuilt layer by layer: every array is new
    tuned.metadata = copy.deepcopy(model.metadata)
    dropouts = [layer for layer in tuned.layers if isinstance(layer, Dropout)]
    for layer, child in zip(dropouts, np.random.SeedSequence([seed, 1]).spawn(len(dropouts))):
        layer.rng = np.random.default_rng(child)
    return tuned


def _shuffled_indices(n: int, per_batch: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Endless batches of ``per_batch`` indices into ``n`` examples, each used once per pass.

    The indices run through one random permutation after another, so that
    every example comes up equally often, however ``per_batch`` compares to ``n``.
    """
    order, position = rng.permutation(n), 0
    while True:
        taken = []
        while sum(map(len, taken)) < per_batch:
            if position == n:
                order, position = rng.permutation(n), 0
            part = order[position : position + per_batch - sum(map(len, taken))]
            taken.append(part)
            position += len(part)
        yield np.concatenate(taken)


def _validated(
    model: Any,
    x_new: Any,
    y_new: Any,
    replay: Any,
    batch_size: int,
    seed: Any,
    progress: Any,
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be an mlp Sequential network (e.g. mlp.load_model()), got {model!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an integer, got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be 0 or more, got {seed}")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a function progress(done_steps, total_steps), got {progress!r}")
    x, y = _examples(model, x_new, y_new, "the new examples")
    old = None
    if replay is not None:
        if not isinstance(replay, tuple | list) or len(replay) != 2:
            raise TypeError(
                "replay must be a pair (x, y) of old examples, e.g. mlp.training.replay.mnist_replay()"
            )
        if batch_size < 2:
            raise ValueError(
                f"with replay, batch_size must be at least 2 (new and old examples), got {batch_size}"
            )
        old = _examples(model, *replay, "replay")
    return x, y, old


def _examples(model: Sequential, x: Any, y: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    """``x`` as ``(N, 784)`` floats in [0, 1] and ``y`` as ``(N,)`` int64 class ids, or a clear error."""
    batch, single = as_batch(x, model.n_inputs, model.dtype)  # shapes, number types, NaN and inf
    if len(batch) == 0:
        raise ValueError(f"{what}: no examples (x has shape {np.shape(x)}); add at least one")
    low, high = float(batch.min()), float(batch.max())
    if low < 0 or high > 1:
        raise ValueError(
            f"{what}: pixels must lie in [0, 1], got values in [{low:g}, {high:g}] (0-255 pixels? x / 255)"
        )
    labels = np.asarray(y)
    if single and labels.ndim == 0:
        labels = labels.reshape(1)
    if labels.dtype == bool or not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"{what}: labels must be integer digits 0-9, got dtype {labels.dtype}")
    if labels.ndim != 1 or len(labels) != len(batch):
        raise ValueError(
            f"{what}: {len(batch)} image(s) but labels of shape {labels.shape}; give one per image"
        )
    if labels.min() < 0 or labels.max() >= model.n_classes:
        raise ValueError(
            f"{what}: labels must lie in 0..{model.n_classes - 1}, got {labels.min()}..{labels.max()}"
        )
    return batch, labels.astype(np.int64)


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _positive_float(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number) or not 0 < value < math.inf:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)
