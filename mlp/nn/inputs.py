"""Checking what users hand to a network, so mistakes fail early and clearly: the one set of rules.

A shape error deep inside ``np.matmul`` says nothing about what went wrong;
these checks say what was expected, what arrived, and how to fix it. Every
entry point of the package uses them, so every one accepts the same things:

* **inputs** (``as_batch``): floats, a batch ``(N, d)``, one vector ``(d,)``,
  or square images ``(s, s)`` / ``(N, s, s)`` with ``s * s == d``; finite,
  and within the range of the network's dtype. Integers are refused with a
  ``TypeError`` (0-255 pixels? pass ``x / 255``).
* **labels** (``as_class_indices``): integer class ids ``(N,)`` in
  ``0..C-1``, or one-hot rows ``(N, C)``, which become ids. Soft labels,
  floats and booleans as ids are refused (a wrong kind of array is a
  ``TypeError``, wrong values or shapes a ``ValueError``).
* **examples** (``as_examples``): inputs and labels together, one label per
  input, at least one. With ``pixels=True`` the inputs must also lie in
  [0, 1]: that is asked where the inputs *are* digit images for a model
  trained on MNIST's pixels in [0, 1], which another scale would silently
  ruin: ``fine_tune`` (whose batches mix them with MNIST images) and
  examples files. ``fit``, ``evaluate`` and ``predict`` take any real
  features: a network is not only for pixels (the notebooks check gradients
  on standard normal inputs, and standardised features are a fine input).
"""

from __future__ import annotations

import math

import numpy as np


def as_batch(x: np.ndarray, n_features: int, dtype: np.dtype) -> tuple[np.ndarray, bool]:
    """Return ``(batch, single)``: ``x`` as an ``(N, n_features)`` array of ``dtype``.

    Inputs: ``x`` (see below); ``n_features``, the ``d`` of the network's
    input; ``dtype``, the network's. Returns ``batch`` ``(N, n_features)`` of
    ``dtype`` (``x`` itself when nothing needs converting) and ``single``.

    Accepts a batch ``(N, n_features)``, one vector ``(n_features,)``, one
    square image ``(s, s)`` with ``s * s == n_features`` (a 28x28 digit), or a
    stack of images ``(N, s, s)``. ``single`` tells the caller to return one
    result rather than a batch of one. Refuses NaN and infinity, and values
    that ``dtype`` cannot hold (float64 beyond float32's range would become
    infinite). Never modifies ``x``. Cheap enough to run on every call: on
    one image it costs a few microseconds, a third of the network's own work.
    """
    x = np.asarray(x)
    if x.dtype.kind != "f":
        raise TypeError(_not_floats(x.dtype))
    side = math.isqrt(n_features)
    square = side * side == n_features
    if x.ndim == 1 and x.shape[0] == n_features:
        batch, single = x.reshape(1, n_features), True
    elif x.ndim == 2 and x.shape[1] == n_features:
        batch, single = x, False
    elif x.ndim == 2 and square and x.shape == (side, side):
        batch, single = x.reshape(1, n_features), True
    elif x.ndim == 3 and square and x.shape[1:] == (side, side):
        batch, single = x.reshape(len(x), n_features), False
    else:
        image = f", ({side}, {side}) or (N, {side}, {side})" if square else ""
        raise ValueError(f"expected input of shape (N, {n_features}), ({n_features},){image}; got {x.shape}")
    check_finite(batch, "input")
    if batch.dtype != dtype:
        check_representable(batch, dtype, "input")
    return batch.astype(dtype, copy=False), single


def _not_floats(dtype: np.dtype) -> str:
    if dtype.kind in "iu":
        return (
            f"input has integer dtype {dtype}; the network expects floats in [0, 1] "
            "(for 0-255 pixels, pass x / 255)"
        )
    return f"input must be an array of real numbers (floats in [0, 1]), got dtype {dtype}"


def check_finite(x: np.ndarray, what: str) -> None:
    """Raise a ``ValueError`` naming the first NaN or infinity in ``x``."""
    finite = np.isfinite(x)
    if not finite.all():
        bad = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise ValueError(
            f"{what} contains {np.count_nonzero(~finite)} non-finite value(s) "
            f"(NaN or inf), the first at index {bad}: {x[bad]}"
        )


