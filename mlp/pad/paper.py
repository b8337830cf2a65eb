"""From a photo of paper to ink, the way document scanners do it: NumPy and Pillow only.

A photo of a digit written on paper is not a scan. The paper is grey or
tinted, the light falls off across the page, the sensor adds noise, the paper
has a texture and the camera blurs. Each step below undoes one of these:

1. ``estimate_background``: the paper's shade at every pixel, from the median
   of coarse blocks, with blocks that are mostly ink filled in from their
   neighbours (a morphological closing on the coarse grid), then smoothly
   interpolated. Light falling off across the page is exactly such a slowly
   varying shade.
2. ``flatten``: divide by it (flat-fielding): ink becomes its contrast against
   the paper around it, 0 for paper and 1 for black ink, whatever the light.
3. ``otsu_threshold``: the threshold that best separates ink from paper in
   this image's own histogram (Otsu, 1979), instead of a fixed grey level.
4. ``keep_strokes``: the connected pieces of ink, of which we keep the
   digit's strokes (the pieces with much ink) and drop specks and paper
   texture (pieces with little, or none above the threshold).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

# The background is estimated on a grid of this many blocks along the longer side: large enough
# that a block is wider than a pen stroke, small enough to follow light falling off across a page.
BLOCKS = 8
# A block smaller than this many pixels would be narrower than the strokes of a small image.
MIN_BLOCK = 4
# Pieces of ink with less than this fraction of the largest piece's ink are specks, not strokes.
# MNIST's broken strokes (a 5 whose bar does not touch its body) carry far more.
MIN_PIECE = 0.1


def block_medians(gray: np.ndarray, blocks: int = BLOCKS) -> tuple[np.ndarray, int]:
    """The median of each s × s block of ``gray`` ``(h, w)``, ``(ceil(h/s), ceil(w/s))``, and the side s.

    Edge blocks are padded by repeating the last row and column, so they are
    medians of the image too.
    """
    height, width = gray.shape
    side = max(MIN_BLOCK, math.ceil(max(height, width) / blocks))
    rows, cols = math.ceil(height / side), math.ceil(width / side)
    padded = np.pad(gray, ((0, rows * side - height), (0, cols * side - width)), mode="edge")
    # (rows, side, cols, side) -> (rows, cols, side * side): one row of pixels per block.
    tiles = padded.reshape(rows, side, cols, side).swapaxes(1, 2).reshape(rows, cols, side * side)
    return np.median(tiles, axis=-1).astype(np.float32), side


def _neighbourhood(grid: np.ndarray, reduce) -> np.ndarray:
    """``reduce`` (np.maximum or np.minimum) over each cell's 3 × 3 neighbourhood, edges repeated."""
    padded = np.pad(grid, 1, mode="edge")
    rows, cols = grid.shape
    out = padded[1 : rows + 1, 1 : cols + 1].copy()
    for dr in range(3):
        for dc in range(3):
            reduce(out, padded[dr : dr + rows, dc : dc + cols], out=out)
    return out


def estimate_background(gray: np.ndarray, dark_ink: bool) -> np.ndarray:
    """The paper's shade at every pixel of ``gray`` ``(h, w)`` in [0, 1]: ``(h, w)`` float32.

    A block's median is the paper's shade unless ink covers more than half of
    it. Such blocks are darker than their neighbours (lighter, for light ink
    on a dark ground), and a closing on the coarse grid (the 3 × 3 maximum,
    then the 3 × 3 minimum) replaces them by their neighbours' shade; a slowly
    varying shade, such as light falling off across the page, passes through
    unchanged. Bilinear interpolation between block centres makes it smooth.
    """
    coarse, side = block_medians(gray)
    first, second = (np.maximum, np.minimum) if dark_ink else (np.minimum, np.maximum)
    coarse = _neighbourhood(_neighbourhood(coarse, first), second)
    rows, cols = coarse.shape
    # Pillow's bilinear resize interpolates between pixel centres: block centres land on theirs.
    smooth = Image.fromarray(coarse, mode="F").resize((cols * side, rows * side), Image.Resampling.BILINEAR)
    return np.asarray(smooth)[: gray.shape[0], : gray.shape[1]]


def ink_is_dark(gray: np.ndarray) -> bool:
    """Whether ``gray`` ``(h, w)`` holds dark ink on light paper (else light strokes on a dark ground).

    Paper is most of the picture, so the median is paper; ink is a small share
    of pixels far from it on one side. The tail reaching farther from the
    median (its 0.1 % and 99.9 % points) is the ink. Light falling off across
    the page stretches both tails alike; deciding from the border instead
    fails when half of it lies in shade. With no tail at all (a flat picture),
    light paper means dark ink.
    """
    low, middle, high = np.percentile(gray, [0.1, 50, 99.9])
    if middle - low == high - middle:
        return bool(middle > 0.5)
    return bool(middle - low > high - middle)


