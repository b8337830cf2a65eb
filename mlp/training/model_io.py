"""Model files: one ``.npz`` with the architecture, the weights and where they came from.

No pickle: a pickled model runs arbitrary code when loaded, so a model file
downloaded from a stranger would be a program. An ``.npz`` is a zip archive
of ``.npy`` arrays; we read it with ``mlp.training.npz.NpzReader``
(``allow_pickle=False``, only stored or deflate entries, every declared size
checked before anything is inflated) and describe the architecture and
metadata as JSON text. A file is checked before anything large is
allocated: the size of every array is read from its header and compared
with what the architecture declares, within a budget, so a 5 KB file that
claims a billion weights is refused in microseconds. Then come the
dtypes, finite values and a SHA-256 of the weights, so that a wrong,
truncated or tampered file gives a clear error instead of a network that
answers nonsense.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlp._version import __version__
from mlp.nn.layers import Dense, Dropout, Layer, ReLU, Sigmoid, Tanh
from mlp.nn.network import Sequential
from mlp.training.locations import MODEL_NAME, shipped_data_dirs
from mlp.training.npz import ArrayHeader, NpzReader

FORMAT = "mlp-npz"
FORMAT_VERSION = 1
MODEL_ENV = "MLP_MODEL"  # a model file to load instead of the shipped one
MAX_WIDTH = 65_536  # units in a layer
MAX_PARAMETERS = 20_000_000  # in all: 80 MB of float32, 85 times the shipped model
MAX_TEXT_CHARS = 1_000_000  # each of the architecture and the metadata
# All the arrays of a file, inflated: the largest network in float64, and the five text entries.
MAX_FILE_ARRAY_BYTES = 8 * MAX_PARAMETERS + 5 * 4 * MAX_TEXT_CHARS + 1_000_000
MAX_NESTING = 32  # lists and objects within each other in the metadata: a record, not a structure
TEXT_ENTRIES = ("format", "format_version", "architecture", "metadata", "weights_sha256")


class ModelFileError(ValueError):
    """A model file that cannot be used, with the reason."""


Shapes = list[tuple[int, ...]]


@dataclass(frozen=True)
class LayerFormat:
    """How one kind of layer is written into a model file, and read back.

    * ``layer_class``: the class; ``layer_class(**options)`` rebuilds a layer;
    * ``options(layer)``: the constructor's arguments that rebuild ``layer`` (JSON numbers and text);
    * ``parameter_shapes(options)``: the shapes of the parameters the rebuilt layer will have, so
      that a file's arrays are checked against them before any layer is built.
    """

    layer_class: type[Layer]
    options: Callable[[Any], dict[str, Any]]
    parameter_shapes: Callable[[dict[str, Any]], Shapes]


def _no_options(layer: Layer) -> dict[str, Any]:
    return {}


def _no_parameters(options: dict[str, Any]) -> Shapes:
    return []


LAYER_FORMATS: dict[str, LayerFormat] = {
    "Dense": LayerFormat(
        Dense,
        lambda layer: {"n_in": layer.n_in, "n_out": layer.n_out, "init": layer.init},
        lambda options: [(options["n_in"], options["n_out"]), (options["n_out"],)],  # W, b
    ),
    "ReLU": LayerFormat(ReLU, _no_options, _no_parameters),
    "Sigmoid": LayerFormat(Sigmoid, _no_options, _no_parameters),
    "Tanh": LayerFormat(Tanh, _no_options, _no_parameters),
    "Dropout": LayerFormat(Dropout, lambda layer: {"p": layer.p, "seed": layer.seed}, _no_parameters),
}
"""The layers a model file may hold, by the name written in its architecture."""


def layer_config(layer: Layer) -> dict[str, Any]:
    """``{"type": name, **options}``: what rebuilds ``layer``; a ``ValueError`` for a layer files cannot hold.

    Only the exact classes of ``LAYER_FORMATS``: a subclass may compute
    something else, which its rebuilt parent would silently replace.
    """
    name = type(layer).__name__
    if name not in LAYER_FORMATS or type(layer) is not LAYER_FORMATS[name].layer_class:
        raise ValueError(
            f"a model file cannot hold a {name} layer: it holds {sorted(LAYER_FORMATS)} "
            "(keep your own layer's code, and its weights with np.savez)"
        )
    return {"type": name, **LAYER_FORMATS[name].options(layer)}


def architecture(model: Sequential) -> list[dict[str, Any]]:
    """The layers' configurations, in order: what rebuilds ``model`` without its weights."""
    return [layer_config(layer) for layer in model.layers]


def layer_from_config(config: dict[str, Any]) -> Layer:
    """A new layer built from ``layer_config``'s description (checked by ``load_model`` beforehand)."""
    options = {key: value for key, value in config.items() if key != "type"}
    return LAYER_FORMATS[config["type"]].layer_class(**options)


