"""``python -m mlp train``: train a model on MNIST and write it to a ``.npz`` file.

Without options it trains the shipped recipe (about a minute on two cores)
and writes ``trained-model.npz`` in the current directory. The dashboard's
own model, ``data/mlp-mnist.npz``, is only replaced when you say so with
``--out``. The same recipe, seed and thread count give the same weights, bit
for bit, on the same machine and BLAS.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

from mlp.training.data import DataFileError
from mlp.training.model_io import save_model, weights_digest
from mlp.training.recipe import Recipe, train, training_data_sha256

DEFAULT_OUT = Path("trained-model.npz")
MAX_THREADS = 1024


def integer(minimum: int, maximum: int | None = None):
    """An argparse type: a whole number in ``minimum..maximum``, or a message saying what was wrong."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            bounds = f"at least {minimum}" if maximum is None else f"between {minimum} and {maximum}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {value}")
        return value

    return parse


def out_file(text: str) -> Path:
    """An argparse type: a ``.npz`` path whose folder exists and can be written to."""
    path = Path(text)
    if path.suffix != ".npz":
        raise argparse.ArgumentTypeError(f"must end in .npz, got {text!r}")
    if path.is_dir():
        raise argparse.ArgumentTypeError(
            f"{text!r} is a directory; name a file in it, e.g. {path / DEFAULT_OUT}"
        )
    folder = path.parent
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"there is no directory {str(folder)!r} to write {path.name} into")
    if not os.access(folder, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write into {str(folder)!r} (permission denied)")
    return path


def description() -> str:
    """The module's second paragraph, as plain text (no reST ``literal`` markup)."""
    return " ".join(__doc__.split("\n\n")[1].replace("``", "").split())


def parser() -> argparse.ArgumentParser:
    recipe = Recipe()
    p = argparse.ArgumentParser(prog="python -m mlp train", description=description())
    p.add_argument(
        "--out",
        type=out_file,
        default=DEFAULT_OUT,
        metavar="FILE.npz",
        help="model file to write (default: %(default)s, in the current directory)",
    )
    p.add_argument(
        "--epochs",
        type=integer(1, 10_000),
        default=recipe.epochs,
        metavar="N",
        help="passes over the training data (default: %(default)s)",
    )
    p.add_argument(
        "--seed",
        type=integer(0),
        default=recipe.seed,
        metavar="N",
        help="every random draw derives from it: weights, dropout, shuffling, augmentation "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--threads",
        type=integer(1, MAX_THREADS),
        default=recipe.threads,
        metavar="N",
        help="BLAS threads, fixed so that a rerun gives the same weights (default: %(default)s)",
    )
    p.add_argument(
        "--no-augment",
        dest="augment",
        action="store_false",
        help="train on the raw images "
        "(default: augment them with small random rotations, scalings and shifts)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)  # every option is checked here, before any training
    recipe = Recipe(epochs=args.epochs, seed=args.seed, threads=args.threads, augment=args.augment)

    print(f"Training {'-'.join(map(str, recipe.sizes))} on MNIST: {recipe}")
    start = time.perf_counter()
    try:
        model, _, metrics = train(recipe)
    except (FileNotFoundError, DataFileError) as e:
        print(f"error: cannot read MNIST: {e}", file=sys.stderr)
        return 1
    wall = time.perf_counter() - start
    info = {"recipe": asdict(recipe), "metrics": metrics, "training_data_sha256": training_data_sha256()}
    try:
        path = save_model(model, args.out, **info, wall_seconds=round(wall, 1))
    except OSError as e:
        print(f"error: could not write {args.out}: {e.strerror or e}", file=sys.stderr)
        return 1
    digest = weights_digest([p.value for p in model.parameters()])
    print(
        f"best epoch {metrics['best_epoch']} · validation accuracy {metrics['validation_accuracy']:.2%} · "
        f"test accuracy {metrics['test_accuracy']:.2%}"
    )
    print(
        f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB) in {wall:.1f} s; weights SHA-256 {digest[:16]}…"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
