"""A progress bar for long loops that reads well in a terminal and in a notebook.

Both render a carriage return (``\\r``) by redrawing the line, so one
implementation serves both; we only redraw a few times a second, because a
notebook that receives thousands of updates slows the training down.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """``[#####.....] 50% 234/469 · 1.2 s · loss 0.213`` on one line, redrawn in place."""

    def __init__(self, total: int, label: str = "", *, stream: TextIO | None = None, width: int = 24) -> None:
        self.total, self.label, self.width = max(total, 1), label, width
        self.stream = stream if stream is not None else sys.stderr
        self.start = self._last_draw = time.perf_counter()

    def update(self, done: int, info: str = "", *, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._last_draw < 0.2:
            return
        self._last_draw = now
        filled = round(self.width * done / self.total)
        bar = "#" * filled + "." * (self.width - filled)
        percent = 100 * done / self.total
        line = f"\r{self.label} [{bar}] {percent:3.0f}% {done}/{self.total} · {now - self.start:.1f} s"
        self.stream.write(line + (f" · {info}" if info else ""))
        self.stream.flush()

    def close(self, summary: str) -> None:
        """Replace the bar with a final line that stays."""
        self.stream.write("\r" + summary.ljust(self.width + 40) + "\n")
        self.stream.flush()
