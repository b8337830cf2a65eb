"""OpenBLAS's own kernel: when ``OPENBLAS_CORETYPE`` forces one, measure the one it would pick.

OpenBLAS picks the kernels for its products by CPU model, unless the
environment variable ``OPENBLAS_CORETYPE`` forces a choice (``Haswell``'s
AVX2 kernels on a CPU with AVX-512, say). The main rows keep the environment
as given, since that is what the notebooks and ``python -m mlp train`` get;
these rows measure the peak and the epoch once more in a subprocess without
the variable.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from benchmarks.machine import blas_info, mean_or_none, other_load
from benchmarks.products import sgemm_gflops
from benchmarks.report import Figure, Report
from benchmarks.training import SIZES, TARGET_EPOCH, TARGET_OVER_FLOOR, TARGET_OVER_TORCH, mlp_epoch
from mlp.course.timing import epoch_flops
from mlp.training.data import load_mnist


def probe(repeats: int) -> dict[str, Any]:
    """Peak and 1-thread epochs in this process: what ``measure_own_kernel`` asks a subprocess for."""
    (x, y), _ = load_mnist()
    return {
        "architecture": blas_info().get("architecture"),
        "gflops": sgemm_gflops(repeats=repeats),
        "epochs": [mlp_epoch(x, y, 1)[0] for _ in range(repeats)],
    }


def measure_own_kernel(report: Report, n_samples: int, repeats: int) -> None:
    """If ``OPENBLAS_CORETYPE`` forces a kernel, measure the one OpenBLAS would choose itself."""
    forced = os.environ.get("OPENBLAS_CORETYPE")
    if forced is None or report.machine["blas"].get("internal_api") != "openblas":
        return
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    loads: list[float] = []
    with other_load(loads):
        done = subprocess.run(
            [sys.executable, "-m", "mlp", "bench", "--probe", str(repeats)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        report.notes.append(f"could not measure without OPENBLAS_CORETYPE: {done.stderr.strip()[-300:]}")
        return
    result = json.loads(done.stdout.strip().splitlines()[-1])
    report.section(
        f"Without OPENBLAS_CORETYPE={forced}: OpenBLAS's own choice, {result['architecture']} kernels"
    )
    floor = epoch_flops(SIZES, n_samples) / (max(result["gflops"]) * 1e9)
    report.add(
        "own_kernel_gflops", Figure("sgemm peak, 2048², 1 thread", "GFLOP/s", result["gflops"], digits=1)
    )
    report.add("own_kernel_floor", Figure("matrix-product floor of an epoch", "s", [floor]))
    epochs = result["epochs"]
    load = mean_or_none(loads)
    report.add(
        "own_kernel_epoch", Figure("epoch, 1 thread, FusedAdam", "s", epochs, TARGET_EPOCH, other_load=load)
    )
    report.add(
        "own_kernel_epoch_over_floor",
        Figure("epoch / floor", "×", [t / floor for t in epochs], TARGET_OVER_FLOOR, digits=2),
    )
    if "torch_epoch" in report.figures:
        torch_epoch = report.figures["torch_epoch"].median
        ratios = [t / torch_epoch for t in epochs]
        report.add(
            "own_kernel_mlp_over_torch",
            Figure(
                "mlp FusedAdam / PyTorch default Adam (its median above)",
                "×",
                ratios,
                TARGET_OVER_TORCH,
                digits=2,
            ),
        )
