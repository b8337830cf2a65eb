"""Strokes to pixels: what the drawing pad shows, recomputed in NumPy for the network.

The browser paints the strokes on its canvas, but reading those pixels back
into Python costs a PNG round trip of 100 ms or more, which arrives late or
not at all. So we keep the stroke points in Python and draw the same shapes
ourselves: a round brush of radius ``r`` dragged from point to point covers
every pixel closer than ``r`` to one of the segments. Painting each segment as
it arrives costs a few tens of microseconds, so the image is always ready when
the network wants to look at it.

A drawing has a budget: of points (``max_points``) and of ink, the length
of all its strokes (``max_ink``). Undo repaints every remaining stroke, which
costs a few tens of microseconds per point plus the pixels each segment
covers, and one visitor scribbling for minutes, or a script sending a
million moves, must not block the kernel that serves them. Moves shorter
than ``min_step`` add nothing visible under a brush tens of pixels wide, so
they are dropped before they count: a digit drawn at any speed takes a few
hundred points.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

Point = tuple[float, float]
# Canvas pixels, two CSS pixels on the pad: under a brush 44 canvas pixels wide, a
# polyline through points this far apart is the curve, to a twentieth of a pixel.
MIN_STEP = 4.0
# A big zero is about 300 points and 1,200 canvas pixels of ink, however slowly it is
# drawn; a digit of several strokes rarely twice that. A full drawing, five big zeros
# of points or 25 of ink, repaints for Undo in about a tenth of a second
# (python -m benchmarks pad measures it).
MAX_POINTS = 1500
MAX_INK = 30_000  # canvas pixels of stroke length

# The pad's canvas, here rather than in the widget so that code drawing strokes without a
# browser (``mlp.pad.styles``, benchmarks) needs neither ipywidgets nor ipycanvas.
SIZE = 280  # the pad's side on a desktop screen, in CSS pixels (a phone's is its width)
PIXEL_RATIO = 2  # canvas pixels per desktop CSS pixel, so that strokes stay crisp on HiDPI screens
CANVAS = SIZE * PIXEL_RATIO  # the canvas side in canvas pixels (560): pointer events come in these
# A 22-pixel-wide brush on a digit about 200 pixels tall is what MNIST looks like:
# strokes about 2 pixels wide on a digit 20 pixels tall.
BRUSH_RADIUS = 11 * PIXEL_RATIO  # canvas pixels


class StrokeRaster:
    """A drawing as strokes of points (to undo and replay) and as a float image (to classify).

    Points are in canvas pixels, ``x`` to the right and ``y`` down, as pointer
    events report them on a ``canvas_size``-pixel square canvas. The image is
    ``raster_size`` pixels square: it may be coarser than the canvas (the
    network sees 20 pixels of it anyway), which makes every step cheaper.
    """

    def __init__(
        self,
        canvas_size: int,
        raster_size: int,
        brush_radius: float,
        *,
        min_step: float = MIN_STEP,
        max_points: int = MAX_POINTS,
        max_ink: float = MAX_INK,
    ) -> None:
        if not 0 < raster_size <= canvas_size:
            raise ValueError(f"raster_size must be in 1..{canvas_size}, got {raster_size}")
        if brush_radius <= 0:
            raise ValueError(f"brush_radius must be positive, got {brush_radius}")
        if max_points < 1:
            raise ValueError(f"max_points must be at least 1, got {max_points}")
        self.canvas_size, self.raster_size = int(canvas_size), int(raster_size)
        self.brush_radius, self.min_step = float(brush_radius), float(min_step)
        self.max_points, self.max_ink = int(max_points), float(max_ink)
        self.points, self.ink = 0, 0.0  # in all strokes; ink in canvas pixels
        self._to_raster = raster_size / canvas_size
        self.strokes: list[list[Point]] = []
        self.image = np.zeros((raster_size, raster_size), dtype=np.float32)

    @property
    def empty(self) -> bool:
        return not self.strokes

    @property
    def full(self) -> bool:
        """Whether the drawing has used its budget: nothing more is added until Undo or Clear.

        The segment that crosses the ink budget is still drawn, so the budget
        is exceeded by at most one segment, itself at most the canvas's diagonal.
        """
        return self.points >= self.max_points or self.ink >= self.max_ink

    def start(self, x: float, y: float) -> bool:
        """Begin a stroke, a dot already; ``False`` (and nothing drawn) if the drawing is full."""
        point = _finite(x, y)
        if self.full:
            return False
        self.strokes.append([point])
        self.points += 1
        self._paint(point, point)
        return True

    def extend(self, x: float, y: float) -> Point | None:
        """Continue the current stroke to ``(x, y)``; return the previous point, or ``None`` if ignored.

        Ignored: a move shorter than ``min_step``, and any move once the drawing is full.
        """
        if not self.strokes:
            raise RuntimeError("extend() before start(): there is no stroke to continue")
        point, last = _finite(x, y), self.strokes[-1][-1]
        length = math.hypot(point[0] - last[0], point[1] - last[1])
        if self.full or length < self.min_step:
            return None
        self.strokes[-1].append(point)
        self.points += 1
        self.ink += length
        self._paint(last, point)
        return last

    def undo(self) -> bool:
        """Remove the last stroke and repaint the rest; ``False`` if there was nothing to undo."""
        if not self.strokes:
            return False
        stroke = self.strokes.pop()
        self.points -= len(stroke)
        self.ink -= _length(stroke)
        self._repaint()
        return True

    def clear(self) -> None:
        self.strokes.clear()
        self.points, self.ink = 0, 0.0
        self.image = np.zeros_like(self.image)

    def _repaint(self) -> None:
        self.image = np.zeros_like(self.image)
        for stroke in self.strokes:
            self._paint(stroke[0], stroke[0])
            for start, end in itertools.pairwise(stroke):
                self._paint(start, end)

    def _paint(self, start: Point, end: Point) -> None:
        """Add the segment ``start``-``end``, brushed with round ends, to ``self.image``.

        Each pixel gets the fraction of it the brush covers, approximated by
        ``clip(r + 1/2 - d, 0, 1)`` where ``d`` is the distance from the pixel's
        centre to the segment: 1 inside, 0 outside, a linear ramp across the
        edge. That is how a browser anti-aliases the same stroke on its canvas.
        Only the segment's bounding box is computed, and overlapping strokes
        keep the maximum, as opaque white paint does.
        """
        k, r = self._to_raster, self.brush_radius * self._to_raster
        (x0, y0), (x1, y1) = (start[0] * k, start[1] * k), (end[0] * k, end[1] * k)
        n = self.raster_size
        left, right = max(int(min(x0, x1) - r - 1), 0), min(int(max(x0, x1) + r + 2), n)
        top, bottom = max(int(min(y0, y1) - r - 1), 0), min(int(max(y0, y1) + r + 2), n)
        if left >= right or top >= bottom:
            return  # entirely off the canvas
        # Pixel centres relative to the segment start: a row (1, w) and a column (h, 1).
        px = np.arange(left, right, dtype=np.float32)[None, :] + np.float32(0.5 - x0)
        py = np.arange(top, bottom, dtype=np.float32)[:, None] + np.float32(0.5 - y0)
        dx, dy = x1 - x0, y1 - y0
        length2 = dx * dx + dy * dy
        # Where along the segment each pixel's nearest point lies, t in [0, 1] (h, w).
        t = np.clip((px * dx + py * dy) / length2, 0, 1) if length2 > 0 else np.float32(0)
        distance = np.hypot(px - t * dx, py - t * dy)
        coverage = np.clip(np.float32(r + 0.5) - distance, 0, 1)
        window = self.image[top:bottom, left:right]
        np.maximum(window, coverage, out=window)


def _finite(x: float, y: float) -> Point:
    point = float(x), float(y)
    if not (math.isfinite(point[0]) and math.isfinite(point[1])):
        raise ValueError(f"stroke points must be finite, got ({x}, {y})")
    return point


def _length(stroke: list[Point]) -> float:
    return sum(math.hypot(x1 - x0, y1 - y0) for (x0, y0), (x1, y1) in itertools.pairwise(stroke))
