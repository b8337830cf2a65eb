"""What a crafted client can send the pad's kernel, and what it costs: nothing breaks, nothing leaks.

Anyone can open a page's websocket and send comm messages a browser never
would. These tests deliver them exactly as the kernel does
(``mlp.pad.frontend.receive``), inside an IPython shell, where ipywidgets
reports a failing message with ``showtraceback()`` (a kernel sends that to
the page, server paths and all). Each test asserts that no traceback is
shown, that the pad still draws, reads and undoes, and that what one visitor
can make the kernel hold stays within the pad's budget.
"""

from __future__ import annotations

import io
import logging
import math

import ipycanvas
import ipywidgets as widgets
import numpy as np
import pytest
from IPython.core.interactiveshell import InteractiveShell
from PIL import Image

import mlp
from mlp.pad import canvas, frontend
from mlp.pad.rasterize import MAX_INK, MAX_POINTS
from mlp.pad.view import MAX_NAME, display_name
from mlp.pad.widget import DigitPad

ONE = [(290, 100 + 18 * i) for i in range(21)]


@pytest.fixture(scope="module")
def model() -> mlp.Sequential:
    return mlp.load_model()


@pytest.fixture
def tracebacks(monkeypatch) -> list:
    """An IPython shell, as in a kernel, recording the tracebacks it would send to the page."""
    shell = InteractiveShell.instance()
    shown = []
    monkeypatch.setattr(shell, "_showtraceback", lambda etype, value, stb: shown.append(value))
    yield shown
    InteractiveShell.clear_instance()


@pytest.fixture
def pad(model, tracebacks) -> DigitPad:
    """A pad as in the dashboard: it reads a growing drawing at most every 40 ms, and at each release."""
    return DigitPad(model=model)


def stroke(pad: DigitPad, points) -> None:
    canvas.canvas_event(pad.canvas, event="mouse_down", x=points[0][0], y=points[0][1])
    for x, y in points[1:]:
        canvas.canvas_event(pad.canvas, event="mouse_move", x=x, y=y)
    canvas.canvas_event(pad.canvas, event="mouse_up", x=points[-1][0], y=points[-1][1])


def assert_still_works(pad: DigitPad) -> None:
    """The visitor can clear, draw a one, see it read, and undo it."""
    frontend.click(pad.clear_button)
    stroke(pad, ONE)
    assert pad.prediction[0] == 1 and len(pad.raster.strokes) == 1
    frontend.click(pad.undo_button)
    assert pad.raster.empty and pad.prediction is None
    assert "dp-error" not in pad.status.value


def test_without_the_guard_a_crafted_message_sends_a_traceback(tracebacks):
    """The control: what the guard prevents does happen to a plain widget."""
    frontend.receive(widgets.FileUpload(), {"method": "update", "state": {"value": "not a list of files"}})
    canvas.canvas_event(ipycanvas.Canvas(), event="mouse_down", y=10)
    assert [type(e) for e in tracebacks] == [TypeError, KeyError]


CANVAS_MESSAGES = {
    "mouse without x": {"event": "mouse_down", "y": 10},
    "mouse with text": {"event": "mouse_move", "x": "12", "y": 10},
    "mouse with NaN": {"event": "mouse_down", "x": math.nan, "y": 10},
    "mouse with infinity": {"event": "mouse_up", "x": 10, "y": -math.inf},
    "mouse with a bool": {"event": "mouse_down", "x": True, "y": 10},
    "mouse with a list": {"event": "mouse_down", "x": [1], "y": {"a": 1}},
    "touches None": {"event": "touch_start", "touches": None},
    "touches a string": {"event": "touch_move", "touches": "xy"},
    "touch None": {"event": "touch_start", "touches": [None]},
    "touch without y": {"event": "touch_start", "touches": [{"x": 1}]},
    "touch with NaN": {"event": "touch_move", "touches": [{"x": math.nan, "y": 1}]},
    "touch end, touches None": {"event": "touch_end", "touches": None},
    "key without keys": {"event": "key_down"},
    "wheel without deltas": {"event": "mouse_wheel"},
    "unknown event": {"event": "explode"},
    "event a number": {"event": 7},
    "no event": {},
}


@pytest.mark.parametrize("content", CANVAS_MESSAGES.values(), ids=CANVAS_MESSAGES.keys())
def test_malformed_canvas_events_are_dropped(pad, tracebacks, content):
    canvas.canvas_event(pad.canvas, **content)
    assert tracebacks == [] and pad.raster.empty
    assert_still_works(pad)


