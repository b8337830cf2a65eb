"""Tests for the DigitPad widget, driven by the messages a browser sends, without a browser.

Every event is delivered by ``mlp.pad.frontend.receive`` as the kernel
delivers a comm message from the page, so these tests exercise the same path
as a real pointer (and the only module that knows ipycanvas's internals is
``mlp.pad.frontend``). What they check is what a visitor would see: the
label, the ten bars, the 28×28 preview and the status line.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image, ImageDraw

import mlp
from mlp.pad import canvas, frontend
from mlp.pad.layout import STYLE
from mlp.pad.preprocess import preprocess_digit
from mlp.pad.rasterize import StrokeRaster
from mlp.pad.view import PREVIEW_CELL
from mlp.pad.widget import MAX_UPLOAD_BYTES, PIXEL_RATIO, SIZE, UNSURE_BELOW, DigitPad

Points = list[tuple[float, float]]


def line(start: tuple[float, float], end: tuple[float, float], n: int = 20) -> Points:
    return [
        (start[0] + (end[0] - start[0]) * t, start[1] + (end[1] - start[1]) * t) for t in np.linspace(0, 1, n)
    ]


def ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 60) -> Points:
    return [(cx + rx * np.sin(a), cy - ry * np.cos(a)) for a in np.linspace(0, 2 * np.pi, n)]


# Digits in canvas pixels (the canvas is 560 × 560, shown at 280 × 280 CSS pixels).
ONE = line((290, 100), (270, 460))
ZERO = ellipse(280, 280, 110, 170)
SEVEN_BAR, SEVEN_STEM = line((160, 110), (400, 110)), line((400, 110), (250, 470))
FOUR = [line((200, 100), (160, 320)) + line((160, 320), (400, 320))[1:], line((340, 180), (330, 480))]


@pytest.fixture(scope="module")
def model() -> mlp.Sequential:
    return mlp.load_model()


@pytest.fixture
def pad(model) -> DigitPad:
    """A pad that reads the drawing on every event, so each step's effect is visible at once."""
    return DigitPad(model=model, min_interval=0)


def fire(pad: DigitPad, event: str, **content) -> None:
    canvas.canvas_event(pad.canvas, event=event, **content)


def mouse_stroke(pad: DigitPad, points: Points, end: str = "mouse_up") -> None:
    fire(pad, "mouse_down", x=points[0][0], y=points[0][1])
    for x, y in points[1:]:
        fire(pad, "mouse_move", x=x, y=y)
    fire(pad, end, x=points[-1][0], y=points[-1][1])


def shown(pad: DigitPad) -> dict:
    """What the visitor sees, read back from the widgets' HTML and PNG."""
    result = pad.result.value
    widths = [float(w) for w in re.findall(r'class="dp-fill" style="width:([\d.]+)%"', pad.bars.value)]
    top = re.findall(r'class="dp-row dp-top" data-digit="(\d)"', pad.bars.value)
    return {
        "state": re.search(r'data-state="(\w+)"', result).group(1),
        "strokes": int(re.search(r'data-strokes="(\d+)"', result).group(1)),
        "digit": re.search(r'class="dp-digit">([^<]*)<', result).group(1),
        "caption": re.search(r'class="dp-caption">([^<]*)<', result).group(1),
        "bars": np.array(widths) / 100,
        "top_bar": int(top[0]) if top else None,
        "preview": np.asarray(Image.open(io.BytesIO(pad.preview.value))),
        "status": pad.status.value,
    }


def assert_shows_digit(pad: DigitPad, digit: int, strokes: int) -> None:
    seen = shown(pad)
    assert (seen["state"], seen["digit"], seen["strokes"]) == ("sure", str(digit), strokes), seen["caption"]
    assert seen["top_bar"] == digit and seen["bars"].argmax() == digit
    np.testing.assert_allclose(seen["bars"], pad.probabilities, atol=0.0006)
    assert seen["caption"].endswith("sure")


def assert_shows_prompt(pad: DigitPad) -> None:
    seen = shown(pad)
    assert (seen["state"], seen["strokes"]) == ("empty", 0)
    assert "Draw a digit" in seen["caption"]
    assert not seen["bars"].any() and seen["top_bar"] is None
    assert pad.prediction is None and pad.network_input is None
    assert seen["preview"][1::PREVIEW_CELL, 1::PREVIEW_CELL].max() == 0  # every cell black


def upload(pad: DigitPad, name: str, data: bytes) -> None:
    """Do what the browser does when a file is chosen: send the FileUpload its new value."""
    frontend.receive(pad.upload, *frontend.file_chosen(name, data))


