"""A small, class-balanced sample of MNIST's training images to replay while fine-tuning.

Fine-tuning on a handful of new drawings alone makes a network forget what
it knew (see ``mlp.training.fine_tune``); mixing old examples into every
batch prevents that. A few thousand old examples are enough, and a classroom
runs 15 to 30 kernels on one server, so no kernel should hold the 60,000
float32 training images (188 MB) that ``load_mnist`` caches. ``mnist_replay``
streams the shipped gzip files instead: it decompresses them chunk by chunk,
verifies the SHA-256 of each whole decompressed file as the chunks go by,
and keeps only the images it picked. Its peak memory is a few megabytes
besides the sample it returns (``python -m benchmarks teach`` measures it).

The sample comes only from the training part of the split: the last
``VALIDATION_SIZE`` images are the validation set the shipped model was
chosen on, and replaying them would make its validation figure optimistic.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import zlib
from pathlib import Path

import numpy as np

from mlp.training.data import MNIST_FILES, DataFileError, mnist_dir
from mlp.training.recipe import VALIDATION_SIZE

IMAGES, LABELS = "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"
SIDE = 28
HEADER_BYTES = {IMAGES: 16, LABELS: 8}  # IDX: magic, then one 4-byte size per dimension
CHUNK_BYTES = 1_280 * SIDE * SIDE  # decompressed bytes per read, about 1 MB: whole images, little memory
DEFAULT_SIZE = 3_000  # 300 per digit: 9.4 MB of float32


def mnist_replay(
    n: int = DEFAULT_SIZE, seed: int = 0, *, data_dir: str | os.PathLike[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` MNIST training images and labels, the same number of each digit: ``x (n, 784)``, ``y (n,)``.

    ``x`` is float32 in [0, 1] and ``y`` int64, in the order the images have
    in the file; both are read-only and cached for the process (per ``n``,
    ``seed`` and directory), so every call after the first is free. ``n``
    must be a multiple of 10. The same ``seed`` always picks the same images.
    Raises ``FileNotFoundError`` if a file is missing and ``DataFileError``
    if one is corrupt: nothing is downloaded here.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 10 or n % 10:
        raise ValueError(f"n must be a positive multiple of 10 (the same number of each digit), got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an integer, got {seed!r}")
    return _replay_cached(int(n), int(seed), mnist_dir(data_dir))


@functools.lru_cache(maxsize=4)
def _replay_cached(n: int, seed: int, directory: Path) -> tuple[np.ndarray, np.ndarray]:
    labels = np.frombuffer(_read_verified(directory / LABELS, keep=None), np.uint8)
    if labels.size and labels.max() > 9:
        raise DataFileError(f"{directory / LABELS}: labels outside 0..9")
    picked = balanced_indices(labels[: len(labels) - VALIDATION_SIZE], n, seed)
    pixels = _read_verified(directory / IMAGES, keep=picked, expected_count=len(labels))
    x = np.frombuffer(pixels, np.uint8).reshape(n, SIDE * SIDE) / np.float32(255)  # float32, exact
    y = labels[picked].astype(np.int64)
    x.flags.writeable = False
    y.flags.writeable = False
    return x, y


def balanced_indices(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of ``n // 10`` randomly chosen examples of each digit in ``labels``."""
    per_class = n // 10
    counts = np.bincount(labels, minlength=10)
    rarest = int(counts.argmin())
    if counts[rarest] < per_class:
        raise ValueError(
            f"asked for {per_class} examples of each digit, but the training part has only "
            f"{counts[rarest]} of digit {rarest}: n can be at most {10 * counts[rarest]}"
        )
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(labels == digit), per_class, replace=False) for digit in range(10)]
    return np.sort(np.concatenate(chosen))


def _read_verified(path: Path, *, keep: np.ndarray | None, expected_count: int | None = None) -> bytes:
    """The payload of one MNIST training file, or of the records ``keep`` only, checked as it streams.

    The whole decompressed file goes through SHA-256 in chunks, compared at
    the end with ``MNIST_FILES``; its header and size are checked first, so
    a wrong file fails with the reason before a byte is kept.
    """
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: the replay set is read from the MNIST files shipped with the course"
            " (load_mnist() downloads them)"
        )
    expected_sha, expected_size = MNIST_FILES[path.name]
    header_bytes = HEADER_BYTES[path.name]
    record = SIDE * SIDE if path.name == IMAGES else 1
    digest = hashlib.sha256()
    kept = bytearray()
    try:
        with gzip.open(path, "rb") as stream:
            header = stream.read(header_bytes)
            digest.update(header)
            _check_header(path, header, expected_count)
            position, pending, first = 0, b"", 0  # ``pending`` holds an unfinished record
            wanted = iter(() if keep is None else keep.tolist())
            next_index = next(wanted, None)
            while chunk := stream.read(CHUNK_BYTES):
                digest.update(chunk)
                position += len(chunk)
                if keep is None:
                    kept += chunk
                    continue
                pending = pending + chunk if pending else chunk
                whole = len(pending) // record  # records first .. first + whole - 1 are complete
                while next_index is not None and next_index < first + whole:
                    start = (next_index - first) * record
                    kept += pending[start : start + record]
                    next_index = next(wanted, None)
                pending, first = pending[whole * record :], first + whole
    except (OSError, EOFError, zlib.error) as e:
        raise DataFileError(f"{path}: cannot decompress it ({e}); the file is corrupt, fetch it again") from e
    size = header_bytes + position
    if size != expected_size or digest.hexdigest() != expected_sha:
        raise DataFileError(
            f"{path}: the decompressed content ({size:,} bytes, SHA-256 {digest.hexdigest()}) is not "
            f"MNIST's ({expected_size:,} bytes, SHA-256 {expected_sha}); the file is corrupt: fetch it again"
        )
    return bytes(kept)


def _check_header(path: Path, header: bytes, expected_count: int | None) -> None:
    # IDX magic: 0x0803 is unsigned bytes in 3 dimensions, 0x0801 in 1.
    wanted = (0x00000803, expected_count, SIDE, SIDE) if path.name == IMAGES else (0x00000801, None)
    got = tuple(int(v) for v in np.frombuffer(header, ">u4")) if len(header) == 4 * len(wanted) else ()
    if len(got) != len(wanted) or any(w is not None and g != w for g, w in zip(got, wanted)):
        raise DataFileError(
            f"{path}: not MNIST's {'images' if path.name == IMAGES else 'labels'} file "
            f"(header {header.hex() or 'empty'})"
        )
