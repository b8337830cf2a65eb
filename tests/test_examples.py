"""Examples files round-trip exactly, and anything else (including hostile uploads) gets a clear error."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mlp.training.examples import (
    MAX_EXAMPLES,
    MAX_FILE_BYTES,
    ExamplesFileError,
    load_examples,
    save_examples,
)
from mlp.training.model_io import DEFAULT_MODEL_PATH

RNG = np.random.default_rng(0)
X = RNG.random((4, 28, 28), dtype=np.float32)
Y = np.array([0, 7, 1, 9])


def test_round_trip_is_exact(tmp_path: Path):
    path = save_examples(tmp_path / "mine.npz", X, Y)
    x, y = load_examples(path)
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert np.array_equal(x, X) and np.array_equal(y, Y)
    x_bytes, _ = load_examples(path.read_bytes(), name="upload.npz")
    assert np.array_equal(x_bytes, X)
    assert [p.name for p in tmp_path.iterdir()] == ["mine.npz"], "no temporary file left behind"


def test_flat_images_and_small_integer_labels_are_saved_in_the_standard_form(tmp_path: Path):
    save_examples(tmp_path / "flat.npz", X.reshape(4, 784).astype(np.float64), Y.astype(np.int8))
    x, y = load_examples(tmp_path / "flat.npz")
    assert x.shape == (4, 28, 28) and np.array_equal(x, X) and y.dtype == np.int64


def test_the_file_holds_no_pickle(tmp_path: Path):
    path = save_examples(tmp_path / "mine.npz", X, Y)
    with np.load(path, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["format", "format_version", "images", "labels"]


NAN = X.copy()
NAN[1, 2, 3] = np.nan


@pytest.mark.parametrize(
    ("x", "y", "error", "words"),
    [
        (X * 255, Y, ValueError, "[0, 1]"),
        (NAN, Y, ValueError, "NaN"),
        (X.astype(np.uint8), Y, TypeError, "floats"),
        (X[:, :20], Y, ValueError, "(N, 28, 28)"),
        (X, np.array([0, 7, 1, 10]), ValueError, "labels must lie in 0..9"),
        (X, Y[:3], ValueError, "4 inputs but 3 labels"),
        (X, Y.astype(float), TypeError, "integer"),
        (X[:0], Y[:0], ValueError, "no examples"),
        (
            np.zeros((MAX_EXAMPLES + 1, 28, 28), np.float32),
            np.zeros(MAX_EXAMPLES + 1, int),
            ValueError,
            "need 1",
        ),
    ],
)
def test_saving_bad_examples_is_refused_and_writes_nothing(tmp_path: Path, x, y, error, words):
    with pytest.raises(error) as caught:
        save_examples(tmp_path / "bad.npz", x, y)
    assert words in str(caught.value) and "bad.npz" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_the_suffix_must_be_npz(tmp_path: Path):
    with pytest.raises(ValueError, match=r"\.npz"):
        save_examples(tmp_path / "mine.pkl", X, Y)


def npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


GOOD = {"format": np.array("mlp-examples"), "format_version": np.array(1), "images": X, "labels": Y}


def huge_claim() -> bytes:
    """A tiny zip whose images.npy header claims a billion images."""
    buffer = io.BytesIO(npz_bytes(**{k: v for k, v in GOOD.items() if k != "images"}))
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (10**9, 28, 28)}
    )
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("images.npy", header.getvalue() + bytes(64))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"not a zip at all", "it is not an .npz (zip) archive: it starts with the bytes 6e 6f"),
        (npz_bytes(**GOOD)[:300], "truncated or corrupt"),
        (DEFAULT_MODEL_PATH.read_bytes(), "expected the entries"),
        (npz_bytes(**{**GOOD, "format": np.array("mlp-npz")}), "format mlp-npz v1, expected mlp-examples"),
        (npz_bytes(**{**GOOD, "images": X.astype(np.float64)}), "images has dtype float64"),
        (npz_bytes(**{**GOOD, "images": X[:, :27]}), "images has shape (4, 27, 28)"),
        (npz_bytes(**{**GOOD, "labels": Y.astype(np.int32)}), "labels has dtype int32"),
        (npz_bytes(**{**GOOD, "labels": np.array([0, 7, 1, 12])}), "labels must lie in 0..9"),
        (npz_bytes(**{**GOOD, "labels": Y[:3]}), "its examples: 4 inputs but 3 labels"),
        (npz_bytes(**{**GOOD, "images": X * 2}), "[0, 1]"),
        (
            npz_bytes(**{**GOOD, "labels": np.array([None] * 4, dtype=object)}),
            "labels.npy holds Python objects, which would need pickle",
        ),
        (npz_bytes(**{**GOOD, "extra": Y}), "expected the entries"),
        (huge_claim(), "images.npy declares (1000000000, 28, 28) of float32 but holds 64 bytes"),
    ],
)
def test_loading_a_bad_file_names_it_and_says_why(tmp_path: Path, data: bytes, words: str):
    path = tmp_path / "upload.npz"
    path.write_bytes(data)
    with pytest.raises(ExamplesFileError) as caught:
        load_examples(path)
    assert str(path) in str(caught.value) and words in str(caught.value)
    with pytest.raises(ExamplesFileError, match=r"my-drawings\.npz"):
        load_examples(data, name="my-drawings.npz")


def test_an_oversized_file_is_refused_unread(tmp_path: Path):
    path = tmp_path / "big.npz"
    path.write_bytes(bytes(MAX_FILE_BYTES + 1))
    with pytest.raises(ExamplesFileError, match="MB"):
        load_examples(path)
    with pytest.raises(ExamplesFileError, match="the uploaded file is"):
        load_examples(bytes(MAX_FILE_BYTES + 1))


def test_a_missing_file_is_named(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match=r"nothing\.npz"):
        load_examples(tmp_path / "nothing.npz")