def flatten(gray: np.ndarray, background: np.ndarray, dark_ink: bool) -> np.ndarray:
    """Ink's contrast against the paper around it: 0 for paper, 1 for black ink on any paper, ``(h, w)``.

    Dark ink: ``1 - gray / background``, which is the same for a stroke in
    full light and in shade (light multiplies what the paper reflects). Light
    strokes on a dark ground: ``gray - background``. Values below 0 are noise
    on the paper, kept so that the noise can be measured.
    """
    if dark_ink:
        # A black background estimate would divide by zero: such a pixel has no light to read.
        return 1 - gray / np.maximum(background, 1 / 255)
    return gray - background


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """The threshold in [0, 1] that splits ``values`` into two classes of least within-class variance.

    Otsu (1979): over ``bins`` grey levels, pick the split k that maximises
    the between-class variance ``(mu_T w(k) - mu(k))^2 / (w(k) (1 - w(k)))``
    (w: the fraction of values at or below k, mu: their first moment). When
    several splits are equally good, as between two modes with nothing in
    between, the one midway between them. Values outside [0, 1] are clipped.
    """
    levels = np.clip(np.round(np.ravel(values) * (bins - 1)), 0, bins - 1).astype(np.intp)
    counts = np.bincount(levels, minlength=bins).astype(np.float64)
    share = counts / counts.sum()
    below = np.cumsum(share)[:-1]  # w(k) for splits after level k = 0 .. bins-2
    moment = np.cumsum(share * np.arange(bins))[:-1]
    total = moment[-1] + share[-1] * (bins - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (total * below - moment) ** 2 / (below * (1 - below))
    between = np.nan_to_num(between, nan=-1.0)
    best = np.flatnonzero(between >= between.max() * (1 - 1e-9))
    split = (best[0] + best[-1]) / 2  # the middle of a plateau of equally good splits
    return float((split + 0.5) / (bins - 1))


def label_pieces(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The 8-connected pieces of a boolean ``mask`` ``(h, w)``, as horizontal runs of pixels.

    Returns ``(row, start, stop, piece)``, one entry per run: the run covers
    ``mask[row, start:stop]`` and belongs to piece number ``piece`` (not
    consecutive). Runs of two neighbouring rows touch when their columns
    overlap or meet at a corner; pieces are found by repeatedly joining
    touching runs to the smaller piece number (union-find with path halving,
    in NumPy), so the cost grows with the number of runs, not of pixels.
    """
    width = mask.shape[1]
    edges = np.diff(np.pad(mask, ((0, 0), (1, 1))).astype(np.int8), axis=1)
    row, start = np.nonzero(edges == 1)  # row-major order: runs sorted by row, then column
    _, stop = np.nonzero(edges == -1)
    stride = width + 2  # one sorted key per run: row * stride + column
    # Runs of the row above that touch run b: their stop >= b.start and their start <= b.stop.
    first = np.searchsorted((row * stride + stop), (row - 1) * stride + start, side="left")
    last = np.searchsorted((row * stride + start), (row - 1) * stride + stop, side="right")
    count = np.maximum(last - first, 0)
    below = np.repeat(np.arange(len(row)), count)
    above = np.repeat(first - np.cumsum(count) + count, count) + np.arange(count.sum())
    piece = np.arange(len(row))
    while True:
        a, b = piece[above], piece[below]
        if np.array_equal(a, b):
            return row, start, stop, piece
        low, high = np.minimum(a, b), np.maximum(a, b)
        np.minimum.at(piece, high, low)  # join: each piece points to the smaller number it touches
        while True:  # follow the pointers to the root of each piece
            root = piece[piece]
            if np.array_equal(root, piece):
                break
            piece = root


def keep_strokes(weak: np.ndarray, strong: np.ndarray, min_piece: float = MIN_PIECE) -> np.ndarray:
    """The pieces of ``weak`` (bool ``(h, w)``) that hold a real share of the ``strong`` pixels.

    Hysteresis, as in edge detection: a piece of faint ink (``weak``) is kept
    when it holds at least ``min_piece`` times as many ``strong`` pixels as
    the piece holding the most, so a stroke keeps its faint edges while
    specks, paper texture and a stray mark far smaller than the digit go.
    Returns the kept pixels, bool ``(h, w)``.
    """
    row, start, stop, piece = label_pieces(weak)
    kept = np.zeros(weak.shape, dtype=bool)
    if len(row) == 0:
        return kept
    # Strong pixels per run, from each row's running count.
    running = np.pad(np.cumsum(strong, axis=1, dtype=np.int64), ((0, 0), (1, 0)))
    per_run = running[row, stop] - running[row, start]
    per_piece = np.bincount(piece, weights=per_run, minlength=len(row))
    largest = per_piece.max()
    if largest == 0:
        return kept
    keep = per_piece[piece] >= max(min_piece * largest, 1)
    # Paint the kept runs: +1 where a run starts, -1 where it stops, summed along each row.
    paint = np.zeros((weak.shape[0], weak.shape[1] + 1), dtype=np.int32)
    np.add.at(paint, (row[keep], start[keep]), 1)
    np.add.at(paint, (row[keep], stop[keep]), -1)
    return np.cumsum(paint, axis=1)[:, :-1] > 0
