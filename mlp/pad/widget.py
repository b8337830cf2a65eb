"""DigitPad: draw a digit and watch the network read it, live.

The pad is a canvas in the browser, but the drawing that the network reads
lives in Python: every pointer event adds a point to a stroke, which
``StrokeRaster`` paints into a NumPy image as it arrives. Reading the canvas's
pixels back from the browser would cost a slow and unreliable PNG round trip;
this way a prediction is a sub-millisecond computation, and everything can be
tested without a browser by calling the same handlers a browser would.

While the pointer moves, the network reads the drawing at most once every
``min_interval`` seconds, whatever it is at that moment: events are handled in
order and none of them queues a prediction, so a fast scribble never leaves a
backlog of stale work. Releasing the pointer always reads the final drawing.
"""

from __future__ import annotations

import functools
import html
import time
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
from ipycanvas import Canvas, hold_canvas

from mlp.nn.network import Sequential
from mlp.pad.preprocess import MAX_FILE_BYTES, EmptyDrawingError, ImageFileError, preprocess_digit, read_image
from mlp.pad.rasterize import StrokeRaster
from mlp.pad.view import STYLE, UNSURE_BELOW, bars_html, png, preview_png, result_html
from mlp.training.model_io import load_model

__all__ = ["MAX_UPLOAD_BYTES", "UNSURE_BELOW", "DigitPad"]

SIZE = 280  # the pad's side on screen, in CSS pixels
PIXEL_RATIO = 2  # canvas pixels per CSS pixel, so that strokes stay crisp on HiDPI screens
# A 22-pixel-wide brush on a digit about 200 pixels tall is what MNIST looks like:
# strokes about 2 pixels wide on a digit 20 pixels tall.
BRUSH_RADIUS = 11 * PIXEL_RATIO  # canvas pixels
MIN_INTERVAL = 0.04  # seconds between live predictions while drawing
# Larger files must still reach the kernel to be refused with a message: voila.json lets the
# browser send up to 64 MiB (Tornado's default, 10 MiB, would drop the connection silently).
MAX_UPLOAD_BYTES = MAX_FILE_BYTES


def _reporting_errors(handler: Callable[..., None]) -> Callable[..., None]:
    """Widget callbacks run in the kernel, where an exception is printed where nobody looks: show it."""

    @functools.wraps(handler)
    def wrapper(self: DigitPad, *args: Any) -> None:
        try:
            handler(self, *args)
        except Exception as e:
            self._say(f"Something went wrong ({type(e).__name__}: {e}). Clear and try again.", error=True)

    return wrapper