def png_of_a_seven(size: tuple[int, int] = (300, 220)) -> bytes:
    """Dark ink on white paper, as a scanned page would be."""
    image = Image.new("L", size, 255)
    ImageDraw.Draw(image).line([(90, 40), (210, 40), (130, 190)], fill=20, width=16)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def red_css_colour() -> tuple[int, int, int]:
    hex_colour = re.search(r"\.dp-error \{ color: #([0-9a-f]{6})", STYLE).group(1)
    return tuple(int(hex_colour[i : i + 2], 16) for i in (0, 2, 4))


# --- strokes to pixels ---------------------------------------------------------------------------


def test_raster_paints_a_round_brush_of_the_right_width():
    raster = StrokeRaster(canvas_size=560, raster_size=280, brush_radius=22)  # 11 raster pixels
    raster.start(100, 280)
    raster.extend(400, 280)  # a horizontal segment, raster x from 50 to 200
    column = raster.image[:, 125]
    assert column.sum() == pytest.approx(22, abs=0.3), "anti-aliased edges add up to the brush width"
    assert column.max() == 1 and raster.image[140, 50 - 11 - 1] == 0 and raster.image[140, 50 - 10] > 0
    dot = StrokeRaster(560, 280, 22)
    dot.start(280, 280)
    assert dot.image.sum() == pytest.approx(np.pi * 11**2, rel=0.02), "a tap is a disc"


def test_raster_undo_is_the_same_as_never_drawing_the_stroke():
    both, first_only = StrokeRaster(560, 280, 22), StrokeRaster(560, 280, 22)
    for raster, strokes in ((both, FOUR), (first_only, FOUR[:1])):
        for stroke in strokes:
            raster.start(*stroke[0])
            for point in stroke[1:]:
                raster.extend(*point)
    assert both.undo() and len(both.strokes) == 1
    np.testing.assert_array_equal(both.image, first_only.image)
    assert both.undo() and not both.undo() and both.empty and not both.image.any()


def test_raster_rejects_nonsense():
    with pytest.raises(ValueError, match="raster_size"):
        StrokeRaster(280, 560, 10)
    with pytest.raises(ValueError, match="brush_radius"):
        StrokeRaster(560, 280, 0)
    with pytest.raises(RuntimeError, match="before start"):
        StrokeRaster(560, 280, 22).extend(1, 1)


# --- drawing ------------------------------------------------------------------------------------


def test_empty_pad_shows_a_prompt_not_a_prediction(pad):
    assert_shows_prompt(pad)
    assert pad.canvas.width == pad.canvas.height == SIZE * PIXEL_RATIO  # HiDPI: 2 canvas pixels per CSS pixel
    assert f"canvas.dp-canvas {{ width: {SIZE}px; height: {SIZE}px;" in STYLE  # on a desktop


def test_mouse_strokes_are_read_as_digits(pad):
    mouse_stroke(pad, ONE)
    assert_shows_digit(pad, 1, strokes=1)
    pad.clear()
    mouse_stroke(pad, ZERO)
    assert_shows_digit(pad, 0, strokes=1)


def test_preview_shows_exactly_what_the_network_reads(pad):
    mouse_stroke(pad, SEVEN_BAR + SEVEN_STEM)
    preview = shown(pad)["preview"]
    assert preview.shape == (28 * PREVIEW_CELL + 1,) * 2
    cells = preview[
        PREVIEW_CELL // 2 :: PREVIEW_CELL, PREVIEW_CELL // 2 :: PREVIEW_CELL
    ]  # (28, 28) cell centres
    np.testing.assert_array_equal(cells, np.round(pad.network_input * 255))
    assert (preview[::PREVIEW_CELL] == 48).all(), "a grid separates the pixels"
    # ... and that input is the drawing, rasterised and preprocessed.
    raster = StrokeRaster(SIZE * PIXEL_RATIO, SIZE, pad.raster.brush_radius)
    raster.start(*SEVEN_BAR[0])
    for point in (SEVEN_BAR + SEVEN_STEM)[1:]:
        raster.extend(*point)
    np.testing.assert_array_equal(pad.network_input, preprocess_digit(raster.image))


def test_prediction_updates_live_while_the_stroke_grows(pad):
    fire(pad, "mouse_down", x=SEVEN_BAR[0][0], y=SEVEN_BAR[0][1])
    for x, y in SEVEN_BAR[1:]:
        fire(pad, "mouse_move", x=x, y=y)
    during = shown(pad)
    assert during["strokes"] == 0 and during["state"] != "empty", "the unfinished stroke is read already"
    for x, y in SEVEN_STEM[1:]:
        fire(pad, "mouse_move", x=x, y=y)
    assert not np.allclose(shown(pad)["bars"], during["bars"]), "the bars follow the stroke"
    fire(pad, "mouse_up", x=SEVEN_STEM[-1][0], y=SEVEN_STEM[-1][1])
    assert_shows_digit(pad, 7, strokes=1)


