"""Matrix products: the core's peak speed, and the floor it puts under an epoch.

The peak is a 2048×2048 float32 product at 1 thread, the fastest this core
multiplies. The floor is an epoch's FLOPs divided by that peak: no
implementation trains an epoch faster on one core, and the gap to it is
everything that is not a large product (the optimizer, activations, loss,
Python, and the small products that never reach the peak).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from benchmarks.machine import mean_or_none, other_load
from benchmarks.report import Figure, Report
from mlp.course.timing import epoch_flops


def sgemm_gflops(n: int = 2048, repeats: int = 5) -> list[float]:
    """GFLOP/s of an ``n``×``n`` float32 product at 1 thread, for each of ``repeats`` runs."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), dtype=np.float32)
    runs = []
    with threadpool_limits(limits=1, user_api="blas"):
        np.matmul(a, b, out=out)  # warm up: page the arrays in, load the kernel
        for _ in range(repeats):
            start = time.perf_counter()
            np.matmul(a, b, out=out)
            runs.append(2 * n**3 / (time.perf_counter() - start) / 1e9)
    return runs


def measure_products(report: Report, sizes: Sequence[int], n_samples: int, repeats: int) -> float:
    """Report the peak and the floor; return the best peak in GFLOP/s."""
    report.section("Matrix products (float32, 1 thread)")
    loads: list[float] = []
    with other_load(loads):
        gflops = sgemm_gflops(repeats=repeats)
    report.add(
        "sgemm_gflops",
        Figure("sgemm peak, 2048²", "GFLOP/s", gflops, digits=1, other_load=mean_or_none(loads)),
    )
    flops = epoch_flops(sizes, n_samples)
    floor = flops / (max(gflops) * 1e9)
    report.add(
        "floor", Figure(f"matrix-product floor of an epoch: {flops / 1e9:.1f} GFLOP / peak", "s", [floor])
    )
    return max(gflops)
