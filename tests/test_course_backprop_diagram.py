"""Notebook 04's backpropagation diagram is drawn from the network it is given."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display in tests

import matplotlib.pyplot as plt
import pytest
from matplotlib.patches import FancyBboxPatch

import mlp
from mlp.course.backprop_diagram import draw_backprop


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def texts(fig) -> list[str]:
    """The labels written on the figure (an arrow is an annotation with empty text: left out)."""
    return [text.get_text() for text in fig.axes[0].texts if text.get_text()]


def test_one_box_per_layer_plus_input_loss_and_its_result():
    network = mlp.MLP([784, 128, 64, 10], seed=0)
    fig = draw_backprop(network)
    boxes = [patch for patch in fig.axes[0].patches if isinstance(patch, FancyBboxPatch)]
    assert len(boxes) == len(network.layers) + 3  # input x, the layers, softmax + cross-entropy, loss L
    labels = texts(fig)
    assert "input x" in labels and "loss L" in labels
    assert [label for label in labels if label.startswith("Dense")] == [
        "Dense 1\n784→128",
        "Dense 2\n128→64",
        "Dense 3\n64→10",
    ]
    assert labels.count("ReLU") == 2


def test_every_arrow_has_its_shape_and_each_dense_layer_its_gradients():
    fig = draw_backprop(mlp.MLP([20, 16, 10], "tanh", seed=0))
    labels = texts(fig)
    arrows = [child for child in fig.axes[0].texts if getattr(child, "arrow_patch", None)]  # annotate()
    n_values = len(fig.axes[0].patches)  # boxes, which have one forward arrow each but the last
    assert len(arrows) == 2 * (n_values - 1), "a forward and a backward arrow between each pair of boxes"
    for shape in ["(N, 20)", "(N, 16)", "(N, 10)", "scalar"]:
        assert shape in labels
    assert labels.count("(N, 16)") == 4, "Dense 1's and Tanh's outputs, forward and backward"
    gradient_texts = [label for label in labels if "partial W" in label]
    assert gradient_texts == [
        "$\\partial L/\\partial W_1$ (20, 16)\n$\\partial L/\\partial b_1$ (16,)",
        "$\\partial L/\\partial W_2$ (16, 10)\n$\\partial L/\\partial b_2$ (10,)",
    ]


def test_it_returns_the_figure_and_draws_no_axes_frame():
    fig = draw_backprop(mlp.MLP([4, 3, 2], seed=0))
    assert isinstance(fig, matplotlib.figure.Figure)
    assert not fig.axes[0].axison