def test_throttled_pad_reads_only_the_latest_drawing(model, monkeypatch):
    calls = []
    monkeypatch.setattr(model, "infer", lambda x: calls.append(x) or mlp.Sequential.infer(model, x))
    slow = DigitPad(model=model, min_interval=3600)  # at most one live read per hour
    calls.clear()
    fire(slow, "mouse_down", x=ZERO[0][0], y=ZERO[0][1])
    for x, y in ZERO[1:]:
        fire(slow, "mouse_move", x=x, y=y)
    assert calls == [] and shown(slow)["state"] == "empty", "60 moves, no reading within the interval"
    fire(slow, "mouse_up", x=ZERO[-1][0], y=ZERO[-1][1])
    assert len(calls) == 1, "releasing the pointer reads the drawing once"
    assert_shows_digit(slow, 0, strokes=1)
    fast = DigitPad(model=model, min_interval=0)
    calls.clear()
    mouse_stroke(fast, ZERO)
    assert len(calls) >= len(ZERO)


def test_moves_without_a_pressed_button_draw_nothing(pad):
    for x, y in ONE:
        fire(pad, "mouse_move", x=x, y=y)
    assert pad.raster.empty
    assert_shows_prompt(pad)


def test_releasing_outside_the_canvas_ends_the_stroke(pad):
    mouse_stroke(pad, [*ONE, (275, 600)], end="mouse_out")  # dragged off the bottom edge, released there
    assert shown(pad)["strokes"] == 1
    fire(pad, "mouse_move", x=100, y=100)  # back over the canvas with no button pressed
    assert len(pad.raster.strokes) == 1 and pad.raster.strokes[0][-1] == (275, 600)


def test_touch_draws_like_a_mouse(pad):
    fire(pad, "touch_start", touches=[{"x": ONE[0][0], "y": ONE[0][1]}])
    fire(
        pad, "touch_start", touches=[{"x": ONE[0][0], "y": ONE[0][1]}, {"x": 50, "y": 50}]
    )  # a second finger
    for x, y in ONE[1:]:
        fire(pad, "touch_move", touches=[{"x": x, "y": y}])
    fire(pad, "touch_end", touches=[])  # lists the fingers still down: none
    assert len(pad.raster.strokes) == 1
    assert_shows_digit(pad, 1, strokes=1)


def test_undo_removes_the_last_stroke_then_shows_the_prompt(pad):
    for stroke in FOUR:
        mouse_stroke(pad, stroke)
    assert_shows_digit(pad, 4, strokes=2)
    four = pad.probabilities
    pad.undo()
    assert shown(pad)["strokes"] == 1 and not np.allclose(pad.probabilities, four)
    pad.undo()
    assert_shows_prompt(pad)
    pad.undo()  # nothing left to undo: no error, still the prompt
    assert_shows_prompt(pad)
    assert shown(pad)["status"] == ""


def test_buttons_clear_and_undo(pad):
    mouse_stroke(pad, ONE)
    mouse_stroke(pad, line((200, 300), (360, 300)))
    pad.undo_button.click()
    assert_shows_digit(pad, 1, strokes=1)
    pad.clear_button.click()
    assert pad.raster.empty
    assert_shows_prompt(pad)


def test_unsure_network_says_so(pad):
    flat = mlp.Sequential([mlp.Dense(784, 10)])
    flat.layers[0].weight.value[...] = 0  # the same answer for every drawing: 3 (40 %) or 5 (35 %)
    # Logits of the scale a trained network gives a digit (energy 10): unsure, not "no digit".
    p = np.array([0.03, 0.03, 0.03, 0.40, 0.03, 0.35, 0.03, 0.03, 0.04, 0.03])
    flat.layers[0].bias.value[...] = 10 + np.log(p)
    unsure = DigitPad(model=flat)
    unsure.draw([ONE])
    seen = shown(unsure)
    assert (seen["state"], seen["digit"]) == ("unsure", "?")
    assert seen["caption"].startswith("Not sure") and unsure.prediction[1] < UNSURE_BELOW


def test_not_sure_threshold_is_where_accuracy_drops(model):
    """The threshold's justification, measured again on the shipped model and MNIST's test set."""
    _, (x_test, y_test) = mlp.load_mnist()
    proba = model.predict_proba(x_test)
    correct = proba.argmax(axis=1) == y_test
    sure = proba.max(axis=1) >= UNSURE_BELOW
    assert correct[sure].mean() >= 0.99, "above the threshold the network is almost always right"
    assert correct[~sure].mean() <= 0.8, "below it, it is wrong at least one time in five"
    assert 0 < (~sure).mean() < 0.05, "and it rarely hesitates on real MNIST digits"


