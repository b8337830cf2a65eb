"""The pad's border with the browser: every message from a page is checked here, before the pad sees it.

A visitor's browser talks to the kernel through comm messages, and anyone can
open that connection and send whatever JSON they like: a mouse event without
``x``, ``touches`` that is ``None``, coordinates that are NaN (the kernel's JSON
parser accepts ``NaN`` and ``Infinity``), an upload whose value is not a file.
ipycanvas and ipywidgets index such messages without checking them, and when
that raises, ipywidgets hands the exception to ``get_ipython().showtraceback()``,
which sends the traceback, server paths included, down the websocket.

So this module is the one place that knows how ipycanvas and ipywidgets
deliver events (a library upgrade breaks this file, nothing else):

* ``PadCanvas`` turns canvas messages into checked pointer events, mouse and
  touch alike: ``down``/``move``/``up`` with finite coordinates, or ``end``
  (the stroke ends without a point). Anything else is dropped.
* ``uploaded_file`` reads a ``FileUpload`` value, or says it is not one.
* ``guard`` wraps the message handler of every widget of the pad, so that a
  message that still makes ipywidgets fail is logged for whoever runs the
  server and never reaches the visitor as a traceback.
* ``receive`` and ``canvas_event`` deliver a message as the kernel does, so
  that tests drive the pad exactly as a browser (or an attacker) would, and
  ``recorded_commands`` shows what the canvas would paint in the page.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import ipywidgets as widgets
import ipycanvas.canvas
from ipycanvas import Canvas, hold_canvas

__all__ = [
    "PadCanvas",
    "canvas_event",
    "click",
    "file_chosen",
    "guard",
    "receive",
    "recorded_commands",
    "rejected_messages",
    "uploaded_file",
]

log = logging.getLogger(__name__)
Point = tuple[float, float]
PointerHandler = Callable[[str, float, float], None]
# Coordinates are clamped to this many canvas sides around the canvas: a pointer
# released outside reports where it was, which may be past the edge, never far.
MARGIN = 1.0
MAX_LOGGED = 20  # tracebacks of rejected messages written to the server's log; then only counted

_rejected = 0


def rejected_messages() -> int:
    """How many browser messages this kernel dropped because ipywidgets could not handle them."""
    return _rejected


class PadCanvas(Canvas):
    """A square ipycanvas ``Canvas`` of ``side`` pixels that reports checked pointer events.

    Register one handler with ``on_pointer(handler)``: it is called as
    ``handler(kind, x, y)`` with ``kind`` one of ``"down"``, ``"move"``,
    ``"up"`` (x and y finite, in canvas pixels) or ``"end"`` (a stroke ends
    where it last was; x and y are NaN). A touch screen's first finger draws;
    further fingers are ignored.
    """

    def __init__(self, side: int, **kwargs: Any) -> None:
        super().__init__(width=side, height=side, **kwargs)
        self.side = side
        self._pointer: PointerHandler | None = None
        self._ready: Callable[[], None] | None = None
        self._picture = widgets.Image(format="png")  # ipycanvas draws images from Image widgets
        self._picture_size: tuple[int, int] | None = None  # (width, height), None: no picture

    def on_pointer(self, handler: PointerHandler) -> None:
        self._pointer = handler

    def on_ready(self, handler: Callable[[], None]) -> None:
        """``handler()`` runs each time a page connects: its canvas is blank until painted again."""
        self._ready = handler

    @property
    def parts(self) -> tuple[widgets.Widget, ...]:
        """The widgets the page talks to for this canvas (for ``guard``)."""
        return self, self._picture

    # --- painting (ipycanvas's public drawing API, batched) ---------------------------------

    def set_picture(self, png: bytes | None, size: tuple[int, int] | None = None) -> None:
        """The PNG shown under the strokes from the next ``repaint`` on, ``size`` its (width, height)."""
        self._picture_size = None if png is None else size
        self._picture.value = b"" if png is None else png

    def dot(self, x: float, y: float, radius: float) -> None:
        self.fill_circle(x, y, radius)

    def segment(self, start: Point, end: Point) -> None:
        self.stroke_line(*start, *end)

    def repaint(self, strokes: Sequence[Sequence[Point]], radius: float) -> None:
        """Black, then the picture fitted in the middle, then every stroke: one message to the page.

        Nothing in the batch can raise (the points were checked on arrival):
        ``hold_canvas`` would stay stuck holding every later command if it did.
        """
        side = self.side
        with hold_canvas():
            self.fill_style = "black"
            self.fill_rect(0, 0, side, side)
            self.fill_style = self.stroke_style = "white"
            self.line_width, self.line_cap, self.line_join = 2 * radius, "round", "round"
            if self._picture_size is not None:
                width, height = self._picture_size
                scale = side / max(width, height)
                w, h = width * scale, height * scale
                self.draw_image(self._picture, (side - w) / 2, (side - h) / 2, w, h)
            for stroke in strokes:
                self.fill_circle(*stroke[0], radius)
                if len(stroke) > 1:
                    self.stroke_lines(stroke)

    # --- what the page sends ----------------------------------------------------------------

    def _handle_frontend_event(self, _widget: Any, content: Any, _buffers: Any) -> None:
        """Replaces ipycanvas's dispatcher, which indexes the message without looking."""
        if not isinstance(content, dict):
            return
        event = content.get("event")
        if event == "client_ready":
            if self._ready is not None:
                self._ready()
            return
        kind_point = self._pointer_event(event, content)
        if kind_point is not None and self._pointer is not None:
            self._pointer(*kind_point)

    def _pointer_event(self, event: Any, content: dict) -> tuple[str, float, float] | None:
        nowhere = math.nan
        if event in ("mouse_down", "mouse_move", "mouse_up", "mouse_out"):
            point = self._point(content)
            kind = {"mouse_down": "down", "mouse_move": "move"}.get(event, "up")
            if point is None:  # a release without a usable point still ends the stroke
                return ("end", nowhere, nowhere) if kind == "up" else None
            return (kind, *point)
        if event in ("touch_end", "touch_cancel"):
            # These list the fingers still down, not where the stroke ended: it ends where it was.
            return "end", nowhere, nowhere
        if event in ("touch_start", "touch_move"):
            touches = content.get("touches")
            if not isinstance(touches, list) or not touches:
                return None
            if event == "touch_start" and len(touches) > 1:
                return None  # a second finger does not start a second stroke
            point = self._point(touches[0])
            return None if point is None else ("down" if event == "touch_start" else "move", *point)
        return None  # the wheel, keys, and anything unknown: the pad does not use them

    def _point(self, content: Any) -> Point | None:
        """``(x, y)`` if both are finite numbers, clamped to the canvas and a margin around it."""
        if not isinstance(content, dict):
            return None
        low, high = -MARGIN * self.side, (1 + MARGIN) * self.side
        point = []
        for key in ("x", "y"):
            value = content.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                return None
            point.append(min(max(float(value), low), high))
        return point[0], point[1]


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
    for widget in _widget_tree(roots):
        if widget.comm is not None:
            widget.comm.on_msg(_guarded(widget))


