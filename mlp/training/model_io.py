"""Model files: one ``.npz`` with the architecture, the weights and where they came from.

No pickle: a pickled model runs arbitrary code when loaded, so a model file
downloaded from a stranger would be a program. An ``.npz`` holds only
arrays; we load it with ``allow_pickle=False`` and describe the architecture
and metadata as JSON text. Every load is validated (layer types, shapes,
dtypes, finite values, a SHA-256 of the weights), so a wrong, truncated or
tampered file gives a clear error instead of a network that answers nonsense.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from mlp._version import __version__
from mlp.nn.layers import LAYER_TYPES, Layer
from mlp.nn.network import Sequential

FORMAT = "mlp-npz"
FORMAT_VERSION = 1
MAX_WIDTH = 65_536  # refuse to allocate absurd layers described by a damaged file
DEFAULT_MODEL_PATH = Path(__file__).resolve().parents[2] / "data" / "mlp-mnist.npz"


class ModelFileError(ValueError):
    """A model file that cannot be used, with the reason."""


def weights_digest(arrays: list[np.ndarray]) -> str:
    """SHA-256 over the dtypes, shapes and bytes of the weight arrays, in order."""
    digest = hashlib.sha256()
    for a in arrays:
        digest.update(f"{a.dtype.str}{a.shape}".encode())
        digest.update(np.ascontiguousarray(a).tobytes())
    return digest.hexdigest()


def save_model(model: Sequential, path: str | Path, **metadata: Any) -> Path:
    """Write ``model`` to ``path`` (``.npz``); ``metadata`` joins ``model.metadata``.

    The file is written beside its destination and renamed into place, so an
    interrupted save never leaves half a model where a good one was.
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"model files end in .npz, got {path.name!r}")
    weights = [p.value for p in model.parameters()]
    info = {**model.metadata, **metadata, "mlp_version": __version__}
    arrays = {
        "format": np.array(FORMAT),
        "format_version": np.array(FORMAT_VERSION),
        "architecture": np.array(json.dumps(model.architecture())),
        "metadata": np.array(json.dumps(info, sort_keys=True)),
        "weights_sha256": np.array(weights_digest(weights)),
        **{f"param_{i}": w for i, w in enumerate(weights)},
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    model.metadata = info
    return path


def load_model(path: str | Path | None = None) -> Sequential:
    """Load a model saved by ``save``; with no path, the course's shipped model."""
    path = Path(path) if path is not None else DEFAULT_MODEL_PATH
    if not path.is_file():
        hint = " (train it with `python -m mlp train`)" if path == DEFAULT_MODEL_PATH else ""
        raise FileNotFoundError(f"no model file at {path}{hint}")

    def fail(reason: str) -> ModelFileError:
        return ModelFileError(f"{path} is not a usable model file: {reason}")

    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError) as e:
        raise fail(f"cannot read it as .npz ({type(e).__name__}: {e}); it may be truncated or corrupt") from e

    for key in ("format", "format_version", "architecture", "metadata", "weights_sha256"):
        if key not in arrays:
            raise fail(f"the entry {key!r} is missing")
    if str(arrays["format"]) != FORMAT or int(arrays["format_version"]) != FORMAT_VERSION:
        raise fail(
            f"format {arrays['format']} v{arrays['format_version']}, expected {FORMAT} v{FORMAT_VERSION}"
        )
    try:
        architecture = json.loads(str(arrays["architecture"]))
        metadata = json.loads(str(arrays["metadata"]))
        layers = [_layer_from_config(config) for config in architecture]
        model = Sequential(layers, metadata)
    except (json.JSONDecodeError, TypeError, ValueError, KeyError) as e:
        raise fail(f"its architecture is invalid ({e})") from e

    params = model.parameters()
    weights = [arrays.get(f"param_{i}") for i in range(len(params))]
    if any(w is None for w in weights) or len(arrays) != 5 + len(params):
        raise fail(f"the architecture needs {len(params)} weight arrays, the file has {len(arrays) - 5}")
    dtypes = {w.dtype for w in weights}
    if len(dtypes) != 1 or not dtypes <= {np.dtype(np.float32), np.dtype(np.float64)}:
        raise fail(f"weights must all be float32 or all float64, found {sorted(map(str, dtypes))}")
    for i, (p, w) in enumerate(zip(params, weights)):
        if w.shape != p.value.shape:
            raise fail(f"param_{i} ({p.name}) has shape {w.shape}, the architecture needs {p.value.shape}")
        if not np.isfinite(w).all():
            raise fail(f"param_{i} ({p.name}) contains NaN or infinite values")
    if weights_digest(weights) != str(arrays["weights_sha256"]):
        raise fail("the weights do not match their SHA-256: the file was modified after saving")
    for p, w in zip(params, weights):
        p.value = w
        p.grad = np.zeros_like(w)
    return model


def _layer_from_config(config: dict[str, Any]) -> Layer:
    if not isinstance(config, dict) or config.get("type") not in LAYER_TYPES:
        raise ValueError(f"unknown layer {config!r}; known types: {sorted(LAYER_TYPES)}")
    for key in ("n_in", "n_out"):
        if key in config and not (isinstance(config[key], int) and 0 < config[key] <= MAX_WIDTH):
            raise ValueError(
                f"{config['type']}.{key} must be an integer in 1..{MAX_WIDTH}, got {config[key]!r}"
            )
    return LAYER_TYPES[config["type"]].from_config(config)
