"""mlp: a multi-layer perceptron in NumPy, small enough to read in an afternoon.

The package has four rooms, and this module gathers their public names:

* ``mlp.nn``: the neural network: layers, loss, network, optimizers, gradient check;
* ``mlp.training``: ``fit``, MNIST, augmentation, model files, the shipped recipe, ``fine_tune``;
* ``mlp.pad``: the drawing pad: strokes to pixels, MNIST-style preprocessing, the widget;
* ``mlp.exercises``: the checkers of the notebooks' exercises.

Beside them, ``mlp.cli`` holds the command-line tools
(``python -m mlp train | predict``). ``DigitPad`` is imported on first
use: it needs ipywidgets and ipycanvas, which training does not.
"""

from typing import Any

from mlp._version import __version__
from mlp.nn import (
    MLP,
    SGD,
    Adam,
    AdamW,
    Dense,
    Dropout,
    FusedAdam,
    GradientCheckError,
    Layer,
    Parameter,
    ReLU,
    Sequential,
    Sigmoid,
    SoftmaxCrossEntropy,
    Tanh,
    constant,
    cosine_decay,
    gradient_check,
    gradient_errors,
    linear_decay,
    log_softmax,
    numerical_gradient,
    softmax,
)
from mlp.pad import EmptyDrawingError, ImageFileError, preprocess_digit, read_image
from mlp.training import (
    DataFileError,
    History,
    ModelFileError,
    TrainingDivergedError,
    evaluate,
    fine_tune,
    fit,
    load_mnist,
    load_model,
    random_affine,
    read_idx,
    save_model,
)


def __getattr__(name: str) -> Any:
    if name == "DigitPad":
        from mlp.pad.widget import DigitPad

        return DigitPad
    raise AttributeError(f"module 'mlp' has no attribute {name!r}")


__all__ = [
    "MLP",
    "SGD",
    "Adam",
    "AdamW",
    "DataFileError",
    "Dense",
    "DigitPad",
    "Dropout",
    "EmptyDrawingError",
    "FusedAdam",
    "GradientCheckError",
    "History",
    "ImageFileError",
    "Layer",
    "ModelFileError",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "Tanh",
    "TrainingDivergedError",
    "__version__",
    "constant",
    "cosine_decay",
    "evaluate",
    "fine_tune",
    "fit",
    "gradient_check",
    "gradient_errors",
    "linear_decay",
    "load_mnist",
    "load_model",
    "log_softmax",
    "numerical_gradient",
    "preprocess_digit",
    "random_affine",
    "read_idx",
    "read_image",
    "save_model",
    "softmax",
]
