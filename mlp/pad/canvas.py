"""The pad's canvas: the one module that knows ipycanvas's internals (an upgrade breaks this file only).

ipycanvas's page code sends each pointer event as a comm message, and its
Python side indexes the message without looking: a mouse event without
``x``, ``touches`` that is ``None``, coordinates that are NaN (the kernel's
JSON parser accepts ``NaN`` and ``Infinity``) raise, and a crafted client can
send any of them. ``PadCanvas`` replaces that dispatch with one that checks
each event first and turns mouse and touch alike into pointer events with
finite coordinates; anything else is dropped. It also paints what the pad
needs (a dot, a segment, the whole drawing in one batch), so that the pad
itself never calls ipycanvas.

For tests, ``canvas_event`` sends what the page code sends, and
``recorded_commands`` shows what the canvas would paint in the page.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import ipycanvas.canvas
import ipywidgets as widgets
from ipycanvas import Canvas, hold_canvas

from mlp.pad.frontend import receive

__all__ = ["PadCanvas", "canvas_event", "recorded_commands"]

Point = tuple[float, float]
PointerHandler = Callable[[str, float, float], None]
# Coordinates are clamped to this many canvas sides around the canvas: a pointer
# released outside reports where it was, which may be past the edge, never far.
MARGIN = 1.0


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
        """The widgets the page talks to for this canvas, for ``guard``.

        The canvas, its picture, and the manager that ipycanvas sends every
        canvas's drawing commands through.
        """
        return self, self._picture, self._canvas_manager

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
