"""The learner's files, as bytes for a download link: their examples, and the network the pad now has.

Built only when the learner asks (a model file is most of a megabyte, and a
classroom's wifi is shared), with the course's own savers, so that what is
downloaded loads with ``load_examples`` and ``mlp.load_model``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mlp.nn.network import Sequential
from mlp.training.examples import save_examples
from mlp.training.model_io import save_model

EXAMPLES_FILE, MODEL_FILE = "my-digits.npz", "my-model.npz"


def examples_bytes(x: np.ndarray, y: np.ndarray) -> bytes:
    """An examples file of images ``x`` and labels ``y``."""
    return _written(EXAMPLES_FILE, lambda path: save_examples(path, x, y))


def model_bytes(model: Sequential) -> bytes:
    """A model file of ``model``, which is left as it is (``save_model`` stamps what it saves)."""
    copy = model.astype(model.dtype)
    copy.metadata = dict(model.metadata)
    return _written(MODEL_FILE, lambda path: save_model(copy, path))


def _written(filename: str, write: Callable[[Path], object]) -> bytes:
    """What ``write(path)`` writes, read back: the savers write to paths, atomically."""
    with tempfile.TemporaryDirectory(prefix="mlp-pad-") as directory:
        path = Path(directory) / filename
        write(path)
        return path.read_bytes()
