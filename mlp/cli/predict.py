"""Read a digit from an image file: ``python -m mlp predict IMAGE.png [--model PATH]``.

The image goes through the same MNIST-style preprocessing as a drawing in
the dashboard, so a photo of a digit on paper works too. Prints the digit and
the ten probabilities, most likely first.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from mlp.nn.network import Sequential
from mlp.pad.preprocess import EmptyDrawingError, ImageFileError, preprocess_digit, read_image
from mlp.training.model_io import ModelFileError, load_model


def predict_file(path: Path, model: Sequential) -> np.ndarray:
    """The ten class probabilities for the digit in the image file ``path``.

    The file is decoded exactly as the dashboard decodes an upload (PNG or
    JPEG, turned upright, transparency resolved, size limited).
    """
    return model.predict_proba(preprocess_digit(read_image(path.read_bytes())))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlp predict", description=__doc__.split("\n\n")[0])
    parser.add_argument("image", type=Path, help="a PNG or JPEG of one digit")
    parser.add_argument("--model", type=Path, default=None, help="model file (default: the shipped model)")
    args = parser.parse_args(argv)
    try:
        proba = predict_file(args.image, load_model(args.model))
    except ImageFileError as e:
        print(f"error: {args.image} is not an image this tool can read: {e}", file=sys.stderr)
        return 1
    except (OSError, EmptyDrawingError, ModelFileError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    digit = int(proba.argmax())
    print(f"{args.image}: {digit} ({proba[digit]:.1%})")
    for cls in np.argsort(proba)[::-1]:
        print(f"  {cls}  {proba[cls]:6.1%}  {'█' * round(40 * proba[cls])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
