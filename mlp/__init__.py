"""mlp: a multi-layer perceptron in NumPy, small enough to read in an afternoon.

The names below are the public API used by the notebooks, the dashboard and
the command-line tools (``python -m mlp.train``, ``mlp.predict``, ``mlp.bench``).
"""

__version__ = "0.1.0"

from mlp.augment import random_affine
from mlp.data import DataFileError, load_mnist, read_idx
from mlp.gradcheck import GradientCheckError, gradient_check, gradient_errors
from mlp.layers import Dense, Dropout, Layer, Parameter, ReLU, Sigmoid, Tanh
from mlp.losses import SoftmaxCrossEntropy, log_softmax, softmax
from mlp.model_io import ModelFileError, load_model, save_model
from mlp.network import MLP, Sequential
from mlp.optimizers import SGD, Adam, constant, cosine_decay, linear_decay
from mlp.training import History, evaluate, fit

__all__ = [
    "MLP",
    "SGD",
    "Adam",
    "DataFileError",
    "Dense",
    "Dropout",
    "GradientCheckError",
    "History",
    "Layer",
    "ModelFileError",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "Tanh",
    "constant",
    "cosine_decay",
    "evaluate",
    "fit",
    "gradient_check",
    "gradient_errors",
    "linear_decay",
    "load_mnist",
    "load_model",
    "log_softmax",
    "random_affine",
    "read_idx",
    "save_model",
    "softmax",
]
