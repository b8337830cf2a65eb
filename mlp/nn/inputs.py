"""Checking what users hand to a network, so mistakes fail early and clearly.

A shape error deep inside ``np.matmul`` says nothing about what went wrong;
these checks say what was expected, what arrived, and how to fix it.
"""

from __future__ import annotations

import numpy as np


def as_batch(x: np.ndarray, n_features: int, dtype: np.dtype) -> tuple[np.ndarray, bool]:
    """Return ``(batch, single)``: ``x`` as an ``(N, n_features)`` array of ``dtype``.

    Accepts a batch ``(N, n_features)``, one vector ``(n_features,)``, one
    square image ``(s, s)`` with ``s * s == n_features`` (a 28x28 digit), or a
    stack of images ``(N, s, s)``. ``single`` tells the caller to return one
    result rather than a batch of one. Never modifies ``x``.
    """
    x = np.asarray(x)
    if x.dtype == object or not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise TypeError(f"input must be an array of numbers, got dtype {x.dtype}")
    if np.issubdtype(x.dtype, np.integer):
        raise TypeError(
            f"input has integer dtype {x.dtype}; the network expects floats in [0, 1] "
            "(for 0-255 pixels, pass x / 255)"
        )
    side = round(np.sqrt(n_features))
    if x.ndim == 1 and x.shape[0] == n_features:
        batch, single = x[None, :], True
    elif x.ndim == 2 and x.shape[1] == n_features:
        batch, single = x, False
    elif x.ndim == 2 and x.shape == (side, side) and side * side == n_features:
        batch, single = x.reshape(1, n_features), True
    elif x.ndim == 3 and x.shape[1:] == (side, side) and side * side == n_features:
        batch, single = x.reshape(len(x), n_features), False
    else:
        image = f", ({side}, {side}) or (N, {side}, {side})" if side * side == n_features else ""
        raise ValueError(f"expected input of shape (N, {n_features}), ({n_features},){image}; got {x.shape}")
    check_finite(batch, "input")
    return batch.astype(dtype, copy=False), single


def check_finite(x: np.ndarray, what: str) -> None:
    """Raise a ``ValueError`` naming the first NaN or infinity in ``x``."""
    finite = np.isfinite(x)
    if not finite.all():
        bad = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise ValueError(
            f"{what} contains {np.count_nonzero(~finite)} non-finite value(s) "
            f"(NaN or inf), the first at index {bad}: {x[bad]}"
        )
