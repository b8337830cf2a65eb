"""Checking what users hand to a network, so mistakes fail early and clearly.

A shape error deep inside ``np.matmul`` says nothing about what went wrong;
these checks say what was expected, what arrived, and how to fix it.
"""

from __future__ import annotations

import math

import numpy as np


def as_batch(x: np.ndarray, n_features: int, dtype: np.dtype) -> tuple[np.ndarray, bool]:
    """Return ``(batch, single)``: ``x`` as an ``(N, n_features)`` array of ``dtype``.

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
