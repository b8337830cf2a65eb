"""One set of input rules (mlp.nn.inputs), the same at every entry point."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import mlp
from mlp.nn.inputs import as_examples
from mlp.training.examples import load_examples, save_examples

IDS = np.array([3, 1, 4, 1])
ONE_HOT = np.eye(10, dtype=np.int64)[IDS]
X = np.random.default_rng(0).random((4, 28, 28), dtype=np.float32)


def test_one_hot_labels_mean_the_same_as_ids_everywhere(tmp_path: Path):
    model = mlp.MLP([784, 8, 10], seed=0)
    assert model.accuracy(X, ONE_HOT) == model.accuracy(X, IDS)
    assert mlp.evaluate(model, X, ONE_HOT) == mlp.evaluate(model, X, IDS)
    options = {"steps": 2, "batch_size": 4, "seed": 0}
    by_ids = mlp.fine_tune(model, X, IDS, **options)
    by_one_hot = mlp.fine_tune(model, X, ONE_HOT, **options)
    for a, b in zip(by_ids.parameters(), by_one_hot.parameters(), strict=True):
        np.testing.assert_array_equal(a.value, b.value)
    _, labels = load_examples(save_examples(tmp_path / "e.npz", X, ONE_HOT))
    np.testing.assert_array_equal(labels, IDS)


@pytest.mark.parametrize(
    ("y", "error", "words"),
    [
        (np.array([3.0, 1.0, 4.0, 1.0]), TypeError, "integer class ids"),
        (np.array([True, False, True, True]), TypeError, "integer class ids"),
        (np.full((4, 10), 0.1), ValueError, "soft labels"),
        (np.array([3, 1, 4, 10]), ValueError, "0..9"),
        (IDS[:3], ValueError, "4 inputs but 3 labels"),
    ],
)
def test_bad_labels_get_the_same_error_everywhere(tmp_path: Path, y, error, words):
    model = mlp.MLP([784, 8, 10], seed=0)
    calls = {
        "as_examples": lambda: as_examples(X, y, n_features=784, n_classes=10, dtype=np.float32, what="data"),
        "fine_tune": lambda: mlp.fine_tune(model, X, y, steps=1, batch_size=4),
        "save_examples": lambda: save_examples(tmp_path / "e.npz", X, y),
    }
    for name, call in calls.items():
        with pytest.raises(error, match=words):
            call()
        assert not (tmp_path / "e.npz").exists(), name


def test_pixels_outside_0_1_are_refused_where_the_inputs_are_digit_images(tmp_path: Path):
    """fine_tune and examples files take MNIST-style pixels; a network itself takes any real features."""
    model = mlp.MLP([784, 8, 10], seed=0)
    with pytest.raises(ValueError, match=r"pixels must lie in \[0, 1\], got values in \[0, 25"):
        mlp.fine_tune(model, X * 255, IDS)
    with pytest.raises(ValueError, match=r"pixels must lie in \[0, 1\]"):
        save_examples(tmp_path / "e.npz", X * 255, IDS)
    standardised = (X - X.mean()) / X.std()
    assert model.predict_proba(standardised).shape == (4, 10)
    batch, labels = as_examples(standardised, IDS, n_features=784, n_classes=10, dtype=np.float32)
    assert batch.shape == (4, 784) and labels.dtype == np.int64


def test_one_image_goes_with_one_label():
    batch, labels = as_examples(
        X[0], 7, n_features=784, n_classes=10, dtype=np.float32, what="one drawing", pixels=True
    )
    assert batch.shape == (1, 784) and labels.tolist() == [7]