@pytest.mark.parametrize("content", [None, [1, 2], "mouse_down", 3.5], ids=repr)
def test_canvas_messages_that_are_not_objects_are_dropped(pad, tracebacks, content):
    frontend.receive(pad.canvas, {"method": "custom", "content": content})
    assert tracebacks == []
    assert_still_works(pad)


def test_a_nan_point_in_the_middle_of_a_stroke_breaks_nothing(pad, tracebacks):
    """It used to make every later Undo fail, until Clear."""
    canvas.canvas_event(pad.canvas, event="mouse_down", x=290, y=100)
    for y in (150, math.nan, 200, math.inf):
        canvas.canvas_event(pad.canvas, event="mouse_move", x=290, y=y)
    canvas.canvas_event(pad.canvas, event="mouse_up", x=math.nan, y=math.nan)  # still ends the stroke
    assert pad.raster.strokes == [[(290.0, 100.0), (290.0, 150.0), (290.0, 200.0)]]
    assert not pad._drawing and tracebacks == []
    stroke(pad, ONE)
    frontend.click(pad.undo_button)
    frontend.click(pad.undo_button)
    assert pad.raster.empty and "dp-error" not in pad.status.value
    assert_still_works(pad)


def test_points_far_outside_are_clamped_near_the_canvas(pad):
    side = pad.canvas.side
    stroke(pad, [(-1e300, 1e300), (0, 0)])
    assert pad.raster.strokes[0][0] == (-side * canvas.MARGIN, side * (1 + canvas.MARGIN))


WIDGET_MESSAGES = {
    "no data": None,
    "no method": {"state": {}},
    "unknown method": {"method": "explode"},
    "state a list": {"method": "update", "state": [1, 2]},
    "value a string": {"method": "update", "state": {"value": "not a list of files"}},
    "file without content": {"method": "update", "state": {"value": [{"name": "a.png"}]}},
    "date a string": {
        "method": "update",
        "state": {"value": [{"name": "a", "type": "", "size": 1, "last_modified": "noon", "content": b""}]},
    },
    "buffer missing": {
        "method": "update",
        "state": {"value": [{"name": "a", "type": "", "size": 1, "last_modified": 0, "content": None}]},
        "buffer_paths": [["value", 0, "content"]],
    },
    "name a number": {
        "method": "update",
        "state": {"value": [{"name": 5, "type": "", "size": 1, "last_modified": 0, "content": b"\x89PNG"}]},
    },
    "content text": {
        "method": "update",
        "state": {"value": [{"name": "a.png", "type": "", "size": 1, "last_modified": 0, "content": "PNG"}]},
    },
    "a trait of the wrong type": {"method": "update", "state": {"accept": 12}},
}


@pytest.mark.parametrize("data", WIDGET_MESSAGES.values(), ids=WIDGET_MESSAGES.keys())
def test_malformed_upload_messages_are_dropped(pad, tracebacks, data):
    stroke(pad, ONE)
    frontend.receive(pad.upload, data)
    assert tracebacks == [], tracebacks
    assert pad.uploaded is None and pad.prediction[0] == 1, "the drawing is still there"
    assert_still_works(pad)


def test_every_widget_of_the_pad_is_guarded(model, tracebacks):
    created = []
    widgets.Widget.on_widget_constructed(created.append)
    try:
        pad = DigitPad(model=model)
    finally:
        widgets.Widget.on_widget_constructed(None)
    assert len(created) > 40
    for widget in [*created, *pad.canvas.parts]:  # layouts, styles, buttons, the canvas's picture...
        frontend.receive(widget, {"method": "update", "state": {"layout": 3, "value": [], "children": 9}})
        frontend.receive(widget, {"method": "custom", "content": {"event": "click", "x": math.nan}})
    assert tracebacks == []
    assert_still_works(pad)


def test_rejections_are_logged_for_the_server_a_bounded_number_of_times(pad, caplog, monkeypatch):
    monkeypatch.setattr(frontend, "_rejected", 0)
    with caplog.at_level(logging.WARNING, logger="mlp.pad.frontend"):
        for _ in range(3 * frontend.MAX_LOGGED):
            frontend.receive(pad.upload, {"method": "update", "state": {"value": "nonsense"}})
    assert (
        len(caplog.records) == frontend.MAX_LOGGED and frontend.rejected_messages() == 3 * frontend.MAX_LOGGED
    )
    assert "FileUpload dropped a message it could not handle" in caplog.records[0].getMessage()


# --- what one visitor costs: bounded -------------------------------------------------------------


