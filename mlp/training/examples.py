"""Examples files: the drawings a learner taught the pad, with their labels, as one small ``.npz``.

The pad lets a learner download the examples they corrected and load them
back later, or in another kernel. Like model files (``mlp.training.model_io``)
these hold only arrays, read with ``allow_pickle=False``, and a file is
validated before anything in it is used, because it may come from anywhere:
an upload is a stranger's bytes. It is read by ``mlp.training.npz.NpzReader``,
which checks its layout and every declared size before inflating anything;
then its entries, each array's declared shape and dtype (from the ``.npy``
headers, before any array is allocated, so a small file cannot claim
gigabytes), and its values: images
``(N, 28, 28)`` float32 in [0, 1], labels ``(N,)`` integers 0-9.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mlp.nn.inputs import as_examples
from mlp.training.model_io import write_npz
from mlp.training.npz import ArrayHeader, NpzReader

FORMAT = "mlp-examples"
FORMAT_VERSION = 1
SIDE = 28
MAX_EXAMPLES = 500  # far more than anyone corrects by hand; 1.6 MB of float32
# An examples file compresses to much less than its arrays (black background): refuse larger files unread.
MAX_FILE_BYTES = 4_000_000
ENTRIES = {
    "format": ((), "<U"),
    "format_version": ((), "<i8"),
    "images": ((None, SIDE, SIDE), "<f4"),
    "labels": ((None,), "<i8"),
}

# All four arrays inflated: the images, the labels, two short entries (and their .npy headers).
MAX_ARRAY_BYTES = MAX_EXAMPLES * (SIDE * SIDE * 4 + 8) + 4 * 1024

Source = str | os.PathLike[str] | bytes


class ExamplesFileError(ValueError):
    """An examples file that cannot be used, with the reason."""


def save_examples(path: str | os.PathLike[str], x: np.ndarray, y: np.ndarray) -> Path:
    """Write examples ``x (N, 28, 28)`` or ``(N, 784)`` floats in [0, 1], labels ``y (N,)`` 0-9, to ``path``.

    Validated as ``load_examples`` will validate them, so a file this writes
    always loads. Written beside ``path`` and renamed into place, so an
    interrupted save never leaves half a file where a good one was.
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"examples files end in .npz, got {path.name!r}")
    images, labels = validate_examples(x, y, f"examples for {path.name}")
    arrays = {
        "format": np.array(FORMAT),
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "images": images,
        "labels": labels,
    }
    write_npz(path, arrays)
    return path


def load_examples(source: Source, *, name: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read an examples file: ``x (N, 28, 28)`` float32 in [0, 1] and ``y (N,)`` int64.

    ``source`` is a path, or the bytes of an upload (then ``name``, e.g. the
    uploaded file's name, is what error messages call it). Raises
    ``FileNotFoundError`` for a missing path and ``ExamplesFileError``,
    naming the file, for anything that is not a valid examples file.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        data, label = bytes(source), name or "the uploaded file"
    else:
        path = Path(source)
        label = name or str(path)
        if not path.is_file():
            raise FileNotFoundError(f"no examples file at {path}")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ExamplesFileError(_too_large(label, path.stat().st_size))
        data = path.read_bytes()
    if len(data) > MAX_FILE_BYTES:
        raise ExamplesFileError(_too_large(label, len(data)))

    def fail(reason: str) -> ExamplesFileError:
        return ExamplesFileError(f"{label} is not a usable examples file: {reason}")

    with NpzReader(data, budget=MAX_ARRAY_BYTES, fail=fail) as npz:
        _check_entries(npz.headers, fail)
        arrays = {key: npz.read(key) for key in ENTRIES}
    if str(arrays["format"]) != FORMAT or int(arrays["format_version"]) != FORMAT_VERSION:
        raise fail(
            f"format {arrays['format']} v{arrays['format_version']}, expected {FORMAT} v{FORMAT_VERSION}"
        )
    try:
        return validate_examples(arrays["images"], arrays["labels"], "its examples")
    except (TypeError, ValueError) as e:
        raise fail(str(e)) from e


def validate_examples(x: np.ndarray, y: np.ndarray, what: str = "examples") -> tuple[np.ndarray, np.ndarray]:
    """``(x as (N, 28, 28) float32, y as (N,) int64)``, new arrays, or a ``TypeError``/``ValueError``.

    The rules of ``mlp.nn.inputs.as_examples`` with ``pixels=True`` (images
    ``(N, 28, 28)`` or ``(N, 784)`` floats in [0, 1], finite; digits 0-9 as
    ids or one-hot rows, one per image), and 1 to ``MAX_EXAMPLES`` of them.
    """
    images, labels = as_examples(
        x, y, n_features=SIDE * SIDE, n_classes=10, dtype=np.dtype(np.float32), what=what, pixels=True
    )
    if len(images) > MAX_EXAMPLES:
        raise ValueError(f"{what}: need 1 to {MAX_EXAMPLES} examples, got {len(images)}")
    return images.reshape(len(images), SIDE, SIDE).copy(), labels.copy()


def _check_entries(headers: dict[str, ArrayHeader], fail: Callable[[str], ExamplesFileError]) -> None:
    """Each entry present once, with the shape and dtype its ``.npy`` header declares, before loading any."""
    if sorted(headers) != sorted(ENTRIES):
        raise fail(f"it holds {sorted(headers)}, expected the entries {sorted(ENTRIES)}")
    for key, (shape, dtype) in ENTRIES.items():
        got_shape, got_dtype = headers[key].shape, headers[key].dtype
        if not got_dtype.str.startswith(dtype) or headers[key].fortran_order:
            raise fail(f"{key} has dtype {got_dtype}, expected {dtype}")
        if len(got_shape) != len(shape) or any(s is not None and g != s for g, s in zip(got_shape, shape)):
            raise fail(
                f"{key} has shape {got_shape}, expected {tuple('N' if s is None else s for s in shape)}"
            )
        if got_shape and not 1 <= got_shape[0] <= MAX_EXAMPLES:
            raise fail(f"{key} holds {got_shape[0]} examples, the limit is 1 to {MAX_EXAMPLES}")
    if headers["format"].dtype.itemsize > 4 * len(FORMAT):
        raise fail(f"its format entry is {headers['format'].dtype}, longer than {FORMAT!r}")


def _too_large(label: str, size: int) -> str:
    return (
        f"{label} is {size / 1e6:.1f} MB; an examples file of up to {MAX_EXAMPLES} drawings is less than "
        f"{MAX_FILE_BYTES / 1e6:.0f} MB, so this is not one"
    )
