"""DigitPad: draw a digit and watch the network read it, live; correct it, and teach it your handwriting.

The pad is a canvas in the browser, but the drawing that the network reads
lives in Python: every pointer event adds a point to a stroke, which
``StrokeRaster`` paints into a NumPy image as it arrives. Reading the canvas's
pixels back from the browser would cost a slow and unreliable PNG round trip;
this way a prediction is a sub-millisecond computation, and everything can be
tested without a browser by sending the same messages a browser would
(``mlp.pad.canvas`` and ``mlp.pad.frontend`` check each one first).

While the pointer moves, the network reads the drawing at most once every
``min_interval`` seconds, whatever it is at that moment: events are handled in
order and none of them queues a prediction, so a fast scribble never leaves a
backlog of stale work. Releasing the pointer always reads the final drawing.

Teaching (``mlp.pad.teach``) runs on a worker thread while the pad keeps
answering; a lock makes each event, and the swap to the taught model, happen
whole. The pad says whose network is reading ("Network: yours
(my-model.npz)", from the model file's ``made_by``), and says so plainly when
a drawing does not look like one digit to it (``mlp.pad.familiar``).
"""

from __future__ import annotations

import html
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import numpy as np

from mlp.nn.network import Sequential
from mlp.pad import familiar, frontend
from mlp.pad.callbacks import callback
from mlp.pad.canvas import PadCanvas
from mlp.pad.layout import STYLE, box, button, upload_button
from mlp.pad.preprocess import MAX_FILE_BYTES, EmptyDrawingError, ImageFileError, preprocess_digit, read_image
from mlp.pad.rasterize import BRUSH_RADIUS, PIXEL_RATIO, SIZE, StrokeRaster
from mlp.pad.teach import TeachPanel
from mlp.pad.view import (
    UNSURE_BELOW,
    bars_html,
    display_name,
    network_html,
    owner,
    png,
    preview_png,
    result_html,
)
from mlp.training.model_io import default_model_path, load_model

__all__ = ["BRUSH_RADIUS", "MAX_UPLOAD_BYTES", "PIXEL_RATIO", "SIZE", "UNSURE_BELOW", "DigitPad"]

MIN_INTERVAL = 0.04  # seconds between live predictions while drawing
# Larger files must still reach the kernel to be refused with a message: voila.json lets the
# browser send up to 64 MiB (Tornado's default, 10 MiB, would drop the connection silently).
MAX_UPLOAD_BYTES = MAX_FILE_BYTES


