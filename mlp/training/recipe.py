"""The recipe of the course's shipped model, and the train/validation/test split it is chosen on.

The default recipe is the one the dashboard's model was made with. It holds
out the last 5,000 training images for validation and keeps the weights of
the epoch that did best on them, so the test set is looked at exactly once,
at the end, to report an honest figure.

Same recipe, same machine, same weights: every random draw (initial weights,
dropout masks, shuffling, augmentation) derives from ``seed``, and the BLAS
thread count is fixed (``threads``, default 1) because splitting a matrix
product differently changes the order of its additions, and so the last bits
of the result. ``python -m mlp train`` runs it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlp.nn.fast import FusedAdam
from mlp.nn.network import MLP, Sequential
from mlp.nn.optimizers import constant, cosine_decay, linear_decay
from mlp.training.augment import random_affine
from mlp.training.data import MNIST_FILES, load_mnist
from mlp.training.loop import History, evaluate, fit

VALIDATION_SIZE = 5_000
SCHEDULES = {"constant": constant, "linear_decay": linear_decay, "cosine_decay": cosine_decay}


@dataclass(frozen=True)
class Recipe:
    """Everything that decides the trained weights, saved in the model file."""

    sizes: tuple[int, ...] = (784, 256, 128, 10)
    dropout: float = 0.1
    epochs: int = 30
    batch_size: int = 128
    lr: float = 2e-3
    schedule: str = "linear_decay"  # the learning rate falls linearly to 0 at the last epoch
    weight_decay: float = 0.0
    augment: bool = True
    seed: int = 0
    threads: int = 1


def training_data_sha256() -> dict[str, str]:
    """The SHA-256 of each (decompressed) training file, which ``load_mnist`` has verified."""
    return {name: sha for name, (sha, _) in MNIST_FILES.items() if name.startswith("train-")}


Split = tuple[np.ndarray, np.ndarray]


def mnist_splits() -> tuple[Split, Split, Split]:
    """MNIST as ``train, validation, test``: the last 5,000 training images validate."""
    (x_all, y_all), test = load_mnist()
    train = x_all[:-VALIDATION_SIZE], y_all[:-VALIDATION_SIZE]
    validation = x_all[-VALIDATION_SIZE:], y_all[-VALIDATION_SIZE:]
    return train, validation, test


def train(recipe: Recipe, *, show_progress: bool = True) -> tuple[Sequential, History, dict[str, float]]:
    """Train a model by ``recipe``; return it, its history and its final figures.

    Adam runs in its fused form (``mlp.nn.fast.FusedAdam``): the same update
    as ``mlp.Adam`` with fewer passes over memory, and the form the shipped
    weights were made with, so that they can be reproduced bit for bit.
    """
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = mnist_splits()

    model = MLP(recipe.sizes, dropout=recipe.dropout, seed=recipe.seed)
    optimizer = FusedAdam(recipe.lr, weight_decay=recipe.weight_decay, schedule=SCHEDULES[recipe.schedule])
    history = fit(
        model,
        x_train,
        y_train,
        epochs=recipe.epochs,
        batch_size=recipe.batch_size,
        optimizer=optimizer,
        validation_data=(x_val, y_val),
        seed=recipe.seed,
        augment=random_affine if recipe.augment else None,
        threads=recipe.threads,
        restore_best=True,
        show_progress=show_progress,
    )
    val_loss, val_accuracy = evaluate(model, x_val, y_val)
    test_loss, test_accuracy = evaluate(model, x_test, y_test)
    metrics = {
        "best_epoch": history.best_epoch,
        "validation_accuracy": val_accuracy,
        "validation_loss": val_loss,
        "test_accuracy": test_accuracy,
        "test_loss": test_loss,
        "training_seconds": sum(history.seconds),
    }
    return model, history, metrics
