"""The pad's border with the page: how ipywidgets delivers its messages, and a guard on all of them.

A visitor's browser talks to the kernel through comm messages, and anyone can
open that connection and send whatever JSON they like: an upload whose value
is not a file, a state of the wrong type for any widget, a message with no
method. When ipywidgets fails on one, it hands the exception to
``get_ipython().showtraceback()``, and a kernel sends that traceback, server
paths included, down the websocket. This module is the one place that knows
that machinery (``mlp.pad.canvas`` is the one for ipycanvas):

* ``guard`` wraps the message handler of every widget of the pad, so that a
  message ipywidgets cannot handle is dropped and logged for whoever runs the
  server, and never reaches the visitor as a traceback. Binary buffers (an
  upload's bytes) are accepted by a ``FileUpload`` only. And the page may not
  create widgets in the kernel: ipywidgets builds any widget a ``comm_open``
  names, of any size (eight 40 MB ones took a kernel to 400 MB), and the pad
  needs none from the page (:func:`refuse_widgets_from_the_page`).
* ``uploaded_file`` reads a ``FileUpload`` value, or says it is not one.
* ``receive``, ``click`` and ``file_chosen`` deliver a message as the kernel
  does, so that tests drive the pad exactly as a browser (or an attacker) would.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import ipywidgets as widgets
from IPython import get_ipython  # a dependency of ipywidgets

__all__ = [
    "click",
    "file_chosen",
    "guard",
    "receive",
    "refuse_widgets_from_the_page",
    "rejected_messages",
    "server_stderr",
    "uploaded_file",
]

log = logging.getLogger(__name__)
# Widget models the page may create in the kernel with a comm_open: none, the pad builds its own.
PAGE_MAY_CREATE: frozenset[str] = frozenset()
# Only a FileUpload receives bytes from the page (one file, as a binary buffer).
TAKES_BUFFERS = (widgets.FileUpload,)
# A page asks for every widget's state (~100 KB) once when it connects, again when it reconnects:
# more often than this is a client making the kernel work for nothing.
STATES_EVERY_S = 1.0


def server_stderr() -> Any:
    """The stream whoever runs the server reads (its log), never the page.

    A kernel inherits its stderr from Jupyter or Voila, but ipykernel redirects
    file descriptor 2 into a pipe and forwards what comes out of it to the page
    as stderr output: ``sys.__stderr__`` writes there too. It keeps a copy of the
    original descriptor, which is the server's log.
    """
    original = getattr(sys.stderr, "_original_stdstream_copy", None)
    if isinstance(original, int):
        return open(os.dup(original), "w", buffering=1, encoding="utf-8", errors="replace")
    return sys.__stderr__


# The pad's log (every mlp.pad logger's records reach it) is for whoever runs the server: a
# handler here writes it there, and keeps Python's last-resort one (sys.stderr, the page) out of it.
if (_stream := server_stderr()) is not None:
    _server_log = logging.StreamHandler(_stream)
    _server_log.setFormatter(logging.Formatter("[%(name)s] %(levelname)s | %(message)s"))
    logging.getLogger("mlp.pad").addHandler(_server_log)
    logging.getLogger("mlp.pad").propagate = False  # the root logger's handlers may write to the page
MAX_LOGGED = 20  # tracebacks of rejected messages written to the server's log; then only counted

_rejected = 0


def rejected_messages() -> int:
    """How many browser messages this kernel dropped because ipywidgets could not handle them."""
    return _rejected


def uploaded_file(value: Any) -> tuple[str, bytes] | None:
    """``(name, content)`` of the first file in a ``FileUpload`` value, ``None`` if it holds none.

    A browser sends a tuple of dicts with a ``str`` name and the bytes as a
    buffer (a ``memoryview``); anything else did not come from a browser.
    """
    if not isinstance(value, tuple | list) or not value or not isinstance(value[0], dict):
        return None
    name, content = value[0].get("name"), value[0].get("content")
    if not isinstance(name, str) or not isinstance(content, memoryview | bytes | bytearray):
        return None
    return name, bytes(content)


# --- the backstop: no traceback for the visitor ---------------------------------------------------


def guard(*roots: widgets.Widget) -> None:
    """Make every widget reachable from ``roots`` handle browser messages without showing tracebacks.

    Each widget's comm calls ``widget._handle_msg(msg)``; ipywidgets decorates
    it so that an exception becomes ``showtraceback()``, which a kernel sends to
    the page. We register instead a handler that drops messages without the
    shape every browser message has, and runs the rest with tracebacks
    redirected to the server's log.
    """
    refuse_widgets_from_the_page()
    for widget in _widget_tree(roots):
        if widget.comm is not None:
            widget.comm.on_msg(_guarded(widget))


def refuse_widgets_from_the_page() -> None:
    """From now on, a widget the page opens a comm for is refused (logged) unless in ``PAGE_MAY_CREATE``.

    ipywidgets registers ``Widget.handle_comm_opened`` as the kernel's
    ``jupyter.widget`` comm target: it builds whatever model the page names,
    with whatever state it sends. Widgets the kernel creates itself do not pass
    through here (their comm_open goes from the kernel to the page).
    """
    shell = get_ipython()
    kernel = getattr(shell, "kernel", None)
    manager = getattr(kernel, "comm_manager", None)
    if manager is None:  # not in a kernel: no page can open anything
        return
    manager.register_target("jupyter.widget", _page_widget_opened)
    manager.register_target("jupyter.widget.control", _control_opened)
    _kernel_log_to_the_server(kernel)


def _control_opened(comm: Any, msg: dict) -> None:
    """ipywidgets' control comm (all widgets' states at once), answering at most every ``STATES_EVERY_S``."""
    widgets.Widget.handle_control_comm_opened(comm, msg)
    answer = widgets.Widget._handle_control_comm_msg
    last = -float("inf")

    def throttled(message: dict) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last < STATES_EVERY_S:
            _reject_open("request_states again within a second")
            return
        last = now
        answer(message)

    comm.on_msg(throttled)


def _kernel_log_to_the_server(kernel: Any) -> None:
    """Every log record of the kernel (a comm that failed to open, its traceback) goes to the server log.

    ipykernel logs what goes wrong handling a message through loggers with no
    handler of their own, so Python's last resort writes them to ``sys.stderr``,
    which a kernel forwards to the page: a crafted ``comm_open`` got a traceback
    with the server's paths back. The root logger gets a handler to the server's log.
    """
    if _stream is None:
        return
    root = logging.getLogger()
    if not root.handlers:  # else Python's last resort writes records of loggers with none to sys.stderr
        handler = logging.StreamHandler(_stream)
        handler.setFormatter(logging.Formatter("[%(name)s] %(levelname)s | %(message)s"))
        root.addHandler(handler)
    for logger in (getattr(kernel, "log", None), root):
        for handler in getattr(logger, "handlers", ()):
            if isinstance(handler, logging.StreamHandler) and _writes_to_stderr(handler.stream):
                handler.setStream(_stream)


def _writes_to_stderr(stream: Any) -> bool:
    if stream is sys.stderr or stream is sys.__stderr__:
        return True
    try:
        return stream.fileno() == 2
    except (AttributeError, OSError, ValueError):
        return False


def _page_widget_opened(comm: Any, msg: dict) -> None:
    data = msg.get("content", {}).get("data") if isinstance(msg, dict) else None
    state = data.get("state") if isinstance(data, dict) else None
    model = state.get("_model_name") if isinstance(state, dict) else None
    if model in PAGE_MAY_CREATE:
        widgets.Widget.handle_comm_opened(comm, msg)
        return
    _reject_open(f"to create a widget {model!r}")
    comm.close()


def _reject_open(model: Any) -> None:
    global _rejected
    _rejected += 1
    if _rejected <= MAX_LOGGED:
        log.warning("refused what the page asked for (%.60r)", model)


def _guarded(widget: widgets.Widget) -> Callable[[dict], None]:
    def handle(msg: dict) -> None:
        data = msg.get("content", {}).get("data") if isinstance(msg, dict) else None
        method = data.get("method") if isinstance(data, dict) else None
        if method not in ("update", "request_state", "custom") or (
            method == "update" and not isinstance(data.get("state", {}), dict)
        ):
            _reject(widget, f"a message with method {method!r}")
            return
        if msg.get("buffers") and not isinstance(widget, TAKES_BUFFERS):
            _reject(widget, "binary buffers")
            return
        shell = get_ipython()
        if shell is None:  # no kernel: ipywidgets logs the error itself
            widget._handle_msg(msg)
            return
        # While the message is handled, showtraceback() writes to the log instead of the page.
        shell.showtraceback = log_instead
        try:
            widget._handle_msg(msg)
        finally:
            del shell.showtraceback  # the class's method again

    def log_instead(*args: Any, **kwargs: Any) -> None:
        _reject(widget, "a message it could not handle", exc_info=True)

    return handle


def _reject(widget: widgets.Widget, what: str, exc_info: bool = False) -> None:
    global _rejected
    _rejected += 1
    if _rejected <= MAX_LOGGED:
        log.warning("%s dropped %s from the browser", type(widget).__name__, what, exc_info=exc_info)


def _widget_tree(roots: Sequence[widgets.Widget]) -> Iterator[widgets.Widget]:
    """``roots`` and every widget they hold in a trait (children, layout, style...), once each."""
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        widget = stack.pop()
        if id(widget) in seen:
            continue
        seen.add(id(widget))
        yield widget
        for name in widget.keys:
            value = getattr(widget, name, None)
            items = value if isinstance(value, tuple | list) else (value,)
            stack.extend(item for item in items if isinstance(item, widgets.Widget))


# --- what a page sends, delivered as the kernel delivers it (for tests) ------------------------


def receive(widget: widgets.Widget, data: Any, buffers: Sequence[bytes] = ()) -> None:
    """Deliver ``data`` to ``widget`` as the kernel delivers a ``comm_msg`` from a page."""
    msg = {"content": {"comm_id": widget.comm.comm_id, "data": data}, "buffers": list(buffers)}
    widget.comm.handle_msg(msg)


def file_chosen(name: str, data: bytes, mime: str = "image/png") -> tuple[dict, list[bytes]]:
    """The message (and its buffer) a page sends a ``FileUpload`` when a file is chosen: for ``receive``."""
    entry = {"name": name, "type": mime, "size": len(data), "last_modified": 0, "content": None}
    state = {"value": [entry]}
    return {"method": "update", "state": state, "buffer_paths": [["value", 0, "content"]]}, [data]


def click(button: widgets.Button) -> None:
    """What a page sends when ``button`` is clicked."""
    receive(button, {"method": "custom", "content": {"event": "click"}})
