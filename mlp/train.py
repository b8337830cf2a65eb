"""Train the course's shipped model: ``python -m mlp.train [--out PATH] [--epochs N] ...``.

The default recipe is the one the dashboard's model was made with. It holds
out the last 5,000 training images for validation and keeps the weights of
the epoch that did best on them, so the test set is looked at exactly once,
at the end, to report an honest figure.

Same command, same machine, same weights: every random draw (initial
weights, dropout masks, shuffling, augmentation) derives from ``--seed``, and
the BLAS thread count is fixed (``--threads``, default 1) because splitting
a matrix product differently changes the order of its additions, and so the
last bits of the result.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from mlp.augment import random_affine
from mlp.data import MNIST_FILES, load_mnist
from mlp.model_io import DEFAULT_MODEL_PATH
from mlp.network import MLP, Sequential
from mlp.optimizers import Adam, constant, cosine_decay, linear_decay
from mlp.training import History, evaluate, fit

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


def train(recipe: Recipe, *, progress: bool = True) -> tuple[Sequential, History, dict[str, float]]:
    """Train a model by ``recipe``; return it, its history and its final figures."""
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = mnist_splits()

    model = MLP(recipe.sizes, dropout=recipe.dropout, seed=recipe.seed)
    optimizer = Adam(recipe.lr, weight_decay=recipe.weight_decay, schedule=SCHEDULES[recipe.schedule])
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
        progress=progress,
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


def main(argv: list[str] | None = None) -> None:
    defaults = Recipe()
    parser = argparse.ArgumentParser(prog="python -m mlp.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL_PATH, help="model file to write (.npz)")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--threads", type=int, default=defaults.threads, help="BLAS threads (fixed for reproducibility)"
    )
    parser.add_argument("--no-augment", dest="augment", action="store_false", help="train on the raw images")
    args = parser.parse_args(argv)
    recipe = Recipe(epochs=args.epochs, seed=args.seed, threads=args.threads, augment=args.augment)

    print(f"Training {'-'.join(map(str, recipe.sizes))} on MNIST: {recipe}")
    start = time.perf_counter()
    model, _, metrics = train(recipe)
    wall = time.perf_counter() - start
    path = model.save(
        args.out,
        recipe=asdict(recipe),
        metrics=metrics,
        training_data_sha256=training_data_sha256(),
        wall_seconds=round(wall, 1),
    )
    size = path.stat().st_size
    print(
        f"best epoch {metrics['best_epoch']} · validation accuracy {metrics['validation_accuracy']:.2%} · "
        f"test accuracy {metrics['test_accuracy']:.2%}"
    )
    print(f"wrote {path} ({size / 1e6:.2f} MB) in {wall:.1f} s; weights SHA-256 {model_digest(model)[:16]}…")


def model_digest(model: Sequential) -> str:
    """SHA-256 of the weights: compare two runs' digests to check they are identical."""
    digest = hashlib.sha256()
    for p in model.parameters():
        digest.update(np.ascontiguousarray(p.value).tobytes())
    return digest.hexdigest()


if __name__ == "__main__":
    main()
