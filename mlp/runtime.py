"""What this Python can do: the one place that knows whether we run natively or in a browser.

In a browser (Pyodide: CPython compiled to WebAssembly, used by the static
dashboard) there are no threads, no subprocesses and no BLAS thread pool to
tune. Everything in the package that would start a thread or limit BLAS
threads asks here instead of trying and catching ``ImportError`` or
``RuntimeError`` in its own way, so the choice is made once and can be
forced in tests (``monkeypatch.setattr(mlp.runtime, "CAN_START_THREADS", False)``
runs the pad's logic the way the browser runs it).
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

IN_BROWSER = sys.platform == "emscripten"  # Pyodide reports this platform
CAN_START_THREADS = not IN_BROWSER
CAN_LIMIT_BLAS_THREADS = not IN_BROWSER  # Pyodide's numpy has no thread pool: nothing to limit
# Inline, teaching holds the page, and WebAssembly's numpy takes tens of times as long per step as a
# native one: batches of 96 instead of 128 cost a quarter less, for about a point of the new style
# (of 100 new drawings, 97 % read right instead of 98 %, over 11 sets of 5; MNIST unchanged; 30 steps
# instead of 40 would give 92 %): ``python -m benchmarks static-site --recipes``.
INLINE_TEACH_BATCH = 96


class Work:
    """Work started by ``start``: on a thread (natively) or already done (inline, in a browser)."""

    def __init__(self, thread: threading.Thread | None) -> None:
        self._thread = thread

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


def start(target: Callable[..., Any], *args: Any, name: str) -> Work:
    """Run ``target(*args)`` on a daemon thread if this Python can start one, else right now, inline.

    Inline, ``target`` has returned (or raised) when ``start`` returns: a
    caller that wants the page to stay responsive natively gets that, and in
    a browser gets the same result, only without drawing meanwhile.
    """
    if not CAN_START_THREADS:
        target(*args)
        return Work(None)
    thread = threading.Thread(target=target, args=args, name=name, daemon=True)
    thread.start()
    return Work(thread)


def teach_settings() -> dict[str, int]:
    """``fine_tune``'s keyword arguments here: its own recipe natively, smaller batches inline."""
    return {} if CAN_START_THREADS else {"batch_size": INLINE_TEACH_BATCH}


@contextlib.contextmanager
def blas_threads(limit: int) -> Iterator[None]:
    """Limit BLAS to ``limit`` threads inside the ``with`` block (``threadpoolctl``), natively only."""
    if not CAN_LIMIT_BLAS_THREADS:
        yield
        return
    from threadpoolctl import threadpool_limits  # not imported in a browser, where it is not needed

    with threadpool_limits(limits=limit, user_api="blas"):
        yield