def test_a_huge_stroke_stops_at_the_point_budget(pad):
    canvas.canvas_event(pad.canvas, event="mouse_down", x=100, y=100)
    for i in range(MAX_POINTS + 500):  # a scribble: back and forth, 5 pixels a move
        canvas.canvas_event(pad.canvas, event="mouse_move", x=100 + 5 * (i % 60), y=100 + i * 0.01)
    canvas.canvas_event(pad.canvas, event="mouse_up", x=100, y=100)
    assert pad.raster.points == MAX_POINTS == len(pad.raster.strokes[0])
    assert "all the ink the pad holds" in pad.status.value
    stroke(pad, ONE)
    assert "The pad is full: Undo or Clear to draw more." in pad.status.value and len(pad.raster.strokes) == 1
    frontend.click(pad.undo_button)
    assert pad.raster.empty and pad.raster.points == 0
    assert_still_works(pad)


def test_long_segments_stop_at_the_ink_budget(pad):
    side = pad.canvas.side
    canvas.canvas_event(pad.canvas, event="mouse_down", x=0, y=0)
    for i in range(1000):  # corner to corner: each move covers the whole canvas
        canvas.canvas_event(pad.canvas, event="mouse_move", x=side * (i % 2), y=side * (i % 2))
    assert MAX_INK <= pad.raster.ink <= MAX_INK + side * math.sqrt(2)
    assert pad.raster.points < 60


def test_moves_shorter_than_the_step_add_no_points(pad):
    canvas.canvas_event(pad.canvas, event="mouse_down", x=100, y=100)
    for i in range(1000):
        canvas.canvas_event(pad.canvas, event="mouse_move", x=100 + (i % 2), y=100)
    assert pad.raster.points == 1


def test_a_flood_of_presses_is_bounded_too(pad):
    for i in range(MAX_POINTS + 200):
        canvas.canvas_event(pad.canvas, event="mouse_down", x=10 + i % 500, y=300)
    assert len(pad.raster.strokes) == pad.raster.points == MAX_POINTS
    frontend.click(pad.clear_button)
    assert_still_works(pad)


def test_moves_without_a_press_cost_no_points(pad):
    for i in range(5000):
        canvas.canvas_event(pad.canvas, event="mouse_move", x=i % 560, y=i % 500)
    assert pad.raster.empty and pad.prediction is None


# --- names of uploaded files ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("seven.png", "seven.png"),
        ("a" * 1000 + ".png", "a" * (MAX_NAME - 9) + "…aaaa.png"),
        ("line\nbreak\ttab.png", "line break tab.png"),
        ("evil\u202egnp.exe", "evilgnp.exe"),  # a right-to-left override would flip the message
        ("zero\u200bwidth.png", "zerowidth.png"),
        ("", "the file"),
    ],
    ids=["plain", "long", "controls", "bidi", "zero-width", "empty"],
)
def test_file_names_are_shown_short_and_printable(name, shown):
    assert display_name(name) == shown
    assert len(display_name(name)) <= MAX_NAME


def test_file_names_are_escaped_in_messages(pad):
    frontend.receive(pad.upload, *frontend.file_chosen("<img src=x onerror=alert(1)>.png", b"not an image"))
    assert "&lt;img src=x onerror=alert(1)&gt;.png" in pad.status.value and "<img" not in pad.status.value
    long = "x" * 100_000 + ".png"
    frontend.receive(pad.upload, *frontend.file_chosen(long, b"not an image"))
    assert len(pad.status.value) < 300


def test_the_upload_buttons_say_what_they_do(pad):
    """The page script copies these tooltips into aria-label (tests/test_pad_phone_browser.py checks it)."""
    assert pad.upload.tooltip.startswith("Upload an image of a digit")
    assert pad.teach.load.tooltip.startswith("Load examples")
    assert "dp-upload" in pad.upload._dom_classes and "dp-load" in pad.teach.load._dom_classes


# --- decoding uploads within a budget --------------------------------------------------------------


def png_bytes(mode: str, size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, 255 if mode == "L" else (255, 255, 255, 255)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_large_rgba_png_is_refused_before_decoding(pad):
    data = png_bytes("RGBA", (8000, 5000))  # 40 megapixels in 165 KB: it used to cost 486 MB
    assert len(data) < 200_000
    stroke(pad, ONE)
    frontend.receive(pad.upload, *frontend.file_chosen("wall.png", data))
    assert "Cannot use wall.png: the image is 8000 × 5000 pixels" in pad.status.value
    assert pad.prediction[0] == 1
    assert np.isfinite(pad.probabilities).all()
