"""Training the network: ``fit``, MNIST, augmentation, model files, and the shipped recipe."""

from mlp.training.augment import random_affine
from mlp.training.data import DataFileError, load_mnist, read_idx
from mlp.training.loop import History, TrainingDivergedError, evaluate, fit, train_step
from mlp.training.model_io import ModelFileError, load_model, save_model

__all__ = [
    "DataFileError",
    "History",
    "ModelFileError",
    "TrainingDivergedError",
    "evaluate",
    "fit",
    "load_mnist",
    "load_model",
    "random_affine",
    "read_idx",
    "save_model",
    "train_step",
]
