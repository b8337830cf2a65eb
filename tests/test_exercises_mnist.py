"""``check_image_to_vector`` (notebook 01) accepts load_mnist's conversion and names each typical mistake."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import mlp
from mlp.exercises import check_image_to_vector
from mlp.exercises.mnist import exercise_images, reference_vector
from mlp.training.data import mnist_dir


def image_to_vector(image):
    return image.reshape(784) / np.float32(255)


def image_to_vector_by_loops(image):
    """Another right answer, pixel by pixel: (r, c) goes to 28 r + c."""
    vector = np.empty(784, np.float32)
    for r in range(28):
        for c in range(28):
            vector[28 * r + c] = image[r, c] / np.float32(255)
    return vector


def _dividing_in_place(image):
    image /= 255
    return image.reshape(784)


def _halving_in_place(image):
    image //= 2
    return image.reshape(784) / np.float32(127.5)


def not_written(image):
    raise NotImplementedError


MISTAKES = {
    "no scaling": (lambda im: im.reshape(784).astype(np.float32), ["not scaled", "255"]),
    "integer division": (lambda im: (im // 255).reshape(784).astype(np.float32), ["integer division"]),
    "dividing by 256": (lambda im: im.reshape(784) / np.float32(256), ["not 256"]),
    "the image's own maximum": (
        lambda im: (im / im.max()).reshape(784).astype(np.float32),
        ["faint stroke", "own maximum"],
    ),
    "column-major": (
        lambda im: im.reshape(784, order="F") / np.float32(255),
        ["column by column", "28 r + c"],
    ),
    "transposed": (lambda im: im.T.reshape(784) / np.float32(255), ["column by column"]),
    "inverted": (lambda im: 1 - im.reshape(784) / np.float32(255), ["inverted"]),
    "not flattened": (lambda im: im / np.float32(255), ["(28, 28)", "flatten"]),
    "a batch of one": (lambda im: im.reshape(1, 784) / np.float32(255), ["(1, 784)", "not a batch"]),
    "float64": (lambda im: im.reshape(784) / 255, ["float64", "np.float32(255)"]),
    "a list": (lambda im: list(image_to_vector(im)), ["list", "float32 array"]),
    "dividing a uint8 array in place": (_dividing_in_place, ["raised", "`image /= 255` cannot"]),
    "changing the image in place": (_halving_in_place, ["changed its argument `image` in place"]),
    "returning None": (lambda im: None, ["got None"]),
    "not written yet": (
        not_written,
        ["not written yet", "First hint:", "float32 number in [0, 1]", ".hint(2)"],
    ),
}


@pytest.mark.parametrize("solution", [image_to_vector, image_to_vector_by_loops])
def test_a_right_conversion_passes(solution, capsys):
    result = check_image_to_vector(solution)
    assert result.passed, result.message
    assert capsys.readouterr().out.startswith("✓ image_to_vector: ")


@pytest.mark.parametrize("mistake", MISTAKES, ids=list(MISTAKES))
def test_a_typical_mistake_gets_a_precise_diagnosis(mistake):
    wrong, expected_words = MISTAKES[mistake]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a diagnosis, never a RuntimeWarning (the blank image's 0 / 0)
        result = check_image_to_vector(wrong, verbose=False)
    assert not result.passed
    assert result.not_written == (mistake == "not written yet")
    for words in expected_words:
        assert words in result.message, f"{words!r} not in the diagnosis:\n{result.message}"


def test_the_test_images_are_uint8_and_cover_every_byte():
    images = exercise_images()
    assert all(image.dtype == np.uint8 and image.shape == (28, 28) for image in images.values())
    assert set(np.unique(np.concatenate([image.ravel() for image in images.values()]))) == set(range(256))


def test_the_reference_is_load_mnist_s_conversion():
    path = mnist_dir() / "t10k-images-idx3-ubyte.gz"
    if not path.exists():
        pytest.skip("MNIST is not in this checkout")
    _, (x_test, _) = mlp.load_mnist(download=False)
    raw = mlp.read_idx(path)[:50]
    np.testing.assert_array_equal(np.stack([reference_vector(image) for image in raw]), x_test[:50])
