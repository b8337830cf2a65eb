"""The picture of backpropagation in notebook 04: a network's layers as boxes, values and gradients as arrows.

Forward values flow left to right above the boxes (black, with their
shapes); gradients flow right to left below them (red, with the same
shapes), and each dense layer's parameter gradients hang under its box. The
figure is drawn from the network itself, so it shows the layers and sizes
of whatever network it is given.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from mlp.nn.layers import Dense
from mlp.nn.network import Sequential

__all__ = ["draw_backprop"]

COLOURS = {"data": "#dddddd", "dense": "#c6dbef", "activation": "#fdd0a2", "loss": "#c7e9c0"}
SPACING, WIDTH, HEIGHT = 2.6, 1.35, 0.9  # box centres apart, box size, in data units


def draw_backprop(network: Sequential) -> Figure:
    """A figure of ``network``'s forward and backward passes, with every shape; returns the figure."""
    boxes, shapes, parameter_grads = _layout(network)
    fig, ax = plt.subplots(figsize=(14, 3.4))
    for i, (label, colour) in enumerate(boxes):
        corner = (i * SPACING - WIDTH / 2, -HEIGHT / 2)
        ax.add_patch(
            FancyBboxPatch(corner, WIDTH, HEIGHT, boxstyle="round,pad=0.05", fc=colour, ec="black", lw=0.8)
        )
        ax.text(i * SPACING, 0, label, ha="center", va="center", fontsize=9)
    for i, shape in enumerate(shapes):
        left, right = i * SPACING + WIDTH / 2 + 0.05, (i + 1) * SPACING - WIDTH / 2 - 0.05
        middle = (left + right) / 2
        ax.annotate("", xy=(right, 0.2), xytext=(left, 0.2), arrowprops={"arrowstyle": "->", "lw": 1.2})
        ax.text(middle, 0.32, shape, ha="center", va="bottom", fontsize=8.5)
        gradient = {"arrowstyle": "->", "lw": 1.2, "color": "tab:red"}
        ax.annotate("", xy=(left, -0.2), xytext=(right, -0.2), arrowprops=gradient)
        if shape != "scalar":  # the gradient of L with respect to L itself is just 1
            ax.text(middle, -0.32, shape, ha="center", va="top", fontsize=8.5, color="tab:red")
    for i, text in parameter_grads.items():
        ax.text(i * SPACING, -HEIGHT / 2 - 0.2, text, ha="center", va="top", fontsize=8.5, color="tab:red")
    ax.text(-0.7, 0.85, "forward: values, with their shapes above the arrows", fontsize=9.5)
    ax.text(
        -0.7,
        -1.35,
        "backward: the gradient of L with respect to each value, with the same shape, "
        "below the arrows (it starts from ∂L/∂L = 1)",
        fontsize=9.5,
        color="tab:red",
    )
    ax.set(
        xlim=(-0.9, (len(boxes) - 1) * SPACING + 0.9),
        ylim=(-1.45, 1.05),
        title="The network's computation: forward left to right, backward right to left",
    )
    ax.axis("off")
    return fig


def _layout(network: Sequential) -> tuple[list[tuple[str, str]], list[str], dict[int, str]]:
    """``(label, colour)`` of each box, the shape on each arrow, the gradient text under each dense box."""
    boxes = [("input x", COLOURS["data"])]
    shapes = [f"(N, {network.n_inputs})"]
    parameter_grads = {}
    for layer in network.layers:
        if isinstance(layer, Dense):
            k = len(parameter_grads) + 1
            boxes.append((f"Dense {k}\n{layer.n_in}→{layer.n_out}", COLOURS["dense"]))
            shapes.append(f"(N, {layer.n_out})")
            parameter_grads[len(boxes) - 1] = (
                f"$\\partial L/\\partial W_{k}$ {(layer.n_in, layer.n_out)}\n"
                f"$\\partial L/\\partial b_{k}$ {(layer.n_out,)}"
            )
        else:
            boxes.append((type(layer).__name__, COLOURS["activation"]))
            shapes.append(shapes[-1])  # an activation keeps the shape
    boxes += [("softmax\n+ cross-\nentropy", COLOURS["loss"]), ("loss L", COLOURS["data"])]
    shapes.append("scalar")
    return boxes, shapes, parameter_grads