Fail = Callable[[str], ModelFileError]  # builds the error for one file, given the reason


def weights_digest(arrays: list[np.ndarray]) -> str:
    """SHA-256 over the dtypes, shapes and bytes of the weight arrays, in order."""
    digest = hashlib.sha256()
    for a in arrays:
        digest.update(f"{a.dtype.str}{a.shape}".encode())
        digest.update(np.ascontiguousarray(a).tobytes())
    return digest.hexdigest()


def shipped_model_path() -> Path | None:
    """The course's trained model: the checkout's ``data/``, else the copy installed with the package."""
    for folder in shipped_data_dirs():
        if (folder / MODEL_NAME).is_file():
            return folder / MODEL_NAME
    return None


def default_model_path() -> Path:
    """What ``load_model()`` loads: ``$MLP_MODEL`` if set, else the shipped model."""
    if os.environ.get(MODEL_ENV):
        return Path(os.environ[MODEL_ENV])
    path = shipped_model_path()
    if path is None:
        raise FileNotFoundError(
            f"no shipped model found: it is data/{MODEL_NAME} in a checkout of the course and "
            f"<prefix>/share/mlp-from-scratch/{MODEL_NAME} in an installed wheel. Pass a path, set "
            f"${MODEL_ENV} to a model file, or train one with `python -m mlp train`"
        )
    return path


def __getattr__(name: str) -> Any:
    if name == "DEFAULT_MODEL_PATH":  # looked up when asked for, so that importing costs nothing
        return shipped_model_path()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def save_model(model: Sequential, path: str | Path, **metadata: Any) -> Path:
    """Write ``model`` to ``path`` (``.npz``); returns ``path``. ``model`` is only read.

    The file's metadata is ``model.metadata``, then ``metadata``, then
    ``mlp_version``; ``model.metadata`` itself is left as it was, so saving
    a model never changes it (the loaded model carries the stamp).

    The file is written beside its destination and renamed into place, so an
    interrupted save never leaves half a model where a good one was. Weights
    that are NaN or infinite are refused: such a model cannot predict anything.
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"model files end in .npz, got {path.name!r}")
    for i, layer in enumerate(model.layers):
        for p in layer.parameters():
            if not np.isfinite(p.value).all():
                raise ValueError(f"layers[{i}].{p.name} holds NaN or infinite values: not saving {path}")
    weights = [p.value for p in model.parameters()]
    info = {**model.metadata, **metadata, "mlp_version": __version__}
    arrays = {
        "format": np.array(FORMAT),
        "format_version": np.array(FORMAT_VERSION),
        "architecture": np.array(json.dumps(architecture(model))),
        "metadata": np.array(json.dumps(info, sort_keys=True)),
        "weights_sha256": np.array(weights_digest(weights)),
        **{f"param_{i}": w for i, w in enumerate(weights)},
    }
    write_npz(path, arrays)
    return path


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to the ``.npz`` file ``path`` beside it first, then rename it into place.

    An interrupted write (a full disk, a killed kernel) never leaves half a
    file where a good one was: the rename is atomic.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_model(path: str | Path | None = None) -> Sequential:
    """Load a model saved by ``save_model``; with no path, ``$MLP_MODEL`` or the shipped model."""
    path = Path(path) if path is not None else default_model_path()
    if not path.is_file():
        hint = " (train one with `python -m mlp train`)" if path.suffix == ".npz" else ""
        raise FileNotFoundError(f"no model file at {path}{hint}")

    def fail(reason: str) -> ModelFileError:
        return ModelFileError(f"{path} is not a usable model file: {reason}")

    with NpzReader(path, budget=MAX_FILE_ARRAY_BYTES, fail=fail) as npz:
        headers = _array_headers(npz.headers, fail)
        text = {key: _scalar(npz.read(key)) for key in TEXT_ENTRIES}
        layers, metadata = _description(text, fail)
        shapes = _parameter_shapes(layers, fail)
        _check_weight_headers(headers, shapes, fail)
        weights = [npz.read(f"param_{i}") for i in range(len(shapes))]

    for i, w in enumerate(weights):
        if not np.isfinite(w).all():
            raise fail(f"param_{i} contains NaN or infinite values")
    if weights_digest(weights) != text["weights_sha256"]:
        raise fail("the weights do not match their SHA-256: the file was modified after saving")
    try:  # every size is known to fit by now, so building the layers allocates nothing unexpected
        model = Sequential([layer_from_config(config) for config in layers], metadata)
    except (TypeError, ValueError) as e:
        raise fail(f"its architecture is invalid ({e})") from e
    for p, w in zip(model.parameters(), weights, strict=True):
        p.value, p.grad = w, np.zeros_like(w)
    return model


def _array_headers(
    headers: dict[str, ArrayHeader], fail: Fail
) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Shape and dtype of every array, from the headers ``NpzReader`` has checked: no data read yet."""
    for key in headers:
        if not (key in TEXT_ENTRIES or key.startswith("param_")):
            raise fail(f"unexpected entry {key + '.npy'!r}")
    missing = [key for key in TEXT_ENTRIES if key not in headers]
    if missing:
        raise fail(f"the entry {missing[0]!r} is missing")
    for key in TEXT_ENTRIES:
        shape, dtype = headers[key].shape, headers[key].dtype
        if shape != () or dtype.kind not in "Ui" or dtype.itemsize > 4 * MAX_TEXT_CHARS:
            raise fail(f"the entry {key!r} should be one short string or number, it is {shape} of {dtype}")
    return {key: (header.shape, header.dtype) for key, header in headers.items()}


