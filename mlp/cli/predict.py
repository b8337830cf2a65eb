"""Read a digit from an image file: ``python -m mlp predict IMAGE.png [--model PATH]``.

The image goes through the same MNIST-style preprocessing as a drawing in
the dashboard, so a photo of a digit on paper works too. Prints the answer
as the pad gives it (the digit, or "Not sure: 3 (52%) or 5 (40%)?" below
the pad's confidence threshold), then the ten probabilities, most likely first.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from mlp.nn.network import Sequential
from mlp.pad.preprocess import MAX_FILE_BYTES, EmptyDrawingError, ImageFileError, preprocess_digit, read_image
from mlp.pad.view import verdict
from mlp.training.model_io import ModelFileError, load_model


class InputFileError(ValueError):
    """An image file that cannot be read at all: missing, a directory, or too large."""


def read_limited(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of ``path``, reading at most ``limit + 1`` of them (``/dev/zero`` is a file too)."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError:
        raise InputFileError("no such file") from None
    except IsADirectoryError:
        raise InputFileError("it is a directory, not an image file") from None
    except OSError as e:
        raise InputFileError(f"cannot read it ({e.strerror or e})") from e
    if len(data) > limit:
        raise InputFileError(
            f"it is larger than {limit / 1e6:g} MB, the limit for an image of one digit "
            "(the dashboard refuses it too): crop or shrink it"
        )
    return data


def predict_file(path: Path, model: Sequential) -> np.ndarray:
    """The ten class probabilities for the digit in the image file ``path``.

    The file is decoded exactly as the dashboard decodes an upload (PNG or
    JPEG, turned upright, transparency resolved, size limited).
    """
    return model.predict_proba(preprocess_digit(read_image(read_limited(path))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mlp predict",
        description="Read the digit in a PNG or JPEG file, as the dashboard's drawing pad reads an upload.",
    )
    parser.add_argument("image", type=Path, help="a PNG or JPEG of one digit, up to 5 MB")
    parser.add_argument(
        "--model", type=Path, default=None, metavar="FILE.npz", help="model file (default: the shipped model)"
    )
    args = parser.parse_args(argv)
    try:
        model = load_model(args.model)
    except (FileNotFoundError, ModelFileError) as e:
        print(f"error: cannot use the model: {e}", file=sys.stderr)
        return 1
    try:
        proba = predict_file(args.image, model)
    except ImageFileError as e:
        print(f"error: {args.image} is not an image this tool can read: {e}", file=sys.stderr)
        return 1
    except (InputFileError, EmptyDrawingError) as e:
        print(f"error: {args.image}: {e}", file=sys.stderr)
        return 1
    state, digit, caption = verdict(proba)
    print(f"{args.image}: {digit} ({caption})" if state == "sure" else f"{args.image}: {caption}")
    for digit in np.argsort(proba)[::-1]:
        share = ">99.9%" if proba[digit] > 0.999 else f"{proba[digit]:.1%}"  # never a rounded-up 100 %
        print(f"  {digit}  {share:>6}  {'█' * round(40 * proba[digit])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
