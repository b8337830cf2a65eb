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
   digit's strokes (the large pieces) and drop specks and paper texture;
   ``grow`` then gives the kept strokes back their faint edges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

# The background is estimated on a grid of this many blocks along the longer side: fine enough to
# follow the edge of a shadow across the page to within a block.
BLOCKS = 24
# Blocks that are mostly ink are replaced by the paper around them within this many blocks. A closing
# removes dark bands up to 2 * CLOSING + 1 blocks wide, and a stroke up to 2 * CLOSING blocks wide
# makes at most that many blocks mostly ink: strokes up to a sixth of the image's side, as bold as
# MNIST's own strokes in a digit that fills the picture. A step (a shadow's edge) passes unchanged.
CLOSING = 2
# A block smaller than this many pixels would be narrower than the strokes of a small image.
MIN_BLOCK = 4
# Pieces of ink with less than this fraction of the largest piece's ink are specks, not strokes.
# MNIST's broken strokes (a 5 whose bar does not touch its body) carry far more.
MIN_PIECE = 0.1
# Ink is the minority of a picture of a digit: "ink" covering more than half of it is paper.
MAX_INK_SHARE = 0.5


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


def _neighbourhood(grid: np.ndarray, reduce, radius: int = CLOSING) -> np.ndarray:
    """``reduce`` (np.maximum or np.minimum) over each cell's square neighbourhood, edges repeated."""
    padded = np.pad(grid, radius, mode="edge")
    rows, cols = grid.shape
    out = grid.copy()
    for dr in range(2 * radius + 1):
        for dc in range(2 * radius + 1):
            reduce(out, padded[dr : dr + rows, dc : dc + cols], out=out)
    return out


def estimate_background(gray: np.ndarray, dark_ink: bool) -> np.ndarray:
    """The paper's shade at every pixel of ``gray`` ``(h, w)`` in [0, 1]: ``(h, w)`` float32.

    A block's median is the paper's shade unless ink covers more than half of
    it. Such blocks are darker than the paper around them (lighter, for light
    strokes on a dark ground): a closing on the coarse grid (the maximum over
    ``2 * CLOSING + 1`` blocks square, then the minimum) replaces them by that
    paper, and passes the edge of a shadow unchanged. Bilinear interpolation
    between block centres makes the shade smooth. Within ``CLOSING`` blocks
    of the border, light falling off towards it is overestimated by up to
    that many blocks' fall: the closing cannot see beyond the picture.
    """
    medians, side = block_medians(gray)
    first, second = (np.maximum, np.minimum) if dark_ink else (np.minimum, np.maximum)
    coarse = _neighbourhood(_neighbourhood(medians, first), second)
    rows, cols = coarse.shape
    # Pillow's bilinear resize interpolates between pixel centres: block centres land on theirs.
    smooth = Image.fromarray(coarse, mode="F").resize((cols * side, rows * side), Image.Resampling.BILINEAR)
    return np.asarray(smooth)[: gray.shape[0], : gray.shape[1]]


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
    spread = below * (1 - below)
    between = np.zeros_like(spread)
    split_here = spread > 1e-12  # both classes have values: no split at or beyond the extremes
    between[split_here] = (total * below[split_here] - moment[split_here]) ** 2 / spread[split_here]
    if between.max() <= 0:  # a single grey level: nothing to split
        return 0.5
    best = np.flatnonzero(between >= between.max() * (1 - 1e-9))
    split = (best[0] + best[-1]) / 2  # the middle of a plateau of equally good splits
    return float((split + 0.5) / (bins - 1))


