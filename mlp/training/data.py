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
import hashlib
import http.client
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mlp.training.fetch import fetch
from mlp.training.idx import DataFileError, parse_idx, read_idx, read_idx_bytes
from mlp.training.locations import MNIST_FOLDER, checkout_data_dir, installed_data_dir, user_cache_dir

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
DATA_ENV = "MLP_DATA_DIR"  # a folder holding the four files, to use instead of the shipped copy
DOWNLOAD_TIMEOUT = 30.0  # seconds: the longest wait for a server to answer or send the next bytes
DOWNLOAD_DEADLINE = 600.0  # seconds: the whole download, every file and mirror together

__all__ = ["MIRRORS", "MNIST_FILES", "DataFileError", "download", "load_mnist", "mnist_dir", "read_idx"]


def __getattr__(name: str) -> Any:
    if name == "DEFAULT_DIR":  # where load_mnist() looks without a data_dir, found when asked for
        return mnist_dir()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def mnist_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the MNIST files are (or will be downloaded to).

    In this order: ``data_dir``; ``$MLP_DATA_DIR``; the checkout's
    ``data/mnist``; the copy installed with the package
    (``<prefix>/share/mlp-from-scratch/mnist``); and when there is none of
    these, the user's cache (``~/.cache/mlp-from-scratch/mnist``), where
    ``load_mnist`` downloads them.
    """
    if data_dir is not None:
        return Path(data_dir).resolve()
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).resolve()
    for shipped in (checkout_data_dir(), installed_data_dir()):
        if shipped is not None and (shipped / MNIST_FOLDER).is_dir():
            return shipped / MNIST_FOLDER
    return user_cache_dir() / MNIST_FOLDER


def download(
    name: str,
    directory: str | os.PathLike[str],
    mirrors: Sequence[str] | None = None,
    *,
    sha256: str | None = None,
    size: int | None = None,
    timeout: float = DOWNLOAD_TIMEOUT,
    deadline: float = DOWNLOAD_DEADLINE,
    max_bytes: int | None = None,
) -> Path:
    """Download ``name`` into ``directory`` from the first mirror that serves a verified copy.

    The bytes go to a temporary file in the same directory and are renamed into
    place only after the checksum matches, so an interrupted or corrupt download
    never leaves a file that a later run would trust.  ``mirrors`` are URL
    prefixes tried in order (default ``MIRRORS``; ``file://`` works too, which
    is how the tests use it). ``sha256`` and ``size`` describe the decompressed
    content (default: ``MNIST_FILES``). Limits: ``timeout`` seconds for any one
    wait, ``deadline`` seconds for all mirrors together, ``max_bytes`` from
    one mirror (default: ``size`` plus 1 %, a raw copy with room for gzip's framing).
    """
    mirrors = MIRRORS if mirrors is None else mirrors
    expected, size = sha256 or MNIST_FILES[name][0], size or MNIST_FILES[name][1]
    max_bytes = max_bytes or size + size // 100 + 4096
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stop_at, errors = time.monotonic() + deadline, []
    for base in mirrors:
        url = base + name
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=directory)
        try:
            with os.fdopen(fd, "wb") as out:
                fetch(url, out, timeout=timeout, stop_at=stop_at, max_bytes=max_bytes)
            got = hashlib.sha256(read_idx_bytes(tmp, size)).hexdigest()
            if got != expected:
                raise DataFileError(f"checksum mismatch: expected {expected}, got {got}")
            os.replace(tmp, directory / name)
            return directory / name
        except (OSError, ValueError, http.client.HTTPException) as exc:  # try the next mirror
            errors.append(f"{url} ({exc})")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    raise FileNotFoundError(
        f"could not download {name} into {directory} within {max(deadline, 0):.3g} s; tried: "
        + "; ".join(errors or ["no mirrors"])
    )


def _fetch_missing(directory: Path, download_missing: bool, deadline: float, max_bytes: int | None) -> None:
    """Download whichever MNIST files ``directory`` lacks, all within one deadline."""
    missing = [name for name in MNIST_FILES if not (directory / name).exists()]
    if missing and not download_missing:
        raise FileNotFoundError(
            f"{directory / missing[0]} is missing and download=False; fetch it from one of: "
            f"{', '.join(MIRRORS)}, or point ${DATA_ENV} at a folder that holds the four MNIST files"
        )
    stop_at = time.monotonic() + deadline
    for name in missing:
        download(name, directory, MIRRORS, deadline=stop_at - time.monotonic(), max_bytes=max_bytes)


def _load_verified(path: Path) -> np.ndarray:
    """Read one MNIST file, no larger than its known size, and check its SHA-256."""
    expected, size = MNIST_FILES[path.name]
    raw = read_idx_bytes(path, max_bytes=size)
    got = hashlib.sha256(raw).hexdigest()
    if got != expected:
        raise DataFileError(
            f"{path}: SHA-256 of decompressed content is {got}, expected {expected}; "
            "the file is corrupt: delete it so it is downloaded again"
        )
    return parse_idx(raw, path)


@functools.lru_cache(maxsize=2)  # each entry holds ~220 MB of float32
def _load_cached(
    directory: Path, download_missing: bool, deadline: float, max_bytes: int | None
) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    _fetch_missing(directory, download_missing, deadline, max_bytes)
    splits = []
    for prefix in ("train", "t10k"):
        images = _load_verified(directory / f"{prefix}-images-idx3-ubyte.gz")
        labels = _load_verified(directory / f"{prefix}-labels-idx1-ubyte.gz")
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


def load_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    download_deadline: float = DOWNLOAD_DEADLINE,
    download_max_bytes: int | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Return ``(x_train, y_train), (x_test, y_test)`` with x float32 (N, 784) in [0, 1], y int64.

    ``data_dir`` defaults to ``mnist_dir()``: ``$MLP_DATA_DIR``, the
    checkout's ``data/mnist`` or the copy installed with the package. Missing
    files are downloaded unless ``download=False``, within
    ``download_deadline`` seconds for them all and ``download_max_bytes`` per
    file (default: its known size). Results are cached per directory for the life of the process
    (loading sits inside the timed benchmark), so the arrays are READ-ONLY and
    shared between callers: index with a permutation (``x[perm]``) or call
    ``.copy()`` before changing them.
    """
    train, test = _load_cached(mnist_dir(data_dir), download, download_deadline, download_max_bytes)
    return train, test