class DigitPad(widgets.VBox):
    """Draw a digit with mouse or finger; see the network's answer, its ten probabilities and its input.

    ``model`` is any trained network with 784 inputs and 10 classes, or the
    path of its model file (by default the course's shipped model), so you
    can draw against the one you trained: ``DigitPad(model="my-model.npz")``
    or ``DigitPad(model=my_model)``; the pad's Load model button does the same
    from the page. ``examples`` is an examples file (``.npz``, as the pad's
    Examples button saves) to start from.

    When it misreads a drawing, tap the digit it really is (``add_example``),
    then Teach (``learn``): the network is fine-tuned on your examples, with
    MNIST replayed so that it keeps what it knew. Forget (``reset_model``)
    goes back to the network the pad started with.
    """

    def __init__(
        self,
        model: Sequential | str | os.PathLike[str] | None = None,
        *,
        min_interval: float = MIN_INTERVAL,
        examples: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__()
        if model is None or isinstance(model, str | os.PathLike):
            path = default_model_path() if model is None else Path(model)
            model, self.model_file = load_model(path), path.name
        else:
            self.model_file = None  # given in code: no file to name
        if (model.n_inputs, model.n_classes) != (784, 10):
            raise ValueError(
                f"DigitPad needs a network from 784 pixels to 10 digits, got "
                f"{model.n_inputs} inputs and {model.n_classes} classes"
            )
        self.model = model
        self.initial_model = model  # what Forget returns to; never modified
        self.taught = 0  # examples the current network was taught on (0: it is initial_model)
        self.familiar = True  # whether the drawing looks like a digit to the network (mlp.pad.familiar)
        self.min_interval = float(min_interval)
        self.raster = StrokeRaster(SIZE * PIXEL_RATIO, SIZE, BRUSH_RADIUS)
        self.uploaded: np.ndarray | None = None  # a grayscale upload shown instead of strokes
        self.network_input: np.ndarray | None = None  # (28, 28), what the network last read
        self.probabilities: np.ndarray | None = None  # (10,)
        self._drawing = False
        self._last_update = -np.inf
        self._lock = threading.RLock()  # see mlp.pad.callbacks; ``lock`` for the teaching panel

        self.canvas = PadCanvas(SIZE * PIXEL_RATIO)
        self.canvas.add_class("dp-canvas")
        self.result, self.bars, self.status = widgets.HTML(), widgets.HTML(), widgets.HTML()
        self.network = widgets.HTML()  # whose network is reading
        self.preview = widgets.Image(format="png")
        self.preview.add_class("dp-preview")
        self.clear_button = button("Clear", "Start again", self.clear, "eraser")
        self.undo_button = button("Undo", "Remove the last stroke", self.undo, "undo")
        mb = MAX_UPLOAD_BYTES // 1_000_000
        tip, accept = (
            f"Upload an image of a digit (PNG or JPEG, up to {mb} MB)",
            "image/png,image/jpeg,.png,.jpg,.jpeg",
        )
        self.upload = upload_button("Upload image", tip, accept, "dp-upload")
        # Said under the button, not only in its tooltip: touch screens show no tooltips.
        self.upload_hint = widgets.HTML(f'<div class="dp-hint">PNG or JPEG, up to {mb} MB</div>')
        self.teach = TeachPanel(self)

        self.canvas.on_ready(self._repaint)  # before a browser connects, paint would be lost
        self.canvas.on_pointer(self._on_pointer)
        self.upload.observe(self._on_upload, "value")

        self.children = self._layout()
        frontend.guard(self, *self.canvas.parts)
        self._update()
        if examples is not None:
            self.teach.load_examples(examples)

    def _layout(self) -> list[widgets.Widget]:
        """Three columns (stacked on a phone): the pad and its buttons, the answer and teaching, the input."""
        buttons = box(widgets.HBox, [self.clear_button, self.undo_button, self.upload], "dp-buttons")
        pad = box(widgets.VBox, [self.canvas, buttons, self.upload_hint, self.status], "dp-pad")
        answer = box(widgets.VBox, [self.result, self.bars, self.network, self.teach], "dp-answer")
        title = widgets.HTML('<div class="dp-title">What the network sees (28 × 28)</div>')
        note = widgets.HTML(
            '<div class="dp-note">Each square is one of its 784 inputs:<br>black is 0, white is 1.</div>'
        )
        seen = box(widgets.VBox, [title, self.preview, note], "dp-seen")
        return [widgets.HTML(STYLE), box(widgets.HBox, [pad, answer, seen], "dp-root")]

    # --- what a pointer does -------------------------------------------------------------------

    @callback
    def _on_pointer(self, kind: str, x: float, y: float) -> None:
        """``kind`` is "down", "move", "up" (at x, y) or "end" (where it was), as ``PadCanvas`` reports."""
        if kind == "down":
            self._start_stroke(x, y)
        elif kind == "move":
            self._extend_stroke(x, y)
        elif self._drawing:  # "up" or "end"
            if kind == "up":
                self._extend_stroke(x, y)
            self._drawing = False
            self._changed(now=True)  # the final drawing is always read

    def _start_stroke(self, x: float, y: float) -> None:
        if self.uploaded is not None:
            self._reset()
        self._drawing = False
        if not self.raster.start(x, y):
            self._say("The pad is full: Undo or Clear to draw more.", error=True)
            return
        self._say("")
        self._drawing = True
        self.canvas.dot(x, y, BRUSH_RADIUS)
        self._changed()

    def _extend_stroke(self, x: float, y: float) -> None:
        if not self._drawing:  # the canvas reports moves with no button pressed too
            return
        last = self.raster.extend(x, y)
        if last is not None:
            self.canvas.segment(last, (x, y))
            self._changed()
        elif self.raster.full:
            self._say("That is all the ink the pad holds: lift the pen, or Undo or Clear.")

    @callback
    def _on_upload(self, change: dict[str, Any]) -> None:
        if not change["new"]:
            return
        self.upload.value = ()  # forget it, so that choosing the same file again is noticed
        file = frontend.uploaded_file(change["new"])
        if file is not None:  # None: not what a browser sends
            self.show_image_file(*file)

    # --- actions -------------------------------------------------------------------------------

    def draw(self, strokes: Sequence[Sequence[tuple[float, float]]]) -> None:
        """Draw ``strokes``, lists of ``(x, y)`` canvas pixels, through the same handler as a pointer."""
        for stroke in strokes:
            self._on_pointer("down", *stroke[0])
            for x, y in stroke[1:]:
                self._on_pointer("move", x, y)
            self._on_pointer("up", *stroke[-1])

    @callback
    def clear(self) -> None:
        self._reset()
        self._say("")
        self._update()

    @callback
    def undo(self) -> None:
        """Remove the last stroke (or the uploaded image)."""
        if self.uploaded is not None:
            self._reset()
        elif self.raster.undo():
            self._repaint()
        self._drawing = False
        self._say("")
        self._update()

    @callback
    def show_image_file(self, name: str, data: bytes) -> None:
        """Classify an uploaded PNG or JPEG; anything else gets a message and changes nothing."""
        name = display_name(name)
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
        height, width = gray.shape
        self.canvas.set_picture(
            png(gray, max_side=self.canvas.side), (width, height)
        )  # what the canvas shows
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

    # --- the network -----------------------------------------------------------------------------

    @property
    def lock(self) -> threading.RLock:
        """Held by every entry point (``mlp.pad.callbacks``): teaching swaps the network under it."""
        return self._lock

    @callback
    def use_model(self, model: Sequential, *, taught: int = 0) -> None:
        """Read with ``model`` from now on (taught on ``taught`` examples), and read the drawing again."""
        self.model, self.taught = model, taught
        self._update()

    @callback
    def start_from(self, model: Sequential, filename: str) -> None:
        """Read with ``model``, loaded from ``filename``, and make it what Forget goes back to."""
        self.initial_model, self.model_file = model, filename
        self.use_model(model)

    def load_model(self, path: str | os.PathLike[str]) -> bool:
        """Read with the network in the model file ``path``, as the Load model button does; ``False`` if not.

        A bad file is refused with ``load_model``'s reason, shown on the pad, and changes nothing.
        """
        path = Path(path)
        return bool(self.teach.load_model(path.read_bytes(), display_name(path.name)))

    # --- teaching (mlp.pad.teach does the work) --------------------------------------------------

    def add_example(self, label: int) -> bool:
        """Keep what the network reads now (drawing or upload) as an example of ``label``; ``False`` if not.

        Tapping another digit for the same drawing changes its label instead of adding it twice.
        """
        return self.teach.add_example(label)

    def learn(self, *, wait: bool = False) -> bool:
        """Fine-tune the current model on the examples, on a worker thread; ``False`` if it cannot start.

        The pad keeps answering meanwhile; when done, it reads the drawing
        again with the new model and says what changed. ``wait=True``
        returns only once that is done.
        """
        return self.teach.learn(wait=wait)

    def reset_model(self) -> None:
        """Forget: back to the network the pad started with (or last loaded), and no examples (undoable)."""
        self.teach.forget()

    @property
    def examples(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the examples: images ``(N, 28, 28)`` float32, labels ``(N,)`` int64."""
        return self.teach.arrays()

    def load_examples(self, source: str | os.PathLike[str] | bytes) -> int:
        """Add the examples of an examples file (path or bytes); their number. Bad files raise, naming why."""
        return self.teach.load_examples(source)

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
        if x is None:
            self.probabilities, self.familiar = None, True
        else:
            self.probabilities, energy = familiar.read(self.model, x)
            # Not after Teach: the taught style's drawings have energies as low as a scribble's (see
            # mlp.pad.familiar), and the pad would call the very style it was just taught "not a digit".
            self.familiar = self.taught > 0 or familiar.looks_like_a_digit(energy)
        strokes = len(self.raster.strokes) - self._drawing  # finished strokes only
        self.result.value = result_html(self.probabilities, strokes, familiar=self.familiar)
        self.network.value = network_html(owner(self.initial_model.metadata), self.model_file, self.taught)
        self.bars.value = bars_html(self.probabilities)
        self.preview.value = preview_png(x)
        self.teach.input_changed()

    def _reset(self) -> None:
        self.raster.clear()
        self.uploaded, self._drawing = None, False
        self.canvas.set_picture(None)
        self._repaint()

    @callback
    def _repaint(self) -> None:
        """Paint the whole pad again (also each time a page connects): the upload and every stroke."""
        self.canvas.repaint(self.raster.strokes, BRUSH_RADIUS)

    def _say(self, message: str, *, error: bool = False) -> None:
        css = "dp-error" if error else "dp-info"
        self.status.value = f'<div class="{css}">{html.escape(message)}</div>' if message else ""