@dataclass(frozen=True)
class Separation:
    """Ink told from paper under one guess of which is which (dark ink on light paper, or the reverse)."""

    dark_ink: bool
    background: np.ndarray  # (h, w): the paper's shade, from ``estimate_background``
    flat: np.ndarray  # (h, w): ink's contrast against it, from ``flatten``
    threshold: float  # Otsu's threshold on ``flat``
    stroke: float  # a stroke's typical contrast: the median of ``flat`` above the threshold
    noise: float  # how far the paper reaches: its median + 3 standard deviations (robust), at least 0
    opposite: float  # as far on the other side: minus the mean of as many of the lowest values, >= 0
    ink_share: float  # the fraction of pixels above the threshold

    @property
    def contrast(self) -> float:
        """How far a typical stroke stands out from the paper's noise."""
        return self.stroke - self.noise

    @property
    def plausibility(self) -> float:
        """How much more the ink stands out on its side than anything on the other side; -1 if it is most.

        Under the wrong guess, what is taken for ink is what the background
        estimate got wrong (a halo around the real strokes, a shadow's edge)
        and the real strokes stand out as far on the other side.
        """
        return self.stroke - self.opposite if self.ink_share <= MAX_INK_SHARE else -1.0


def separate(gray: np.ndarray, dark_ink: bool) -> Separation:
    """Background, flattened contrast, Otsu's threshold and the levels of paper and ink for ``gray``."""
    background = estimate_background(gray, dark_ink)
    flat = flatten(gray, background, dark_ink)
    threshold = otsu_threshold(flat)
    strong = flat > threshold
    count = int(strong.sum())
    stroke = float(np.median(flat[strong])) if count else 0.0
    # The mean (not the median) of as many of the lowest values, each counted down to -1 at most: a
    # real stroke on the other side shows even where it covers only part of them, and a few pixels
    # divided by a wrongly dark background estimate cannot outweigh the rest.
    lowest = np.partition(flat.ravel(), count - 1)[:count] if count else np.zeros(1, flat.dtype)
    opposite = max(-float(np.maximum(lowest, -1).mean()), 0.0)
    below = flat[~strong]
    noise = 0.0
    if below.size:
        middle = float(np.median(below))
        spread = 1.4826 * float(np.median(np.abs(below - middle)))  # the standard deviation, were it normal
        noise = max(middle + 3 * spread, 0.0)
    return Separation(dark_ink, background, flat, threshold, stroke, noise, opposite, count / flat.size)


def best_separation(gray: np.ndarray) -> Separation:
    """``separate`` under both guesses (dark ink or light), and the more plausible one.

    Paper is most of a picture and ink little of it, standing out on one
    side. Under the wrong guess either the "ink" covers most of the picture
    (the paper, taken for ink) or the real strokes stand out on the other
    side. Deciding from the border or the median instead fails when a shadow
    covers half of the page.
    """
    return max((separate(gray, dark) for dark in (False, True)), key=lambda s: s.plausibility)


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


def keep_strokes(strong: np.ndarray, min_piece: float = MIN_PIECE) -> np.ndarray:
    """The pieces of ``strong`` (bool ``(h, w)``) with at least ``min_piece`` of the largest one's pixels.

    Pen strokes make a few large pieces; specks, paper texture and a stray
    mark far smaller than the digit go. Returns the kept pixels, bool ``(h, w)``.
    """
    row, start, stop, piece = label_pieces(strong)
    width = strong.shape[1]
    if len(row) == 0:
        return np.zeros(strong.shape, dtype=bool)
    # Runs never cross a row's end, so positions in the flattened image count them.
    first, last = row * width + start, row * width + stop
    per_piece = np.bincount(piece, weights=stop - start, minlength=len(row))
    keep = per_piece[piece] >= min_piece * per_piece.max()
    # Paint the kept runs: +1 where a run starts, -1 where it stops, summed along the image
    # (one 1-D cumulative sum: much faster than one along every row).
    paint = np.zeros(strong.size + 1, dtype=np.int32)
    np.add.at(paint, first[keep], 1)
    np.add.at(paint, last[keep], -1)
    return (np.cumsum(paint[:-1]) > 0).reshape(strong.shape)


def grow(mask: np.ndarray, radius: int) -> np.ndarray:
    """``mask`` (bool ``(h, w)``) grown by ``radius`` pixels in every direction (a square dilation)."""
    grown = mask.copy()
    for _ in range(radius):
        step = grown.copy()
        step[1:] |= grown[:-1]
        step[:-1] |= grown[1:]
        step[:, 1:] |= step[:, :-1].copy()
        step[:, :-1] |= step[:, 1:].copy()
        grown = step
    return grown