def _guarded(widget: widgets.Widget) -> Callable[[dict], None]:
    def handle(msg: dict) -> None:
        data = msg.get("content", {}).get("data") if isinstance(msg, dict) else None
        method = data.get("method") if isinstance(data, dict) else None
        if method not in ("update", "request_state", "custom") or (
            method == "update" and not isinstance(data.get("state", {}), dict)
        ):
            _reject(widget, f"a message with method {method!r}")
            return
        with _tracebacks_logged(widget):
            widget._handle_msg(msg)

    return handle


@contextlib.contextmanager
def _tracebacks_logged(widget: widgets.Widget) -> Iterator[None]:
    """While a browser message is handled, ``showtraceback()`` writes to the log instead of the page."""
    from IPython import get_ipython  # a dependency of ipywidgets

    shell = get_ipython()
    if shell is None:  # no kernel: ipywidgets logs the error itself
        yield
        return
    shell.showtraceback = lambda *args, **kwargs: _reject(widget, "a message it could not handle", True)
    try:
        yield
    finally:
        del shell.showtraceback  # the class's method again


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


# --- what a browser sends, delivered as the kernel delivers it (for tests) ---------------------


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


def canvas_event(canvas: Canvas, **content: Any) -> None:
    """What ipycanvas's page code sends for an event: ``canvas_event(c, event="mouse_up", x=1, y=2)``."""
    receive(canvas, {"method": "custom", "content": content})


@contextlib.contextmanager
def recorded_commands() -> Iterator[list[tuple[str, list]]]:
    """Within the block, canvases record their drawing commands instead of sending them to the page.

    Each is ``(name, args)``, e.g. ``("fillRect", [0, 0, 560, 560])``, and
    attributes are named: ``("set", ["fill_style", "black"])``.
    """
    names = {code: name for name, code in ipycanvas.canvas.COMMANDS.items()}
    attributes = {code: name for name, code in Canvas.ATTRS.items()}
    manager, sent = ipycanvas.canvas._CANVAS_MANAGER, []

    def record(_canvas: Canvas, command: list, _buffers: Any = ()) -> None:
        name, args = names[command[0]], list(command[1])
        sent.append((name, [attributes[args[0]], *args[1:]] if name == "set" else args))

    manager.send_command = record  # an instance attribute: it hides the class's method
    try:
        yield sent
    finally:
        del manager.send_command
