"""Generated handwriting styles: pointer strokes on the pad's canvas, read exactly as the pad reads them."""

from __future__ import annotations

import numpy as np
import pytest

import mlp
from mlp.pad.styles import CANVAS, STYLES, UNUSUAL, draw_many, render, strokes
from mlp.pad.widget import PIXEL_RATIO, SIZE, DigitPad


@pytest.fixture(scope="module")
def model() -> mlp.Sequential:
    return mlp.load_model()


@pytest.mark.parametrize("style", STYLES)
def test_strokes_are_canvas_points_and_render_to_an_mnist_input(style):
    drawing = strokes(style, np.random.default_rng(0))
    assert CANVAS == SIZE * PIXEL_RATIO
    assert drawing and all(len(stroke) >= 2 for stroke in drawing)
    points = np.array([p for stroke in drawing for p in stroke])
    assert points.min() >= 0 and points.max() <= CANVAS
    steps = np.concatenate([np.hypot(*np.diff(np.array(s), axis=0).T) for s in drawing])
    assert steps.max() <= 6.0 + 1e-9, "points come as close together as pointer moves"
    x = render(drawing)
    assert x.shape == (28, 28) and x.dtype == np.float32 and x.min() >= 0 and x.max() == 1


@pytest.mark.parametrize("style", ["slashed_zero", "flag_one", "slanted_four"])
def test_render_is_what_the_pad_gives_the_network(model, style):
    drawing = strokes(style, np.random.default_rng(1))
    pad = DigitPad(model=model, min_interval=0)
    pad.draw(drawing)
    assert np.array_equal(pad.network_input, render(drawing))


def test_the_seed_decides_every_variation():
    same = [strokes("slashed_zero", np.random.default_rng(5)) for _ in range(2)]
    assert same[0] == same[1]
    sizes = {round(np.ptp(np.array(strokes("zero", np.random.default_rng(s))[0])[:, 1])) for s in range(10)}
    assert len(sizes) == 10, "sizes differ from drawing to drawing"


def test_draw_many_labels_and_prefixes():
    x, y = draw_many("crossed_seven", 6, seed=2)
    assert x.shape == (6, 28, 28) and y.tolist() == [7] * 6
    assert np.array_equal(draw_many("crossed_seven", 3, seed=2)[0], x[:3])
    assert not np.array_equal(draw_many("crossed_seven", 3, seed=3)[0], x[:3])
    assert len({xi.tobytes() for xi in x}) == 6, "every drawing is different"


def test_the_shipped_model_misreads_what_mnist_lacks_and_reads_the_plain_forms(model):
    for plain, unusual in (("zero", "slashed_zero"), ("one", "flag_one")):
        assert model.accuracy(*draw_many(plain, 25, seed=7)) >= 0.95
        assert model.accuracy(*draw_many(unusual, 25, seed=7)) <= 0.5
    assert set(UNUSUAL) <= set(STYLES)


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda: strokes("slashed_nine", np.random.default_rng()), ValueError, "unknown style"),
        (lambda: strokes("zero", 0), TypeError, "numpy.random.Generator"),
        (lambda: draw_many("zero", 0), ValueError, "positive integer"),
        (lambda: render([]), ValueError, "at least one stroke"),
        (lambda: render([[]]), ValueError, "at least one point"),
    ],
)
def test_bad_arguments_are_refused(call, error, words):
    with pytest.raises(error, match=words):
        call()