def check_representable(x: np.ndarray, dtype: np.dtype, what: str) -> None:
    """Raise a ``ValueError`` if some value of ``x`` is beyond the range of ``dtype``."""
    limit = np.finfo(dtype).max
    too_large = np.abs(x) > limit
    if too_large.any():
        bad = tuple(int(i) for i in np.argwhere(too_large)[0])
        raise ValueError(
            f"{what} has {np.count_nonzero(too_large)} value(s) beyond the range of {np.dtype(dtype)} "
            f"(±{limit:.3g}), the first at index {bad}: {x[bad]:g}; they would become infinite"
        )


def as_int(value: object, name: str, *, minimum: int) -> int:
    """``value`` as an ``int`` if it is a whole number >= ``minimum``, else a ``ValueError`` naming it."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def float_dtype(dtype: object) -> np.dtype:
    """``dtype`` as a NumPy dtype if it is float32 or float64, the two a network computes in."""
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"dtype must be np.float32 or np.float64, got {dtype!r}") from None
    if resolved not in (np.float32, np.float64):
        raise ValueError(
            f"dtype must be np.float32 (to train) or np.float64 (to check gradients), got {resolved}"
        )
    return resolved


def as_class_indices(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Integer class ids ``(N,)`` from ids ``(N,)`` or one-hot rows ``(N, C)``, validated.

    Inputs: ``labels``; ``num_classes``, ``C``. Returns the ids, ``(N,)``,
    integers in ``0..C-1``. Soft labels (rows of probabilities) are refused
    rather than rounded to their largest entry: the loss trains towards one
    class per sample.
    """
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1 and num_classes != 1:
        raise ValueError(
            f"labels have shape {labels.shape}: class ids are one number per sample, of shape "
            f"({labels.shape[0]},); pass labels.ravel()"
        )
    if labels.ndim == 2:
        if labels.shape[1] != num_classes:
            raise ValueError(f"one-hot labels have {labels.shape[1]} columns, the logits {num_classes}")
        if not (np.all((labels == 0) | (labels == 1)) and np.all(labels.sum(axis=1) == 1)):
            raise ValueError(
                "2-D labels must be one-hot rows (a single 1, the rest 0); these are not "
                "(soft labels or probabilities?): pass the class ids instead, labels of shape (N,)"
            )
        labels = labels.argmax(axis=1)
    if labels.ndim != 1:
        raise ValueError(
            f"labels must be integer class ids of shape (N,) or one-hot (N, {num_classes}), "
            f"got shape {labels.shape}"
        )
    if labels.dtype == bool or not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(
            f"labels must be integer class ids of shape (N,) or one-hot (N, {num_classes}), "
            f"got dtype {labels.dtype}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}, got {labels.min()}..{labels.max()}")
    return labels


def check_pixels(batch: np.ndarray, what: str) -> None:
    """Raise a ``ValueError`` unless every value of ``batch`` lies in [0, 1], the range of MNIST's pixels."""
    low, high = float(batch.min(initial=0)), float(batch.max(initial=0))
    if low < 0 or high > 1:
        raise ValueError(
            f"{what}: pixels must lie in [0, 1], got values in [{low:g}, {high:g}] (0-255 pixels? x / 255)"
        )


def as_examples(
    x: np.ndarray,
    y: np.ndarray | int,
    *,
    n_features: int,
    n_classes: int,
    dtype: np.dtype,
    what: str = "examples",
    pixels: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and their labels, checked together: ``(batch, labels)`` or a ``TypeError``/``ValueError``.

    Inputs:
    - ``x``: anything ``as_batch`` accepts (one image counts as one example);
    - ``y``: ``as_class_indices``'s labels (one id alone goes with one image);
    - ``n_features``, ``n_classes``, ``dtype``: the network's;
    - ``what``: how error messages name the data (``"fit"``, ``"replay"``, ...);
    - ``pixels``: also require values in [0, 1] (see the module's docstring).
    Returns: ``batch`` ``(N, n_features)`` of ``dtype`` and ``labels`` ``(N,)`` int64, ``N >= 1``.
    """
    try:
        batch, single = as_batch(x, n_features, dtype)
        labels = np.asarray(y)
        if single and labels.ndim == 0:
            labels = labels.reshape(1)
        labels = as_class_indices(labels, n_classes)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{what}: {e}") from None
    if len(labels) != len(batch):
        raise ValueError(f"{what}: {len(batch)} inputs but {len(labels)} labels; give one label per input")
    if len(batch) == 0:
        raise ValueError(f"{what}: no examples (x has shape {np.shape(x)}); add at least one")
    if pixels:
        check_pixels(batch, what)
    return batch, labels.astype(np.int64, copy=False)
