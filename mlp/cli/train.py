"""``python -m mlp train``: train a model on MNIST and write it to a ``.npz`` file.

Without options it trains the shipped recipe (about a minute on two cores)
and writes ``trained-model.npz`` in the current directory. The dashboard's
own model, ``data/mlp-mnist.npz``, is only replaced when you say so with
``--out``.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict
from pathlib import Path

from mlp.training.model_io import save_model, weights_digest
from mlp.training.recipe import Recipe, train, training_data_sha256

DEFAULT_OUT = Path("trained-model.npz")


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parser() -> argparse.ArgumentParser:
    defaults = Recipe()
    p = argparse.ArgumentParser(
        prog="python -m mlp train",
        description=__doc__.split("\n\n")[1].replace("``", ""),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="model file to write (.npz)")
    p.add_argument("--epochs", type=positive_int, default=defaults.epochs, help="passes over the data")
    p.add_argument("--seed", type=int, default=defaults.seed, help="every random draw derives from it")
    p.add_argument(
        "--threads", type=positive_int, default=defaults.threads, help="BLAS threads (fixed: reproducible)"
    )
    p.add_argument("--no-augment", dest="augment", action="store_false", help="train on the raw images")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.out.suffix != ".npz":
        parser().error(f"--out must end in .npz, got {str(args.out)!r}")
    if not args.out.parent.is_dir():
        parser().error(f"--out: no directory {str(args.out.parent)!r} to write into")
    recipe = Recipe(epochs=args.epochs, seed=args.seed, threads=args.threads, augment=args.augment)

    print(f"Training {'-'.join(map(str, recipe.sizes))} on MNIST: {recipe}")
    start = time.perf_counter()
    model, _, metrics = train(recipe)
    wall = time.perf_counter() - start
    path = save_model(
        model,
        args.out,
        recipe=asdict(recipe),
        metrics=metrics,
        training_data_sha256=training_data_sha256(),
        wall_seconds=round(wall, 1),
    )
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
