"""Data augmentation: small random rotations, scalings and shifts of each digit.

A "7" turned by 10 degrees or moved two pixels is still a "7"; showing the
network such variants teaches it that, and it generalises better to digits
written (or drawn on a canvas) slightly differently from MNIST's.

Each output pixel looks up where it came from in the original image (the
inverse transform) and interpolates bilinearly between the four nearest
pixels, all samples of the batch at once.
"""

from __future__ import annotations

import numpy as np


def random_affine(
    images: np.ndarray,
    rng: np.random.Generator,
    *,
    max_degrees: float = 12.0,
    max_scale: float = 0.1,
    max_shift: float = 2.0,
) -> np.ndarray:
    """A randomly rotated, scaled and shifted copy of a batch of square images.

    ``images`` is ``(N, side * side)`` or ``(N, side, side)``; the result has
    the same shape and dtype. Pixels that come from outside the image are 0
    (MNIST's background).
    """
    flat = images.ndim == 2
    side = round(np.sqrt(images.shape[-1])) if flat else images.shape[-1]
    batch = images.reshape(-1, side, side)
    n = len(batch)

    angle = np.deg2rad(rng.uniform(-max_degrees, max_degrees, n))
    scale = rng.uniform(1 - max_scale, 1 + max_scale, n)
    shift = rng.uniform(-max_shift, max_shift, (n, 2))

    # Inverse map: source = R(-angle) / scale @ (target - centre - shift) + centre.
    centre = (side - 1) / 2
    rows, cols = np.mgrid[0:side, 0:side].astype(np.float32) - centre
    cos, sin = (np.cos(angle) / scale)[:, None, None], (np.sin(angle) / scale)[:, None, None]
    r = rows[None] - shift[:, 0, None, None]
    c = cols[None] - shift[:, 1, None, None]
    src_r = cos * r - sin * c + centre  # (N, side, side)
    src_c = sin * r + cos * c + centre
    return bilinear_sample(batch, src_r, src_c).reshape(images.shape).astype(images.dtype, copy=False)


def bilinear_sample(images: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Sample ``images[k]`` at fractional ``(rows[k], cols[k])``; 0 outside the image."""
    n, side, _ = images.shape
    # One pixel of zero padding on every side, so out-of-range neighbours read 0.
    padded = np.zeros((n, side + 2, side + 2), dtype=np.float32)
    padded[:, 1:-1, 1:-1] = images
    r = np.clip(rows + 1, 0, side + 0.999)
    c = np.clip(cols + 1, 0, side + 0.999)
    r0, c0 = np.floor(r).astype(np.intp), np.floor(c).astype(np.intp)
    fr, fc = (r - r0).astype(np.float32), (c - c0).astype(np.float32)
    flat = padded.reshape(n, -1)
    base = np.arange(n)[:, None, None] * (side + 2) ** 2 + r0 * (side + 2) + c0
    top = flat.ravel()[base] * (1 - fc) + flat.ravel()[base + 1] * fc
    bottom = flat.ravel()[base + side + 2] * (1 - fc) + flat.ravel()[base + side + 3] * fc
    return top * (1 - fr) + bottom * fr
