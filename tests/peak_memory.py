"""How much memory a call allocates at its peak: hostile files must be refused before they cost any."""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path


def peak_bytes_while(call: Callable[[], object]) -> int:
    """The peak of Python-tracked allocations (NumPy's included) while ``call()`` runs."""
    tracemalloc.start()
    try:
        call()
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak


def peak_rss_growth(statements: list[str], setup: str = "") -> list[int] | None:
    """In a fresh Python, how far resident memory rises while each statement runs: bytes, one per statement.

    ``tracemalloc`` sees Python's allocations only, not what C libraries
    allocate (Pillow's images, libjpeg's and zlib's buffers). This runs
    ``setup``, then each statement in turn, resetting the kernel's peak-RSS
    mark before each (``/proc/self/clear_refs``) and reading it after
    (``VmHWM``). glibc is told to hand large blocks straight back to the
    system (``MALLOC_MMAP_THRESHOLD_``), so that memory one statement freed
    does not hide what the next one takes. Linux only: ``None`` elsewhere.
    """
    if not Path("/proc/self/clear_refs").exists():
        return None
    script = "\n".join(
        [
            setup,
            "def _status(key):",
            "    for line in open('/proc/self/status'):",
            "        if line.startswith(key):",
            "            return int(line.split()[1]) * 1024",
            "def _grows(statement):",
            "    with open('/proc/self/clear_refs', 'w') as f:",
            "        f.write('5')",
            "    before = _status('VmRSS')",
            "    exec(statement, globals())",
            "    return _status('VmHWM') - before",
            f"print([_grows(s) for s in {statements!r}])",
        ]
    )
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"the measured statements failed:\n{done.stderr}")
    return [int(x) for x in done.stdout.strip().strip("[]").split(",")]
