"""How many BLAS threads to use: measured, not guessed.

OpenBLAS splits a matrix product across threads even when the product is too
small to pay for the coordination; for the shapes of a small MLP trained on
batches of 128, two threads can be *slower* than one. Worse, a thread whose
core is busy with another program makes every product wait for it: on a
2-core machine with one core taken, a 2-thread epoch can take 50 times as
long as a 1-thread one. So we time the products of a training step at each
thread count and keep the fastest, in a way that sees both effects:

* each timing is a burst of steps lasting about 10 ms, not one step: a step
  that happens to run while the other core is free hides contention, the
  mean over a burst does not;
* the thread counts take turns, for a few rounds, and each keeps its median,
  so that a change in the machine's load affects every count alike;
* more threads must be clearly faster (by 10 %) to be chosen: they gain
  little when they win and lose a lot when another program wakes up.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from mlp.runtime import blas_threads

BURST_SECONDS = 0.01
ROUNDS = 3
REQUIRED_GAIN = 0.10


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def time_step_products(
    sizes: Sequence[int], batch_size: int, dtype: np.dtype, threads: int, *, burst: float = BURST_SECONDS
) -> float:
    """Mean seconds per step for the matrix products of a forward + backward pass.

    Runs steps for about ``burst`` seconds: at least one, at most 50. (No
    untimed warm-up step: when another program holds a core, one step may take
    0.1 s, and that is exactly what we want to see, not to pay for twice.)
    """
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal((a, b)).astype(dtype) for a, b in itertools.pairwise(sizes)]
    x = rng.standard_normal((batch_size, sizes[0])).astype(dtype)

    def step() -> None:
        h = x
        for w in weights:
            out = h @ w  # forward
            h.T @ out  # same shape of work as the weight gradient
            out @ w.T  # and as the input gradient
            h = out

    with blas_threads(threads):
        start = time.perf_counter()
        steps, elapsed = 0, 0.0
        while elapsed < burst and steps < 50:
            step()
            steps += 1
            elapsed = time.perf_counter() - start
    return elapsed / steps


@lru_cache(maxsize=32)
def best_thread_count(sizes: tuple[int, ...], batch_size: int, dtype: str = "float32") -> int:
    """The thread count (1 .. cores) that runs a training step's products fastest.

    Fewer threads win unless more are at least ``REQUIRED_GAIN`` faster. The
    answer is cached for the process: about ``ROUNDS * cores * BURST_SECONDS``
    (60 ms on 2 cores) is spent measuring once, not at every ``fit``.
    """
    counts = range(1, available_cores() + 1)
    timings: dict[int, list[float]] = {n: [] for n in counts}
    for _ in range(ROUNDS):
        for n in counts:
            timings[n].append(time_step_products(sizes, batch_size, np.dtype(dtype), n))
    median = {n: float(np.median(t)) for n, t in timings.items()}
    fastest = min(median.values())
    return min(n for n, t in median.items() if t * (1 - REQUIRED_GAIN) <= fastest)
