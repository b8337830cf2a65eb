"""Digits in styles MNIST barely contains, drawn by code as pointer strokes on the pad.

MNIST's writers were American Census Bureau employees and high-school
students. Few of them slashed their zeros, crossed their sevens, started a
one with a long flag stroke, or slanted their digits far over, so the network
has seldom or never seen these, and misreads them. To measure that, and to
teach the network these styles, we need many such drawings, each a little
different, as a hand would make them: this module draws them with a seeded
random generator, as the strokes of (x, y) canvas points that a pointer would
report, and renders them through the pad's own rasterizer and preprocessing.

Each style is a few strokes in a unit box (x to the right, y down, the digit
about 1 tall and centred on 0), then varied like handwriting: a random size,
slant, small rotation and position on the canvas, and a wobble of the path.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from mlp.pad.preprocess import preprocess_digit
from mlp.pad.rasterize import BRUSH_RADIUS, CANVAS, SIZE, StrokeRaster

STEP = 6.0  # canvas pixels between two pointer events, about what a browser reports at drawing speed

Stroke = list[tuple[float, float]]
Shape = list[np.ndarray]  # strokes as (k, 2) arrays of unit-box points


@dataclass(frozen=True)
class Style:
    """A way of writing a digit: its label, a sentence for readers, and how to draw its shape."""

    label: int
    description: str
    shape: Callable[[np.random.Generator], Shape]
    slant_degrees: tuple[float, float]  # range of the slant, positive leaning right


def _arc(start: float, sweep: float, rx: float, ry: float, points: int = 48) -> np.ndarray:
    """An elliptic arc from angle ``start`` over ``sweep`` radians (y down: positive sweeps clockwise)."""
    t = start + sweep * np.linspace(0, 1, points)
    return np.column_stack([rx * np.cos(t), ry * np.sin(t)])


def _oval(rng: np.random.Generator) -> np.ndarray:
    """A zero's loop: started near the top, closed with a little overlap, either direction."""
    rx, ry = rng.uniform(0.22, 0.36), 0.5
    direction = rng.choice([-1.0, 1.0])
    start = -np.pi / 2 + rng.uniform(-0.6, 0.6)
    loop = _arc(start, direction * (2 * np.pi + rng.uniform(0.0, 0.5)), rx, ry)
    # A hand does not come back exactly where it began: the radius drifts a little along the loop.
    loop *= (1 + rng.uniform(-0.08, 0.08) * np.linspace(0, 1, len(loop)))[:, None]
    return loop


def _zero(rng: np.random.Generator) -> Shape:
    return [_oval(rng)]


def _slashed_zero(rng: np.random.Generator) -> Shape:
    loop = _oval(rng)
    rx = np.abs(loop[:, 0]).max()
    reach = rng.uniform(1.1, 1.45)  # the slash crosses the loop and sticks out of it
    slash = np.array([[-rx * reach, 0.5 * reach], [rx * reach, -0.5 * reach]])
    if rng.random() < 0.5:
        slash = slash[::-1]  # drawn upwards or downwards
    return [loop, slash]


def _seven(rng: np.random.Generator) -> Shape:
    top_left = (-0.3 + rng.uniform(-0.05, 0.05), -0.5 + rng.uniform(-0.03, 0.03))
    top_right = (0.3 + rng.uniform(-0.05, 0.05), -0.5)
    foot = (-0.05 + rng.uniform(-0.12, 0.08), 0.5)
    return [np.array([top_left, top_right, foot])]


def _crossed_seven(rng: np.random.Generator) -> Shape:
    (stem,) = _seven(rng)
    height = rng.uniform(-0.05, 0.12)  # where the bar crosses the stem, a little below the middle
    along = (height - stem[1, 1]) / (stem[2, 1] - stem[1, 1])
    x = stem[1, 0] + along * (stem[2, 0] - stem[1, 0])
    half = rng.uniform(0.15, 0.25)
    bar = np.array([[x - half, height], [x + half, height + rng.uniform(-0.03, 0.03)]])
    return [stem, bar]


def _one(rng: np.random.Generator) -> Shape:
    return [np.array([[rng.uniform(-0.04, 0.04), -0.5], [rng.uniform(-0.04, 0.04), 0.5]])]


def _flag_one(rng: np.random.Generator) -> Shape:
    """A one as much of Europe writes it: a long flag up to the top, then down."""
    flag_length, flag_drop = rng.uniform(0.3, 0.45), rng.uniform(0.2, 0.4)
    top_x = 0.05 + rng.uniform(-0.03, 0.03)
    flag_start = (top_x - flag_length, -0.5 + flag_drop)
    return [np.array([flag_start, (top_x, -0.5), (top_x + rng.uniform(-0.04, 0.04), 0.5)])]


def _four(rng: np.random.Generator) -> Shape:
    cross = rng.uniform(0.1, 0.2)
    open_stroke = np.array([[-0.05, -0.5], [-0.3, cross], [0.3, cross]])
    stem = np.array([[0.12, -0.35], [0.12 + rng.uniform(-0.03, 0.03), 0.5]])
    return [open_stroke, stem]


