"""The neural network itself: layers, the loss, the network, optimizers, the gradient check, input rules.

Nothing here but NumPy. Each module is one concept, small enough to read in
one sitting; ``fast`` holds the speed tricks, each pinned by a test to the
plain code it rearranges.
"""

from mlp.nn.fast import FusedAdam
from mlp.nn.gradcheck import GradientCheckError, gradient_check, gradient_errors, numerical_gradient
from mlp.nn.layers import Dense, Dropout, Layer, Parameter, ReLU, Sigmoid, Tanh
from mlp.nn.losses import SoftmaxCrossEntropy, log_softmax, softmax
from mlp.nn.network import MLP, Sequential
from mlp.nn.optimizers import SGD, Adam, AdamW, Optimizer, constant, cosine_decay, linear_decay

__all__ = [
    "MLP",
    "SGD",
    "Adam",
    "AdamW",
    "Dense",
    "Dropout",
    "FusedAdam",
    "GradientCheckError",
    "Layer",
    "Optimizer",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "Tanh",
    "constant",
    "cosine_decay",
    "gradient_check",
    "gradient_errors",
    "linear_decay",
    "log_softmax",
    "numerical_gradient",
    "softmax",
]
