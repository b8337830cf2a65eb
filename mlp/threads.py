"""How many BLAS threads to use: measured, not guessed.

OpenBLAS splits a matrix product across threads even when the product is too
small to pay for the coordination; for the shapes of a small MLP trained on
batches of 128, two threads can be *slower* than one. So we time the products
of one training step at each thread count and keep the fastest.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from threadpoolctl import threadpool_limits


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def time_step_products(sizes: Sequence[int], batch_size: int, dtype: np.dtype, threads: int) -> float:
    """Best-of-5 seconds for the matrix products of one forward + backward pass."""
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal((a, b)).astype(dtype) for a, b in itertools.pairwise(sizes)]
    x = rng.standard_normal((batch_size, sizes[0])).astype(dtype)
    best = np.inf
    with threadpool_limits(limits=threads, user_api="blas"):
        for _ in range(5):
            start = time.perf_counter()
            h = x
            for w in weights:
                out = h @ w  # forward
                h.T @ out  # same shape of work as the weight gradient
                out @ w.T  # and as the input gradient
                h = out
            best = min(best, time.perf_counter() - start)
    return best


@lru_cache(maxsize=32)
def best_thread_count(sizes: tuple[int, ...], batch_size: int, dtype: str = "float32") -> int:
    """The thread count (1 .. cores) that runs a training step's products fastest.

    A tie goes to fewer threads: they leave a core free for everything else.
    """
    timings = {
        n: time_step_products(sizes, batch_size, np.dtype(dtype), n) for n in range(1, available_cores() + 1)
    }
    fastest = min(timings.values())
    return min(n for n, t in timings.items() if t <= fastest * 1.05)
