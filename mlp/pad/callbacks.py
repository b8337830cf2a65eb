"""Entry points into the pad: from the page, from code, and from the teaching thread.

Two rules hold for every one of them. It runs whole, under its owner's lock:
teaching finishes on a worker thread while the page keeps sending pointer
events, and neither may see the other half done. And an exception becomes a
message the visitor can read: in a kernel, an exception raised by a widget
callback is printed where nobody looks, or sent to the page as a traceback.
The visitor reads the exception's type and message, but never a message that
names a file (it may be a path on the server); the traceback goes to the
server's log.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)  # mlp.pad's log: the server's, never the page (mlp.pad.frontend)


class Owner(Protocol):
    _lock: threading.RLock

    def _say(self, message: str, *, error: bool = False) -> None: ...


def callback(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` of an ``Owner``, run under ``self._lock``; an exception is shown and gives ``None``."""

    @functools.wraps(method)
    def wrapper(self: Owner, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            try:
                return method(self, *args, **kwargs)
            except Exception as e:
                log.warning("%s failed", method.__qualname__, exc_info=True)
                self._say(f"Something went wrong ({_plainly(e)}). Clear and try again.", error=True)
                return None

    return wrapper


def _plainly(error: Exception) -> str:
    """``"Type: message"``, or only ``"Type"`` if the message could name a path on the server."""
    message = str(error)
    if not message or "/" in message or "\\" in message:
        return type(error).__name__
    return f"{type(error).__name__}: {message}"
