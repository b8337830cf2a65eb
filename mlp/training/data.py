"""MNIST loading with nothing but NumPy and the standard library.

MNIST ships as four IDX files.  We read them ourselves instead of pulling in a
framework's dataset helper, because the format is tiny (a header and a raw
array) and understanding it is part of the course.  Every file is checked
against the SHA-256 of its *decompressed* content: gzip containers differ
between mirrors, the pixels do not, and a silently corrupt download would
otherwise show up much later as a mysteriously bad accuracy.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import os
import tempfile
import urllib.request
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

# name -> (SHA-256 of the decompressed bytes, decompressed size in bytes)
MNIST_FILES: dict[str, tuple[str, int]] = {
    "train-images-idx3-ubyte.gz": (
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        47_040_016,
    ),
    "train-labels-idx1-ubyte.gz": (
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        60_008,
    ),
    "t10k-images-idx3-ubyte.gz": (
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        7_840_016,
    ),
    "t10k-labels-idx1-ubyte.gz": (
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        10_008,
    ),
}
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "data" / "mnist"

# IDX type code -> big-endian NumPy dtype.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class DataFileError(ValueError):
    """A data file exists but its content is wrong (corrupt, truncated, not IDX)."""


def _decompress(data: bytes, source: str | os.PathLike[str]) -> bytes:
    """Gunzip ``data`` if it starts with the gzip magic 1f 8b, else return it as is."""
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataFileError(f"{source}: broken gzip stream ({exc})") from exc


def _parse_idx(data: bytes, source: str | os.PathLike[str]) -> np.ndarray:
    """Parse decompressed IDX bytes into a (read-only, possibly big-endian) view."""
    if len(data) < 4 or data[:2] != b"\0\0":
        raise DataFileError(f"{source}: not an IDX file (magic {data[:4].hex() or 'empty'})")
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        raise DataFileError(f"{source}: unknown IDX type code 0x{code:02X}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataFileError(f"{source}: header truncated ({len(data)} bytes, needs {header})")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "too long"
        raise DataFileError(
            f"{source}: payload {what}: shape {shape} of {dtype.name} needs {expected} bytes"
            f" in all, the file has {len(data)}"
        )
    return np.frombuffer(data, dtype, offset=header).reshape(shape)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read any IDX file, gzip-compressed or raw, into a native-endian writable array.

    Compression is detected from the content (magic bytes), not the file name,
    so a file that a browser or mirror silently decompressed still loads.
    Raises DataFileError naming the file if the header or length is wrong.
    """
    arr = _parse_idx(_decompress(Path(path).read_bytes(), path), path)
    return arr.astype(arr.dtype.newbyteorder("="))  # always a fresh, writable copy


def download(
    name: str,
    directory: str | os.PathLike[str],
    mirrors: Sequence[str] | None = None,
    *,
    sha256: str | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download ``name`` into ``directory`` from the first mirror that serves a verified copy.

    The bytes go to a temporary file in the same directory and are renamed into
    place only after the checksum matches, so an interrupted or corrupt download
    never leaves a file that a later run would trust.  ``mirrors`` are URL
    prefixes tried in order (default ``MIRRORS``; ``file://`` works too, which
    is how the tests use it).
    """
    mirrors = MIRRORS if mirrors is None else mirrors
    expected = sha256 or MNIST_FILES[name][0]
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    errors = []
    for base in mirrors:
        url = base + name
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=directory)
        try:
            with (
                os.fdopen(fd, "wb") as out,
                urllib.request.urlopen(url, timeout=timeout) as response,
            ):
                data = response.read()
                got = hashlib.sha256(_decompress(data, url)).hexdigest()
                if got != expected:
                    raise DataFileError(f"checksum mismatch: expected {expected}, got {got}")
                out.write(data)
            os.replace(tmp, directory / name)
            return directory / name
        except (OSError, ValueError, http.client.HTTPException) as exc:  # try the next mirror
            errors.append(f"{url} ({exc})")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    raise FileNotFoundError(
        f"could not download {name} into {directory}; tried: " + "; ".join(errors or ["no mirrors"])
    )


def _load_verified(path: Path, download_missing: bool) -> np.ndarray:
    """Read one MNIST file, downloading it if allowed, and check its SHA-256."""
    if not path.exists():
        if not download_missing:
            raise FileNotFoundError(
                f"{path} is missing and download=False; fetch it from one of: {', '.join(MIRRORS)}"
            )
        download(path.name, path.parent)
    expected, _ = MNIST_FILES[path.name]
    raw = _decompress(path.read_bytes(), path)
    got = hashlib.sha256(raw).hexdigest()
    if got != expected:
        raise DataFileError(
            f"{path}: SHA-256 of decompressed content is {got}, expected {expected}; "
            "the file is corrupt: delete it so it is downloaded again"
        )
    return _parse_idx(raw, path)


@functools.lru_cache(maxsize=2)  # each entry holds ~220 MB of float32
def _load_cached(directory: Path, download_missing: bool) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    splits = []
    for prefix in ("train", "t10k"):
        images = _load_verified(directory / f"{prefix}-images-idx3-ubyte.gz", download_missing)
        labels = _load_verified(directory / f"{prefix}-labels-idx1-ubyte.gz", download_missing)
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DataFileError(
                f"{directory}: {prefix} images {images.shape} do not match labels {labels.shape}"
            )
        if labels.size and labels.max() > 9:
            raise DataFileError(f"{directory}: {prefix} labels outside 0..9")
        x = images.reshape(len(images), -1) / np.float32(255)  # exact, float32 in [0, 1]
        y = labels.astype(np.int64)
        x.flags.writeable = False
        y.flags.writeable = False
        splits.append((x, y))
    return tuple(splits)


def mnist_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the MNIST files are: ``data_dir`` if given, else ``$MLP_DATA_DIR``, else the shipped copy."""
    directory = data_dir if data_dir is not None else os.environ.get("MLP_DATA_DIR") or DEFAULT_DIR
    return Path(directory).resolve()


def load_mnist(
    data_dir: str | os.PathLike[str] | None = None, *, download: bool = True
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Return ``(x_train, y_train), (x_test, y_test)`` with x float32 (N, 784) in [0, 1], y int64.

    ``data_dir`` defaults to ``$MLP_DATA_DIR`` or ``<repo>/data/mnist``.  Missing
    files are downloaded unless ``download=False``.  Results are cached per
    directory for the life of the process (loading sits inside the timed
    benchmark), so the arrays are READ-ONLY and shared between callers: index
    with a permutation (``x[perm]``) or call ``.copy()`` before changing them.
    """
    train, test = _load_cached(mnist_dir(data_dir), download)
    return train, test
