"""The machine a benchmark runs on, and how busy other programs keep it.

On a shared machine a figure means little without the load it was measured
under: ``other_load`` measures, from ``/proc/stat``, how many cores *other*
programs kept busy during a block of code (Linux only), and every table row
shows it.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_info

from mlp._version import __version__
from mlp.training.threads import available_cores


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_info() -> dict[str, Any]:
    """The BLAS NumPy uses, as threadpoolctl sees it (the first one if several are loaded)."""
    blas = [lib for lib in threadpool_info() if lib.get("user_api") == "blas"]
    return blas[0] if blas else {}


def machine_info() -> dict[str, Any]:
    blas = blas_info()
    return {
        "cpu": cpu_model(),
        "cores": available_cores(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "mlp": __version__,
        "blas": {k: blas.get(k) for k in ("internal_api", "version", "architecture", "threading_layer")},
        "blas_default_threads": blas.get("num_threads"),
        "openblas_coretype_env": os.environ.get("OPENBLAS_CORETYPE"),
    }


def describe(machine: dict[str, Any]) -> str:
    blas = machine["blas"]
    text = (
        f"{machine['cpu']} · {machine['cores']} cores · Python {machine['python']} · "
        f"NumPy {machine['numpy']} · {blas.get('internal_api')} {blas.get('version')} "
        f"({blas.get('architecture')} kernels, {blas.get('threading_layer')}, "
        f"{machine['blas_default_threads']} threads by default)"
    )
    if machine.get("openblas_coretype_env"):
        text += f" · OPENBLAS_CORETYPE={machine['openblas_coretype_env']} set"
    if machine.get("torch"):
        text += f" · PyTorch {machine['torch']}"
    return text


def _busy_seconds() -> float | None:
    """CPU seconds all cores have spent not idle since boot (Linux), counting steal as busy."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    """CPU seconds of this process and of the subprocesses it has waited for."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


@contextmanager
def other_load(result: list[float]) -> Iterator[None]:
    """Append to ``result`` how many cores other programs kept busy during the block."""
    busy, own, start = _busy_seconds(), _own_seconds(), time.perf_counter()
    yield
    busy_after = _busy_seconds()
    if busy is not None and busy_after is not None:
        others = (busy_after - busy) - (_own_seconds() - own)
        result.append(max(0.0, others / (time.perf_counter() - start)))


def mean_or_none(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None
