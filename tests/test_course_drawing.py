"""The figures of notebook 08 show the pad's own preprocessing, step by step."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from mlp.course.drawing import plot_digits, plot_preprocessing, preprocessing_stages
from mlp.pad.preprocess import preprocess_digit
from mlp.pad.styles import raster_of, strokes


@pytest.mark.parametrize("style", ["one", "slashed_zero", "slanted_four"])
def test_the_stages_end_in_exactly_the_pads_input(style):
    image = raster_of(strokes(style, np.random.default_rng(3))).image
    stages = preprocessing_stages(image)
    assert np.array_equal(stages.centred, preprocess_digit(image))
    top, bottom, left, right = stages.box
    assert image[top, left : right + 1].max() > 0.1 and image[bottom, left : right + 1].max() > 0.1
    assert image[:top].max(initial=0) <= 0.1 and image[bottom + 1 :].max(initial=0) <= 0.1
    assert max(stages.scaled.shape) == 20 and stages.scaled.max() == 1
    row, col = stages.centre_of_mass
    assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5


def test_a_photo_of_dark_ink_on_paper_is_inverted_first():
    image = raster_of(strokes("seven", np.random.default_rng(0))).image
    paper = (255 * (1 - image)).astype(np.uint8)
    assert np.array_equal(preprocessing_stages(paper).centred, preprocess_digit(paper))


def test_the_figures_have_their_panels():
    image = raster_of(strokes("zero", np.random.default_rng(0))).image
    fig = plot_preprocessing(preprocessing_stages(image), "title")
    assert len(fig.axes) == 4
    plt.close(fig)
    fig = plot_digits(np.zeros((5, 784)), list("abcde"), columns=2)
    assert len(fig.axes) == 6 and [ax.get_title() for ax in fig.axes[:5]] == list("abcde")
    plt.close(fig)
    with pytest.raises(ValueError, match="5 images but 4 titles"):
        plot_digits(np.zeros((5, 28, 28)), list("abcd"))