def _two(rng: np.random.Generator) -> Shape:
    hook = _arc(np.pi * rng.uniform(1.05, 1.2), np.pi * rng.uniform(1.1, 1.3), 0.28, 0.22)
    hook[:, 1] -= 0.27  # the hook is the top half of the two
    return [np.vstack([hook, [[-0.3, 0.5], [0.32, 0.5]]])]


STYLES: dict[str, Style] = {
    "zero": Style(0, "an upright oval zero, as MNIST has thousands", _zero, (-10, 15)),
    "slashed_zero": Style(
        0, "a zero with a slash through it, as programmers write it", _slashed_zero, (-10, 15)
    ),
    "seven": Style(7, "a plain seven: a bar and a stem", _seven, (-10, 15)),
    "crossed_seven": Style(7, "a seven with a bar across its stem", _crossed_seven, (-10, 15)),
    "one": Style(1, "a plain one: one upright stroke", _one, (-10, 15)),
    "flag_one": Style(1, "a one with a long flag stroke up to its top", _flag_one, (-10, 15)),
    "slanted_one": Style(1, "a one leaning far over to the right", _one, (40, 55)),
    "slanted_four": Style(4, "a four leaning far over to the right", _four, (40, 55)),
    "slanted_two": Style(2, "a two leaning far over to the right", _two, (40, 55)),
}
# The styles MNIST barely contains; the others are there to compare with.
UNUSUAL = ("slashed_zero", "crossed_seven", "flag_one", "slanted_one", "slanted_four", "slanted_two")


def strokes(style: str, rng: np.random.Generator) -> list[Stroke]:
    """One drawing of ``style``: strokes of ``(x, y)`` canvas points, as a pointer would report them.

    Every draw from ``rng`` varies the drawing: its height (40 to 75 % of the
    canvas), slant (the style's range), a rotation of up to 6 degrees, its
    place on the canvas (anywhere it fits whole), and a wobble of every
    corner of the path (a standard deviation of 1 % of its height). Each
    shape also draws its own variations: a loop's width and where it starts,
    how far a slash reaches, how long a flag is, where a bar crosses.
    """
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; the styles are: {', '.join(STYLES)}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {rng!r}")
    spec = STYLES[style]
    shape = [np.asarray(stroke, dtype=np.float64) for stroke in spec.shape(rng)]
    slant = np.tan(np.deg2rad(rng.uniform(*spec.slant_degrees)))
    angle = np.deg2rad(rng.uniform(-6, 6))
    height = rng.uniform(0.4, 0.75) * CANVAS
    # Slant (a shear: the top moves right), rotate, scale to the height; y is down, so up is -y.
    shear = np.array([[1.0, -slant], [0.0, 1.0]])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    transform = height * rotation @ shear  # (2, 2)
    placed = [(stroke + rng.normal(0, 0.01, stroke.shape)) @ transform.T for stroke in shape]
    # Move it to a random place where the whole digit, brush included, stays on the canvas.
    points = np.vstack(placed)
    low, high = points.min(axis=0), points.max(axis=0)
    margin = BRUSH_RADIUS + 2
    room_low, room_high = margin - low, CANVAS - margin - high
    offset = rng.uniform(np.minimum(room_low, room_high), np.maximum(room_low, room_high))
    return [_as_pointer_events(stroke + offset) for stroke in placed]


def _as_pointer_events(path: np.ndarray) -> Stroke:
    """The path resampled every ``STEP`` canvas pixels, as the pointer moves reported by a browser."""
    points = [path[0]]
    for start, end in itertools.pairwise(path):
        pieces = max(1, int(np.ceil(np.hypot(*(end - start)) / STEP)))
        points.extend(start + (end - start) * (k / pieces) for k in range(1, pieces + 1))
    clipped = np.clip(np.array(points), 0, CANVAS)
    return [(float(x), float(y)) for x, y in clipped]


def render(drawing: Sequence[Sequence[tuple[float, float]]]) -> np.ndarray:
    """The ``(28, 28)`` float32 input the pad gives the network for these strokes.

    The same path as a pointer on the pad: a ``StrokeRaster`` of the pad's
    size and brush, one ``start`` per stroke and one ``extend`` per point,
    then ``preprocess_digit``.
    """
    raster = raster_of(drawing)
    return preprocess_digit(raster.image)


def raster_of(drawing: Sequence[Sequence[tuple[float, float]]]) -> StrokeRaster:
    """The pad's ``StrokeRaster`` with ``drawing`` painted in it, before any preprocessing."""
    if not drawing or any(len(stroke) == 0 for stroke in drawing):
        raise ValueError("a drawing needs at least one stroke, and every stroke at least one point")
    raster = StrokeRaster(CANVAS, SIZE, BRUSH_RADIUS)
    for stroke in drawing:
        raster.start(*stroke[0])
        for x, y in stroke[1:]:
            raster.extend(x, y)
    return raster


def draw_many(style: str, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` different drawings of ``style`` as the network reads them: ``x (n, 28, 28)``, ``y (n,)``.

    Drawing ``k`` comes from its own generator, spawned from ``seed``, so the
    first ``m`` drawings of ``draw_many(style, n, seed)`` are those of
    ``draw_many(style, m, seed)``; use different seeds for examples to teach
    and drawings to test on.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    generators = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(int(n))]
    x = np.stack([render(strokes(style, rng)) for rng in generators])
    return x, np.full(int(n), STYLES[style].label, dtype=np.int64)
