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
import io
import time
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
from ipycanvas import Canvas, hold_canvas
from PIL import Image

from mlp.model_io import load_model
from mlp.network import Sequential
from mlp.preprocess import EmptyDrawingError, ImageFileError, preprocess_digit, read_image
from mlp.rasterize import StrokeRaster

SIZE = 280  # the pad's side on screen, in CSS pixels
PIXEL_RATIO = 2  # canvas pixels per CSS pixel, so that strokes stay crisp on HiDPI screens
# A 22-pixel-wide brush on a digit about 200 pixels tall is what MNIST looks like:
# strokes about 2 pixels wide on a digit 20 pixels tall.
BRUSH_RADIUS = 11 * PIXEL_RATIO  # canvas pixels
# Below this top probability the pad says "not sure". On the MNIST test set, the
# shipped model's answers below 80 % confidence are right only about 2 times in 3
# (above it, 99.5 % are): tests/test_draw.py measures it again.
UNSURE_BELOW = 0.8
MIN_INTERVAL = 0.04  # seconds between live predictions while drawing
MAX_UPLOAD_BYTES = 5_000_000
PREVIEW_CELL = 6  # screen pixels per input pixel in "what the network sees"

STYLE = """<style>
.dp-root { font-family: system-ui, sans-serif; color: #222; gap: 24px; align-items: flex-start; }
.dp-canvas { border-radius: 10px; box-shadow: 0 1px 6px rgba(0,0,0,.35); cursor: crosshair; }
.dp-result { width: 230px; text-align: center; }
.dp-digit { font-size: 96px; font-weight: 700; line-height: 1.05; color: #1565c0; }
.dp-unsure .dp-digit, .dp-empty .dp-digit { color: #9e9e9e; }
.dp-caption { font-size: 16px; color: #555; min-height: 2.6em; }
.dp-row { display: flex; align-items: center; gap: 8px; font: 14px/20px ui-monospace, monospace; }
.dp-track { flex: 1; height: 12px; background: #eceff1; border-radius: 6px; overflow: hidden; }
.dp-fill { display: block; height: 100%; background: #90caf9; transition: width 60ms linear; }
.dp-top .dp-fill { background: #1565c0; }
.dp-top { font-weight: 700; }
.dp-p { width: 3.2em; text-align: right; color: #555; }
.dp-title { font-size: 14px; color: #555; margin-bottom: 6px; }
.dp-preview img, img.dp-preview { image-rendering: pixelated; border-radius: 4px; }
.dp-error { color: #c62828; font-weight: 600; width: 280px; }
/* FileUpload always appends its file count, "(0)", to the label: show our label instead. */
.dp-upload.widget-upload { font-size: 0; }
.dp-upload.widget-upload i { font-size: var(--jp-widgets-font-size, 13px); margin-right: 4px; }
.dp-upload.widget-upload::after { content: "Upload image"; font-size: var(--jp-widgets-font-size, 13px); }
.dp-info { color: #666; }
</style>"""


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
        self.result.add_class("dp-result-box")
        self.preview = widgets.Image(format="png")
        self.preview.add_class("dp-preview")
        fit = widgets.Layout(width="auto", flex="1 1 auto")
        self.clear_button = widgets.Button(description="Clear", icon="eraser", layout=fit)
        self.undo_button = widgets.Button(description="Undo", icon="undo", layout=fit)
        self.upload = widgets.FileUpload(
            accept="image/png,image/jpeg,.png,.jpg,.jpeg", description="Upload image", layout=fit
        )
        self.upload.add_class("dp-upload")
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

        buttons = widgets.HBox(
            [self.clear_button, self.undo_button, self.upload], layout=widgets.Layout(width=f"{SIZE}px")
        )
        seen = widgets.VBox(
            [widgets.HTML('<div class="dp-title">What the network sees (28 × 28)</div>'), self.preview]
        )
        answer = widgets.VBox([self.result, self.bars], layout=widgets.Layout(width="240px"))
        pad = widgets.VBox([self.canvas, buttons, self.status])
        row = widgets.HBox([pad, answer, seen])
        row.add_class("dp-root")
        self.children = [widgets.HTML(STYLE), row]
        self._update()

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
        self._upload_picture.value = _png(gray)
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
        self.result.value = _result_html(self.probabilities, strokes)
        self.bars.value = _bars_html(self.probabilities)
        self.preview.value = _preview_png(x)

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


def _percent(p: float) -> str:
    return "&gt;99%" if p > 0.99 else f"{p:.0%}"  # rounding 99.7 % up to 100 % would overclaim


def _result_html(probabilities: np.ndarray | None, strokes: int) -> str:
    if probabilities is None:
        state, digit, caption = "empty", "✎", "Draw a digit, 0 to 9, in the black square"
    else:
        first, second = np.argsort(probabilities)[::-1][:2]
        top = probabilities[first]
        if top >= UNSURE_BELOW:
            state, digit, caption = "sure", str(first), f"{_percent(top)} sure"
        else:
            state, digit = "unsure", "?"
            caption = f"Not sure: {first} ({_percent(top)}) or {second} ({_percent(probabilities[second])})?"
    return (
        f'<div class="dp-result dp-{state}" data-state="{state}" data-strokes="{strokes}">'
        f'<div class="dp-digit">{digit}</div><div class="dp-caption">{caption}</div></div>'
    )


def _bars_html(probabilities: np.ndarray | None) -> str:
    p = np.zeros(10) if probabilities is None else probabilities
    top = -1 if probabilities is None else int(p.argmax())
    rows = [
        f'<div class="dp-row{" dp-top" if d == top else ""}" data-digit="{d}"><span>{d}</span>'
        f'<span class="dp-track"><span class="dp-fill" style="width:{100 * p[d]:.1f}%"></span></span>'
        f'<span class="dp-p">{"" if probabilities is None else _percent(p[d])}</span></div>'
        for d in range(10)
    ]
    return "".join(rows)


def _preview_png(x: np.ndarray | None) -> bytes:
    """The 28×28 input enlarged, with a faint grid so that each of its pixels is visible."""
    pixels = np.zeros((28, 28), dtype=np.uint8) if x is None else np.round(x * 255).astype(np.uint8)
    big = np.repeat(np.repeat(pixels, PREVIEW_CELL, axis=0), PREVIEW_CELL, axis=1)  # (168, 168)
    big = np.pad(big, ((0, 1), (0, 1)))  # room to close the grid on the right and bottom
    big[::PREVIEW_CELL] = big[:, ::PREVIEW_CELL] = 48
    return _png(big)


def _png(gray: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(gray).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
