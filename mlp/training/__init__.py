"""Training the network: ``fit``, MNIST, augmentation, model and examples files, the recipe, fine-tuning.

Model files and examples files are both read by ``mlp.training.npz.NpzReader``, the one ``.npz`` reader.
"""

from mlp.training.augment import random_affine
from mlp.training.data import DataFileError, load_mnist, read_idx
from mlp.training.examples import ExamplesFileError, load_examples, save_examples
from mlp.training.fine_tune import fine_tune
from mlp.training.loop import (
    Callback,
    History,
    RestoreBest,
    ShowProgress,
    StopAtAccuracy,
    TrainingDivergedError,
    Validate,
    evaluate,
    fit,
    train_loop,
    train_step,
)
from mlp.training.model_io import ModelFileError, load_model, save_model
from mlp.training.replay import mnist_replay

__all__ = [
    "Callback",
    "DataFileError",
    "ExamplesFileError",
    "History",
    "ModelFileError",
    "RestoreBest",
    "ShowProgress",
    "StopAtAccuracy",
    "TrainingDivergedError",
    "Validate",
    "evaluate",
    "fine_tune",
    "fit",
    "load_examples",
    "load_mnist",
    "load_model",
    "mnist_replay",
    "random_affine",
    "read_idx",
    "save_examples",
    "save_model",
    "train_loop",
    "train_step",
]
