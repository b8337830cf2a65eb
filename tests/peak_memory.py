"""How much memory a call allocates at its peak: hostile files must be refused before they cost any."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable


def peak_bytes_while(call: Callable[[], object]) -> int:
    """The peak of Python-tracked allocations (NumPy's included) while ``call()`` runs."""
    tracemalloc.start()
    try:
        call()
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak
