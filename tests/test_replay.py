"""``mnist_replay``: the right images, balanced, from the training part only, verified as they stream."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

import mlp
from mlp.training.data import DataFileError, mnist_dir
from mlp.training.recipe import VALIDATION_SIZE
from mlp.training.replay import IMAGES, LABELS, balanced_indices, mnist_replay

DATA = mnist_dir()


def test_a_balanced_read_only_sample_of_float32_pixels():
    x, y = mnist_replay(200, seed=1)
    assert x.shape == (200, 784) and x.dtype == np.float32 and y.shape == (200,) and y.dtype == np.int64
    assert np.bincount(y, minlength=10).tolist() == [20] * 10
    assert x.min() >= 0 and x.max() == 1
    assert not x.flags.writeable and not y.flags.writeable, "cached for the process: nobody may change it"


def test_it_is_cached_and_the_seed_chooses_the_images():
    first = mnist_replay(100, seed=2)
    assert mnist_replay(100, seed=2)[0] is first[0], "the second call is free"
    other = mnist_replay(100, seed=3)
    assert not np.array_equal(first[0], other[0])


def test_indices_are_balanced_sorted_deterministic_and_refuse_too_many():
    labels = np.repeat(np.arange(10), 7)
    picked = balanced_indices(labels, 50, seed=0)
    assert np.array_equal(picked, np.sort(picked)) and len(set(picked.tolist())) == 50
    assert np.bincount(labels[picked]).tolist() == [5] * 10
    assert np.array_equal(picked, balanced_indices(labels, 50, seed=0))
    with pytest.raises(ValueError, match="only 7 of digit 0: n can be at most 70"):
        balanced_indices(labels, 80, seed=0)


@pytest.mark.slow
def test_the_images_are_those_of_load_mnist_and_never_the_validation_split():
    (x_all, y_all), _ = mlp.load_mnist()
    x, y = mnist_replay(1000, seed=5)
    picked = balanced_indices(y_all[: len(y_all) - VALIDATION_SIZE], 1000, seed=5)
    assert picked.max() < len(y_all) - VALIDATION_SIZE
    assert np.array_equal(x, x_all[picked]) and np.array_equal(y, y_all[picked])


@pytest.mark.parametrize(("n", "words"), [(0, "multiple of 10"), (15, "multiple of 10"), (True, "multiple")])
def test_bad_sizes_are_refused(n, words):
    with pytest.raises(ValueError, match=words):
        mnist_replay(n)


def test_a_size_beyond_the_smallest_class_is_refused():
    with pytest.raises(ValueError, match=r"only \d+ of digit 5: n can be at most"):
        mnist_replay(60_000)


def test_a_missing_file_is_named(tmp_path: Path):
    shutil.copy(DATA / LABELS, tmp_path / LABELS)
    with pytest.raises(FileNotFoundError, match=IMAGES):
        mnist_replay(10, data_dir=tmp_path)


def write_gz(path: Path, data: bytes) -> None:
    path.write_bytes(gzip.compress(data, compresslevel=1))


def test_a_corrupt_labels_file_fails_its_sha256(tmp_path: Path):
    data = bytearray(gzip.decompress((DATA / LABELS).read_bytes()))
    data[100] = (data[100] + 1) % 10  # one label changed: still a valid file, but not MNIST's
    write_gz(tmp_path / LABELS, bytes(data))
    shutil.copy(DATA / IMAGES, tmp_path / IMAGES)
    with pytest.raises(DataFileError, match=f"{LABELS}.*SHA-256.*corrupt"):
        mnist_replay(10, data_dir=tmp_path)


def test_a_truncated_gzip_is_a_clear_error(tmp_path: Path):
    shutil.copy(DATA / LABELS, tmp_path / LABELS)
    (tmp_path / IMAGES).write_bytes((DATA / IMAGES).read_bytes()[:100_000])
    with pytest.raises(DataFileError, match=f"{IMAGES}: cannot decompress"):
        mnist_replay(10, data_dir=tmp_path)


def test_a_file_that_is_not_mnist_images_is_refused_by_its_header(tmp_path: Path):
    shutil.copy(DATA / LABELS, tmp_path / LABELS)
    write_gz(tmp_path / IMAGES, b"\0\0\x08\x03" + bytes(100))
    with pytest.raises(DataFileError, match="not MNIST's images file"):
        mnist_replay(10, data_dir=tmp_path)