def _scalar(array: np.ndarray) -> Any:
    """A text entry's string, or the 0-d array of a number."""
    return array[()] if array.shape == () and array.dtype.kind in "US" else array


def _description(text: dict[str, Any], fail: Fail) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The architecture and metadata, after checking the format they are written in."""
    if str(text["format"]) != FORMAT:
        raise fail(f"its format is {str(text['format'])!r}, not {FORMAT!r}")
    version = text["format_version"]
    if not (isinstance(version, np.ndarray) and version.dtype.kind == "i" and int(version) == FORMAT_VERSION):
        raise fail(
            f"it is format version {version}; this mlp reads version {FORMAT_VERSION} "
            "(a newer mlp may have written it: upgrade, or save the model again with this one)"
        )
    parsed = []
    for key, kind in (("architecture", list), ("metadata", dict)):
        try:
            value = json.loads(str(text[key]))
        except json.JSONDecodeError as e:
            raise fail(f"its {key} is not valid JSON ({e})") from e
        except RecursionError:  # json's parser recurses once per level of [ or {
            raise fail(f"its {key} nests lists or objects deeper than {MAX_NESTING} levels") from None
        if _nesting(value) > MAX_NESTING:  # copying or saving it again would recurse as deep
            raise fail(f"its {key} nests lists or objects deeper than {MAX_NESTING} levels")
        if not isinstance(value, kind):
            raise fail(f"its {key} should be a JSON {'list' if kind is list else 'object'}")
        parsed.append(value)
    return parsed[0], parsed[1]


def _nesting(value: Any) -> int:
    """How many lists and objects deep ``value`` goes (0 for a number), counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _parameter_shapes(architecture: list[Any], fail: Fail) -> list[tuple[int, ...]]:
    """The parameter shapes the architecture declares, checked against the budget, without building it."""
    shapes: list[tuple[int, ...]] = []
    for i, config in enumerate(architecture):
        problem = _config_problem(config)
        if problem:
            raise fail(f"its architecture is invalid: layer {i} {problem}")
        shapes += LAYER_FORMATS[config["type"]].parameter_shapes(config)
    declared = sum(int(np.prod(shape, dtype=object)) for shape in shapes)
    if declared > MAX_PARAMETERS:
        raise fail(
            f"its architecture declares {declared:,} parameters, more than the limit of {MAX_PARAMETERS:,}"
        )
    return shapes


def _config_problem(config: Any) -> str | None:
    """What is wrong with one layer's configuration, or ``None``."""
    if not isinstance(config, dict) or config.get("type") not in LAYER_FORMATS:
        return f"is {config!r}; the known types are {sorted(LAYER_FORMATS)}"
    options = inspect.signature(LAYER_FORMATS[config["type"]].layer_class.__init__).parameters
    unknown = sorted(set(config) - {"type"} - set(options))
    if unknown:
        return f"({config['type']}) has unknown options {unknown}"
    for key in ("n_in", "n_out"):
        value = config.get(key)
        if key in options and not (
            isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_WIDTH
        ):
            return f"({config['type']}): {key} must be an integer in 1..{MAX_WIDTH}, got {value!r}"
    return None


def _check_weight_headers(
    headers: dict[str, tuple[tuple[int, ...], np.dtype]], shapes: list[tuple[int, ...]], fail: Fail
) -> None:
    """Each stored weight array has the shape the architecture needs, and all share a float dtype."""
    stored = [key for key in headers if key.startswith("param_")]
    expected = [f"param_{i}" for i in range(len(shapes))]
    if sorted(stored) != sorted(expected):
        raise fail(f"the architecture needs {len(shapes)} weight arrays, the file has {len(stored)}")
    for key, shape in zip(expected, shapes):
        if headers[key][0] != shape:
            raise fail(f"{key} has shape {headers[key][0]}, the architecture needs {shape}")
    dtypes = {headers[key][1] for key in expected}
    if len(dtypes) > 1 or not dtypes <= {np.dtype(np.float32), np.dtype(np.float64)}:
        raise fail(f"weights must all be float32 or all float64, found {sorted(map(str, dtypes))}")
