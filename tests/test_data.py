"""Tests for mlp.training.data: the IDX reader on files written here, and MNIST as shipped in data/."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from mlp.training import data
from mlp.training.data import MNIST_FILES, DataFileError, download, load_mnist, read_idx

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "mnist"
CODES = {
    np.uint8: 0x08,
    np.int8: 0x09,
    np.int16: 0x0B,
    np.int32: 0x0C,
    np.float32: 0x0D,
    np.float64: 0x0E,
}


def idx_bytes(arr: np.ndarray) -> bytes:
    """Encode ``arr`` as IDX, independently of the reader under test."""
    header = bytes([0, 0, CODES[arr.dtype.type], arr.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def write(path: Path, payload: bytes, gz: bool) -> Path:
    path.write_bytes(gzip.compress(payload) if gz else payload)
    return path


ARRAYS = {
    "uint8-3d": np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4) * 10,
    "int8-2d": np.array([[-128, 0], [5, 127]], dtype=np.int8),
    "int16-2d": np.array([[-32768, -1, 0], [1, 258, 32767]], dtype=np.int16),
    "int32-1d": np.array([-(2**31), 7, 2**31 - 1], dtype=np.int32),
    "float32-1d": np.array([0.0, -1.5, 3.25, np.inf], dtype=np.float32),
    "float64-2d": np.array([[np.pi, -0.0]], dtype=np.float64),
    "empty": np.zeros((0, 5), dtype=np.uint8),
}


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "raw"])
@pytest.mark.parametrize("name", list(ARRAYS))
def test_read_idx_roundtrip(tmp_path: Path, name: str, gz: bool) -> None:
    expected = ARRAYS[name]
    # The name deliberately lies about compression: detection is by magic bytes.
    got = read_idx(write(tmp_path / "x.idx.gz", idx_bytes(expected), gz))
    assert got.shape == expected.shape
    assert got.dtype == expected.dtype and got.dtype.isnative
    assert got.flags.writeable
    np.testing.assert_array_equal(got, expected)


GOOD = idx_bytes(np.arange(6, dtype=np.int16).reshape(2, 3))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\x01\x00" + GOOD[2:], "not an IDX file"),
        (b"", "not an IDX file"),
        (GOOD[:2] + b"\x0a" + GOOD[3:], "unknown IDX type code 0x0A"),
        (GOOD[:6], "header truncated"),
        (GOOD[:-1], "truncated"),
        (GOOD + b"\0\0", "too long"),
    ],
    ids=["bad-magic", "empty", "unknown-type", "short-header", "truncated", "too-long"],
)
@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "raw"])
def test_read_idx_rejects_bad_files(tmp_path: Path, payload: bytes, message: str, gz: bool) -> None:
    path = write(tmp_path / "bad.idx", payload, gz)
    with pytest.raises(DataFileError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_read_idx_rejects_broken_gzip(tmp_path: Path) -> None:
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(GOOD)[:-6])
    with pytest.raises(DataFileError, match="gzip"):
        read_idx(path)


@pytest.fixture(scope="module")
def mnist():
    return load_mnist(DATA_DIR, download=False)


def test_load_mnist_shapes_dtypes_range(mnist) -> None:
    (x_train, y_train), (x_test, y_test) = mnist
    assert x_train.shape == (60_000, 784) and x_test.shape == (10_000, 784)
    assert y_train.shape == (60_000,) and y_test.shape == (10_000,)
    assert x_train.dtype == x_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int64
    for x in (x_train, x_test):
        assert x.min() == 0.0 and x.max() == 1.0
    # Exactly k/255 for the original byte k.
    raw = read_idx(DATA_DIR / "t10k-images-idx3-ubyte.gz").reshape(10_000, 784)
    np.testing.assert_array_equal(x_test, raw.astype(np.float32) / np.float32(255))


def test_load_mnist_labels(mnist) -> None:
    (_, y_train), (_, y_test) = mnist
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert np.bincount(y_train, minlength=10).tolist() == [
        5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949,
    ]  # fmt: skip
    assert np.bincount(y_test, minlength=10).tolist() == [
        980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009,
    ]  # fmt: skip


def test_load_mnist_is_cached_and_read_only(mnist) -> None:
    again = load_mnist(DATA_DIR, download=False)
    assert again[0][0] is mnist[0][0]
    for arr in (*mnist[0], *mnist[1]):
        assert not arr.flags.writeable
        with pytest.raises(ValueError):
            arr[0] = 0
    assert mnist[0][0].copy().flags.writeable


def test_corrupt_file_names_file_and_both_checksums(tmp_path: Path) -> None:
    for name in MNIST_FILES:
        shutil.copy(DATA_DIR / name, tmp_path / name)
    name = "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress((tmp_path / name).read_bytes()))
    raw[100] = (raw[100] + 1) % 10  # still a valid label: only the checksum can tell
    (tmp_path / name).write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(DataFileError) as info:
        load_mnist(tmp_path, download=False)
    message = str(info.value)
    assert str(tmp_path / name) in message
    assert MNIST_FILES[name][0] in message
    assert hashlib.sha256(raw).hexdigest() in message
    assert "delete" in message


def test_missing_file_without_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data.urllib.request, "urlopen", pytest.fail)  # must not touch the network
    monkeypatch.setenv("MLP_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte\.gz") as info:
        load_mnist(download=False)
    assert str(tmp_path) in str(info.value)
    assert data.MIRRORS[0] in str(info.value)


def test_download_from_file_mirror(tmp_path: Path) -> None:
    name = "train-labels-idx1-ubyte.gz"
    dead = (tmp_path / "nowhere").as_uri() + "/"
    good = DATA_DIR.as_uri() + "/"
    target = download(name, tmp_path / "out", [dead, good])
    assert target == tmp_path / "out" / name
    assert target.read_bytes() == (DATA_DIR / name).read_bytes()
    assert [p.name for p in target.parent.iterdir()] == [name]  # no temporary files left


def test_download_with_wrong_checksum_leaves_nothing(tmp_path: Path) -> None:
    name = "train-labels-idx1-ubyte.gz"
    with pytest.raises(FileNotFoundError, match="checksum mismatch") as info:
        download(name, tmp_path, [DATA_DIR.as_uri() + "/"], sha256="0" * 64)
    assert name in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_download_all_mirrors_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(url: str, timeout: float):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(data.urllib.request, "urlopen", refuse)
    mirrors = ["https://a.invalid/mnist/", "https://b.invalid/mnist/"]
    with pytest.raises(FileNotFoundError) as info:
        download("t10k-labels-idx1-ubyte.gz", tmp_path, mirrors)
    for mirror in mirrors:
        assert mirror + "t10k-labels-idx1-ubyte.gz" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_load_mnist_downloads_missing_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data, "MIRRORS", (DATA_DIR.as_uri() + "/",))
    shutil.copy(DATA_DIR / "train-images-idx3-ubyte.gz", tmp_path)  # the other three are fetched
    (x_train, y_train), (x_test, _) = load_mnist(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(MNIST_FILES)
    assert x_train.shape == (60_000, 784) and x_test.shape == (10_000, 784)
    assert y_train[:3].tolist() == [5, 0, 4]