class DigitPad(widgets.VBox):
    """Draw a digit with mouse or finger; see the network's answer, its ten probabilities and its input.

    ``model`` is any trained network with 784 inputs and 10 classes (by
    default the course's shipped model), so you can draw against the one you
    just trained: ``DigitPad(model=my_model)``.
    """

    def __init__(self, model: Sequential | None = None, *, min_interval: float = MIN_INTERVAL) -> None:
        super().__init__()
        self.model = load_model() if model is None else model
        if (self.model.n_inputs, self.model.n_classes) != (784, 10):
            raise ValueError(
                f"DigitPad needs a network from 784 pixels to 10 digits, got "
                f"{self.model.n_inputs} inputs and {self.model.n_classes} classes"
            )
        self.min_interval = float(min_interval)
        self.raster = StrokeRaster(SIZE * PIXEL_RATIO, SIZE, BRUSH_RADIUS)
        self.uploaded: np.ndarray | None = None  # a grayscale upload shown instead of strokes
        self.network_input: np.ndarray | None = None  # (28, 28), what the network last read
        self.probabilities: np.ndarray | None = None  # (10,)
        self._drawing = False
        self._last_update = -np.inf

        side = SIZE * PIXEL_RATIO
        self.canvas = Canvas(
            width=side, height=side, layout=widgets.Layout(width=f"{SIZE}px", height=f"{SIZE}px")
        )
        self.canvas.add_class("dp-canvas")
        self.result, self.bars, self.status = widgets.HTML(), widgets.HTML(), widgets.HTML()
        self.preview = widgets.Image(format="png")
        self.preview.add_class("dp-preview")
        fit = widgets.Layout(width="auto", flex="1 1 auto")
        self.clear_button = widgets.Button(
            description="Clear", icon="eraser", tooltip="Start again", layout=fit
        )
        self.undo_button = widgets.Button(
            description="Undo", icon="undo", tooltip="Remove the last stroke", layout=fit
        )
        self.upload = widgets.FileUpload(
            accept="image/png,image/jpeg,.png,.jpg,.jpeg",
            description="Upload image",
            tooltip=f"A PNG or JPEG of a handwritten digit, up to {MAX_UPLOAD_BYTES // 1_000_000} MB",
            layout=fit,
        )
        self.upload.add_class("dp-upload")
        # Said under the button, not only in its tooltip: touch screens show no tooltips.
        self.upload_hint = widgets.HTML(
            f'<div class="dp-hint">PNG or JPEG, up to {MAX_UPLOAD_BYTES // 1_000_000} MB</div>',
            layout=widgets.Layout(width=f"{SIZE}px", margin="2px 0 0 0"),  # right-aligned with the button
        )
        self._upload_picture = widgets.Image(format="png")  # the upload, as drawn on the canvas

        self.canvas.on_client_ready(self._repaint)  # before a browser connects, paint would be lost
        self.canvas.on_mouse_down(self._on_down)
        self.canvas.on_mouse_move(self._on_move)
        self.canvas.on_mouse_up(self._on_up)
        self.canvas.on_mouse_out(self._on_up)  # releasing outside the canvas fires only this
        self.canvas.on_touch_start(self._on_touch_start)
        self.canvas.on_touch_move(self._on_touch_move)
        self.canvas.on_touch_end(self._on_touch_end)
        self.canvas.on_touch_cancel(self._on_touch_end)
        self.clear_button.on_click(lambda _: self.clear())
        self.undo_button.on_click(lambda _: self.undo())
        self.upload.observe(self._on_upload, "value")

        self.children = self._layout()
        self._update()

    def _layout(self) -> list[widgets.Widget]:
        """Three columns: the pad and its buttons, the answer, what the network sees."""
        buttons = widgets.HBox(
            [self.clear_button, self.undo_button, self.upload],
            layout=widgets.Layout(width=f"{SIZE}px", margin="10px 0 0 0"),
        )
        pad = widgets.VBox([self.canvas, buttons, self.upload_hint, self.status])
        answer = widgets.VBox([self.result, self.bars], layout=widgets.Layout(width="240px"))
        title = widgets.HTML('<div class="dp-title">What the network sees (28 × 28)</div>')
        note = widgets.HTML(
            '<div class="dp-note">Each square is one of its 784 inputs:<br>black is 0, white is 1.</div>'
        )
        row = widgets.HBox([pad, answer, widgets.VBox([title, self.preview, note])])
        row.add_class("dp-root")
        return [widgets.HTML(STYLE), row]

    # --- what a pointer does -------------------------------------------------------------------

    @_reporting_errors
    def _on_down(self, x: float, y: float) -> None:
        if self.uploaded is not None:
            self._reset()
        self._say("")
        self._drawing = True
        self.raster.start(x, y)
        self.canvas.fill_circle(x, y, BRUSH_RADIUS)
        self._changed()

    @_reporting_errors
    def _on_move(self, x: float, y: float) -> None:
        if not self._drawing:  # the canvas reports moves with no button pressed too
            return
        last = self.raster.extend(x, y)
        if last is not None:
            self.canvas.stroke_line(*last, x, y)
            self._changed()

    @_reporting_errors
    def _on_up(self, x: float, y: float) -> None:
        if self._drawing:
            self._on_move(x, y)
            self._end_stroke()

    def _on_touch_start(self, touches: list[tuple[float, float]]) -> None:
        if touches and not self._drawing:  # a second finger does not start a second stroke
            self._on_down(*touches[0])

    def _on_touch_move(self, touches: list[tuple[float, float]]) -> None:
        if touches:
            self._on_move(*touches[0])

    @_reporting_errors
    def _on_touch_end(self, _fingers_still_down: list[tuple[float, float]]) -> None:
        # The stroke ended where the last move was: this event only lists the fingers still down.
        self._end_stroke()

    def _end_stroke(self) -> None:
        if self._drawing:
            self._drawing = False
            self._changed(now=True)  # the final drawing is always read

    @_reporting_errors
    def _on_upload(self, change: dict[str, Any]) -> None:
        if not change["new"]:
            return
        file = change["new"][0]
        self.upload.value = ()  # forget it, so that choosing the same file again is noticed
        self.show_image_file(file["name"], bytes(file["content"]))

    # --- actions -------------------------------------------------------------------------------

    def draw(self, strokes: Sequence[Sequence[tuple[float, float]]]) -> None:
        """Draw ``strokes``, lists of ``(x, y)`` canvas pixels, through the same handlers as a mouse."""
        for stroke in strokes:
            self._on_down(*stroke[0])
            for x, y in stroke[1:]:
                self._on_move(x, y)
            self._on_up(*stroke[-1])

    @_reporting_errors
    def clear(self) -> None:
        self._reset()
        self._say("")
        self._update()

    @_reporting_errors
    def undo(self) -> None:
        """Remove the last stroke (or the uploaded image)."""
        if self.uploaded is not None:
            self._reset()
        elif self.raster.undo():
            self._repaint()
        self._say("")
        self._update()

    def show_image_file(self, name: str, data: bytes) -> None:
        """Classify an uploaded PNG or JPEG; anything else gets a message and changes nothing."""
        if len(data) > MAX_UPLOAD_BYTES:
            self._say(
                f"{name} is {len(data) / 1e6:.1f} MB; images up to {MAX_UPLOAD_BYTES / 1e6:.0f} MB please.",
                error=True,
            )
            return
        try:
            gray = read_image(data)
            preprocess_digit(gray)  # fail here, before the current drawing is replaced
        except (ImageFileError, EmptyDrawingError) as e:
            self._say(f"Cannot use {name}: {e}.", error=True)
            return
        self._reset()
        self.uploaded = gray
        self._upload_picture.value = png(gray, max_side=SIZE * PIXEL_RATIO)  # no more than the canvas shows
        self._repaint()
        self._update()
        self._say(f"Reading {name}. Draw on the pad to start again.")

    @property
    def prediction(self) -> tuple[int, float] | None:
        """``(digit, probability)`` of the network's current answer, ``None`` with nothing to read."""
        if self.probabilities is None:
            return None
        digit = int(self.probabilities.argmax())
        return digit, float(self.probabilities[digit])

    # --- internals -----------------------------------------------------------------------------

    def _changed(self, *, now: bool = False) -> None:
        if now or time.monotonic() - self._last_update >= self.min_interval:
            self._update()

    def _update(self) -> None:
        """Read the current drawing (or upload) with the network and show the answer."""
        self._last_update = time.monotonic()
        try:
            x = preprocess_digit(self.uploaded if self.uploaded is not None else self.raster.image)
        except EmptyDrawingError:
            x = None
        self.network_input = x
        self.probabilities = None if x is None else self.model.predict_proba(x)
        strokes = len(self.raster.strokes) - self._drawing  # finished strokes only
        self.result.value = result_html(self.probabilities, strokes)
        self.bars.value = bars_html(self.probabilities)
        self.preview.value = preview_png(x)

    def _reset(self) -> None:
        self.raster.clear()
        self.uploaded, self._drawing = None, False
        self._repaint()

    @_reporting_errors
    def _repaint(self) -> None:
        """Paint the whole pad: black, then the upload or every stroke (also when a page connects)."""
        c, side = self.canvas, SIZE * PIXEL_RATIO
        with hold_canvas():
            c.fill_style = "black"
            c.fill_rect(0, 0, side, side)
            c.fill_style = c.stroke_style = "white"
            c.line_width, c.line_cap, c.line_join = 2 * BRUSH_RADIUS, "round", "round"
            if self.uploaded is not None:
                height, width = self.uploaded.shape
                scale = side / max(height, width)
                w, h = width * scale, height * scale
                c.draw_image(self._upload_picture, (side - w) / 2, (side - h) / 2, w, h)
            for stroke in self.raster.strokes:
                c.fill_circle(*stroke[0], BRUSH_RADIUS)
                if len(stroke) > 1:
                    c.stroke_lines(stroke)

    def _say(self, message: str, *, error: bool = False) -> None:
        css = "dp-error" if error else "dp-info"
        self.status.value = f'<div class="{css}">{html.escape(message)}</div>' if message else ""
