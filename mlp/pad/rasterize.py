"""Strokes to pixels: what the drawing pad shows, recomputed in NumPy for the network.

The browser paints the strokes on its canvas, but reading those pixels back
into Python costs a PNG round trip of 100 ms or more, which arrives late or
not at all. So we keep the stroke points in Python and draw the same shapes
ourselves: a round brush of radius ``r`` dragged from point to point covers
every pixel closer than ``r`` to one of the segments. Painting each segment as
it arrives costs a few tens of microseconds, so the image is always ready when
the network wants to look at it.
"""

from __future__ import annotations

import itertools

import numpy as np

Point = tuple[float, float]


class StrokeRaster:
    """A drawing as strokes of points (to undo and replay) and as a float image (to classify).

    Points are in canvas pixels, ``x`` to the right and ``y`` down, as pointer
    events report them on a ``canvas_size``-pixel square canvas. The image is
    ``raster_size`` pixels square: it may be coarser than the canvas (the
    network sees 20 pixels of it anyway), which makes every step cheaper.
    """

    def __init__(self, canvas_size: int, raster_size: int, brush_radius: float) -> None:
        if not 0 < raster_size <= canvas_size:
            raise ValueError(f"raster_size must be in 1..{canvas_size}, got {raster_size}")
        if brush_radius <= 0:
            raise ValueError(f"brush_radius must be positive, got {brush_radius}")
        self.canvas_size, self.raster_size = int(canvas_size), int(raster_size)
        self.brush_radius = float(brush_radius)
        self._to_raster = raster_size / canvas_size
        self.strokes: list[list[Point]] = []
        self.image = np.zeros((raster_size, raster_size), dtype=np.float32)

    @property
    def empty(self) -> bool:
        return not self.strokes

    def start(self, x: float, y: float) -> None:
        """Begin a stroke: a touch of the brush is already a dot."""
        self.strokes.append([(float(x), float(y))])
        self._paint(self.strokes[-1][0], self.strokes[-1][0])

    def extend(self, x: float, y: float) -> Point | None:
        """Continue the current stroke to ``(x, y)``; return the previous point, or ``None`` if ignored.

        A move shorter than a tenth of a pixel adds nothing visible, so it is
        dropped instead of growing the stroke list.
        """
        if not self.strokes:
            raise RuntimeError("extend() before start(): there is no stroke to continue")
        last = self.strokes[-1][-1]
        if abs(x - last[0]) < 0.1 and abs(y - last[1]) < 0.1:
            return None
        self.strokes[-1].append((float(x), float(y)))
        self._paint(last, self.strokes[-1][-1])
        return last

    def undo(self) -> bool:
        """Remove the last stroke and repaint the rest; ``False`` if there was nothing to undo."""
        if not self.strokes:
            return False
        self.strokes.pop()
        self._repaint()
        return True

    def clear(self) -> None:
        self.strokes.clear()
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
