"""The learner's files: their examples and the pad's network as bytes to download, and model files uploaded.

Downloads are built with the course's own savers, so that what is saved
loads with ``mlp.load_examples`` (examples) and ``mlp.load_model`` (a model).
An upload is a stranger's bytes: ``kind`` tells a model file from an examples
file by its entries alone (the pad says "this is a model file: use Load
model" rather than listing them), and ``model_from_upload`` reads a model
with ``load_model``'s own checks and messages, naming the file as the
visitor named it, never by a path on the server.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mlp.nn.network import Sequential
from mlp.training.examples import save_examples
from mlp.training.model_io import ModelFileError, load_model, save_model

# The buttons say Examples and Model: so do the files.
EXAMPLES_FILE, MODEL_FILE = "my-examples.npz", "my-model.npz"
# The shipped model file is 0.9 MB; a learner's network of a few times its size fits with room to spare.
MAX_MODEL_BYTES = 32_000_000


def examples_bytes(x: np.ndarray, y: np.ndarray) -> bytes:
    """An examples file of images ``x`` and labels ``y``."""
    return _written(EXAMPLES_FILE, lambda path: save_examples(path, x, y))


def model_bytes(model: Sequential) -> bytes:
    """A model file of ``model`` (``save_model`` leaves the model's metadata as it was)."""
    return _written(MODEL_FILE, lambda path: save_model(model, path))


def kind(data: bytes) -> str | None:
    """``"model"``, ``"examples"`` or ``None`` (neither, or not an .npz), from the archive's entry names."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return None
    if {"architecture.npy", "weights_sha256.npy"} <= names:
        return "model"
    if {"images.npy", "labels.npy"} <= names:
        return "examples"
    return None


def model_from_upload(data: bytes, name: str) -> Sequential:
    """The network in an uploaded model file called ``name``; ``ModelFileError`` saying why not.

    ``load_model`` reads paths, so the bytes go to a private temporary file
    first; its path is replaced by ``name`` in any message.
    """
    if len(data) > MAX_MODEL_BYTES:
        raise ModelFileError(
            f"{name} is {len(data) / 1e6:.1f} MB; "
            f"the pad loads model files up to {MAX_MODEL_BYTES / 1e6:.0f} MB"
        )
    with tempfile.TemporaryDirectory(prefix="mlp-pad-") as directory:
        path = Path(directory) / "upload.npz"
        path.write_bytes(data)
        try:
            return load_model(path)
        except ModelFileError as e:
            raise ModelFileError(str(e).replace(str(path), name)) from None


def _written(filename: str, write: Callable[[Path], object]) -> bytes:
    """What ``write(path)`` writes, read back: the savers write to paths, atomically."""
    with tempfile.TemporaryDirectory(prefix="mlp-pad-") as directory:
        path = Path(directory) / filename
        write(path)
        return path.read_bytes()