def test_draw_method_uses_the_pointer_handlers(pad, model):
    pad.draw([ONE])
    by_mouse = DigitPad(model=model, min_interval=0)
    mouse_stroke(by_mouse, ONE)
    np.testing.assert_array_equal(pad.network_input, by_mouse.network_input)
    assert shown(pad)["strokes"] == 1


# --- canvas painting ----------------------------------------------------------------------------


def test_canvas_is_painted_when_a_page_connects_not_before(model):
    with canvas.recorded_commands() as sent:
        pad = DigitPad(model=model)
        assert sent == [], "drawing before a browser is connected would be lost"
        pad.draw([ONE, line((200, 300), (360, 300))])
        sent.clear()
        fire(pad, "client_ready")
    side = SIZE * PIXEL_RATIO
    assert sent[:2] == [("set", ["fill_style", "black"]), ("fillRect", [0, 0, side, side])]
    assert [name for name, _ in sent].count("strokeLines") == 2, "then both strokes, replayed"


# --- uploads ------------------------------------------------------------------------------------


def test_uploaded_png_is_read_through_the_same_preprocessing(pad):
    data = png_of_a_seven()
    upload(pad, "seven.png", data)
    assert_shows_digit(pad, 7, strokes=0)
    assert "seven.png" in shown(pad)["status"] and "dp-error" not in shown(pad)["status"]
    gray = np.asarray(Image.open(io.BytesIO(data)))
    np.testing.assert_array_equal(pad.network_input, preprocess_digit(gray))
    assert pad.upload.value == (), "cleared, so that the same file can be chosen again"
    mouse_stroke(pad, ONE)  # drawing replaces the upload
    assert pad.uploaded is None
    assert_shows_digit(pad, 1, strokes=1)


def test_undo_after_an_upload_removes_it(pad):
    upload(pad, "seven.png", png_of_a_seven())
    pad.undo()
    assert_shows_prompt(pad)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("notes.txt", b"these are not pixels", "Cannot use notes.txt: not a readable PNG or JPEG"),
        ("broken.png", png_of_a_seven()[:200], "Cannot use broken.png: not a readable PNG or JPEG"),
        ("blank.png", None, "Cannot use blank.png: no digit found"),
        ("huge.png", b"\x89PNG" + bytes(MAX_UPLOAD_BYTES), "huge.png is 5.0 MB; images up to 5 MB please"),
    ],
    ids=["garbage", "truncated", "blank", "too-large"],
)
def test_bad_uploads_get_a_red_message_and_lose_nothing(pad, name, data, message):
    if data is None:
        buffer = io.BytesIO()
        Image.new("L", (64, 64), 255).save(buffer, format="PNG")
        data = buffer.getvalue()
    mouse_stroke(pad, ONE)
    before = pad.probabilities.copy()
    upload(pad, name, data)
    status = shown(pad)["status"]
    assert 'class="dp-error"' in status and message in status
    red, green, blue = red_css_colour()
    assert red > 150 and green < 80 and blue < 80
    np.testing.assert_array_equal(pad.probabilities, before)  # the drawing is still there
    assert_shows_digit(pad, 1, strokes=1)
    pad.clear()  # and the pad keeps working
    mouse_stroke(pad, ZERO)
    assert_shows_digit(pad, 0, strokes=1)
    assert shown(pad)["status"] == ""


# --- models and failures ------------------------------------------------------------------------


def test_any_model_with_784_inputs_and_10_classes_can_be_used():
    mine = mlp.MLP([784, 16, 10], seed=1)  # untrained, as a learner's might be
    pad = DigitPad(model=mine)
    pad.draw([ZERO])
    assert pad.model is mine and pad.probabilities.shape == (10,)
    with pytest.raises(ValueError, match="784 pixels to 10 digits"):
        DigitPad(model=mlp.MLP([100, 10]))


def test_errors_inside_callbacks_are_shown_not_swallowed(pad, monkeypatch):
    def broken(x):
        raise RuntimeError("the model is broken")

    monkeypatch.setattr(pad.model, "infer", broken)
    mouse_stroke(pad, ONE)  # must not raise: a browser would never show the traceback
    status = shown(pad)["status"]
    assert 'class="dp-error"' in status and "RuntimeError: the model is broken" in status
    monkeypatch.undo()
    pad.clear()
    mouse_stroke(pad, ONE)
    assert_shows_digit(pad, 1, strokes=1)
