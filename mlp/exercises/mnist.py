"""Checker for notebook 01's exercise: from a raw MNIST image to the vector the network reads.

* ``check_image_to_vector(fn)`` — ``fn(image) -> vector``: a ``(28, 28)`` ``uint8``
  image in, its ``(784,)`` ``float32`` vector in [0, 1] out, row by row.

The right answer is ``load_mnist``'s own conversion, ``image.reshape(784) / np.float32(255)``.
The checker builds its images itself instead of reading MNIST, so that it
runs anywhere and every mistake shows: one image holds every byte value
0…255 in a pattern that is not symmetric (a column-major flattening cannot
give the right answer by accident), another never reaches 255 (dividing by
the image's own maximum stands out), and the last is blank.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mlp.exercises.checking import ExerciseResult, Mismatch, call_learner, compare_arrays, hint_for, run_check

__all__ = ["check_image_to_vector"]

SIDE = 28
PIXELS = SIDE * SIDE


def reference_vector(image: np.ndarray) -> np.ndarray:
    """What ``load_mnist`` does to each image: row-major flattening, then bytes 0…255 to [0, 1]."""
    return image.reshape(PIXELS) / np.float32(255)


def exercise_images() -> dict[str, np.ndarray]:
    """Three ``(28, 28)`` ``uint8`` images, each chosen to expose a different mistake."""
    rng = np.random.default_rng(1)
    every_byte = np.concatenate([np.arange(256), rng.integers(0, 256, PIXELS - 256)]).astype(np.uint8)
    faint = np.zeros((SIDE, SIDE), np.uint8)
    faint[6:22, 9:19] = rng.integers(40, 181, (16, 10))  # a faint stroke, brightest pixel 180
    return {
        "an image with every byte value 0…255": every_byte.reshape(SIDE, SIDE),
        "a faint stroke (brightest pixel 180)": faint,
        "a blank image": np.zeros((SIDE, SIDE), np.uint8),
    }


def check_image_to_vector(
    image_to_vector: Callable[[np.ndarray], Any], *, verbose: bool = True
) -> ExerciseResult:
    """Check ``image_to_vector(image) -> vector`` against ``load_mnist``'s conversion.

    Shapes: ``image (28, 28) uint8`` in, ``vector (784,) float32`` in [0, 1] out,
    pixel ``(r, c)`` at index ``28 r + c``.
    """
    fixes = {"image": "compute a new array: image.reshape(784) / np.float32(255) leaves image as it was."}

    def check() -> str:
        for description, image in exercise_images().items():
            got = call_learner(
                "image_to_vector",
                image_to_vector,
                {"image": image},
                hint="work on a new array: `image /= 255` cannot write floats into a uint8 array.",
                fixes=fixes,
            )
            _compare(description, image, got)
        return "every pixel (r, c) lands at index 28 r + c, scaled to [0, 1] in float32, as load_mnist does."

    return run_check(
        "image_to_vector",
        check,
        first_hint="the (28, 28) grid becomes 784 numbers, row after row (pixel (r, c) at index 28 r + c), "
        "and each byte 0…255 becomes a float32 number in [0, 1]: 0 stays 0, 255 becomes 1.",
        more_help="image.reshape(784) / np.float32(255): reshape reads row after row, and dividing by a "
        "float32 255 keeps the result float32 (dividing the uint8 array by the int 255 gives float64).",
        verbose=verbose,
        keep=image_to_vector,
    )


def _compare(description: str, image: np.ndarray, got: Any) -> None:
    """Raise ``Mismatch`` unless ``got`` is ``image``'s vector, naming the mistake it looks like."""
    expected = reference_vector(image)
    if isinstance(got, np.ndarray) and got.shape == (SIDE, SIDE):
        raise Mismatch(f"for {description}: got shape (28, 28): flatten it, row by row, into (784,).")
    if isinstance(got, np.ndarray) and got.shape == (1, PIXELS):
        raise Mismatch(
            f"for {description}: got shape (1, 784): return one vector of shape (784,), not a batch "
            "of one (reshape(784), not reshape(1, -1))."
        )
    image64 = image.astype(np.float64)
    with np.errstate(all="ignore"):  # the per-image maximum of a blank image is 0
        own_max = image64.reshape(PIXELS) / image64.max()
    compare_arrays(
        f"vector (for {description})",
        got,
        expected,
        rtol=0,
        atol=1e-6,
        hint=hint_for(
            got,
            "pixel (r, c) goes to index 28 r + c, and its byte 0…255 becomes byte / 255.",
            by_value=[
                (
                    image64.reshape(PIXELS),
                    "the bytes are not scaled: divide by 255 so that they lie in [0, 1].",
                ),
                (
                    (image // 255).reshape(PIXELS).astype(np.float64),
                    "`// 255` is integer division: every pixel becomes 0 or 1. Divide with `/`.",
                ),
                (
                    image64.reshape(PIXELS) / 256,
                    "divide by 255, not 256: the brightest byte, 255, must become 1.",
                ),
                (
                    own_max,
                    "you divided by the image's own maximum; load_mnist divides every image by 255, so "
                    "that the same ink gives the same value in every image (and a blank image is not 0 / 0).",
                ),
                (
                    image64.T.reshape(PIXELS) / 255,
                    "the vector goes column by column (order='F', or a transpose): pixel (r, c) must go "
                    "to index 28 r + c, which is NumPy's default row-major reshape(784).",
                ),
                (
                    1 - image64.reshape(PIXELS) / 255,
                    "the values are inverted: ink is 1 and background 0 in MNIST, so do not take 1 - value.",
                ),
            ],
        ),
    )
    dtype = got.dtype if isinstance(got, np.ndarray) else type(got).__name__
    if dtype != np.float32:
        why = (
            " image / 255 is float64 (NumPy turns uint8 divided by a Python number into float64)."
            if dtype == np.float64
            else ""
        )
        raise Mismatch(
            f"for {description}: the values are right but the result is {dtype}, not a float32 array."
            f"{why} Divide by np.float32(255) to get the float32 the network trains in, at half the memory."
        )
