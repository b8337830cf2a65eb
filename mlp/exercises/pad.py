"""The checker of notebook 08's exercise: the preprocessing's centre-of-mass shift.

* ``check_centre_by_mass(fn)`` — ``fn(patch) -> frame (28, 28)``: ``patch``
  (a digit already scaled into its 20-pixel box) pasted into a black 28×28
  frame, shifted by whole pixels so that its centre of mass lands as near as
  possible to MNIST's (14.0, 14.0), and never pushed out of the frame.

The checker first tries a patch of one lit pixel, where the answer can be
worked out by hand; then a lopsided patch whose row and column centres
differ, so that each usual slip gives a recognisably wrong frame (rows and
columns swapped, the geometric centre 13.5 instead of MNIST's 14.0, the
bounding box's centre instead of the mass's, indices counted from 1,
rounding down or up instead of to the nearest pixel); then two digits heavy at
one corner, which only fit whole if the shift is clamped; finally real drawn
digits against the pad's own ``mlp.pad.preprocess.centre_by_mass``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from mlp.exercises.checking import (
    ExerciseResult,
    Mismatch,
    NotWrittenYet,
    call_learner,
    compare_arrays,
    hint_for,
    run_check,
)
from mlp.pad.preprocess import BOX, CENTRE, FRAME, centre_by_mass, scale_to_box

__all__ = ["check_centre_by_mass"]

FORMULA = (
    "row centre = sum(r * patch[r, c]) / sum(patch), likewise for columns; "
    "top = round(14 - row centre), left = round(14 - column centre), each clamped to 0..28 - size."
)
FIXES = {
    "patch": "Paste it into a new frame: frame = np.zeros((28, 28)), then frame[top:..., left:...] = patch."
}
FIRST_HINT = (
    "find the patch's centre of mass (the ink-weighted mean row and mean column), then choose where "
    "to paste the patch in the 28 × 28 frame so that this centre lands on pixel (14, 14), as close as "
    "the frame allows: the patch must stay whole inside it."
)
CLAMP_HINT = (
    "this digit's mass is near one corner: shifting its centre of mass all the way to (14, 14) "
    "would push part of it out of the 28 × 28 frame. Clamp the offsets, top to 0..28 - height and "
    "left to 0..28 - width, so the digit stays whole."
)


def paste(patch: np.ndarray, top: int, left: int) -> np.ndarray:
    """``patch`` at ``(top, left)`` in a black frame (the offsets must fit)."""
    frame = np.zeros((FRAME, FRAME))
    frame[top : top + patch.shape[0], left : left + patch.shape[1]] = patch
    return frame


def offsets(patch: np.ndarray, *, centre: float = 14.0, mistake: str | None = None) -> tuple[float, float]:
    """The unclamped, unrounded ``(top, left)`` of the right answer, or of a typical ``mistake``."""
    height, width = patch.shape
    rows, cols = np.arange(height), np.arange(width)
    if mistake == "one_based":
        rows, cols = rows + 1, cols + 1
    mass = patch.sum()
    com_row, com_col = patch.sum(axis=1) @ rows / mass, patch.sum(axis=0) @ cols / mass
    if mistake == "bounding_box":
        com_row, com_col = (height - 1) / 2, (width - 1) / 2
    if mistake == "swapped":
        com_row, com_col = com_col, com_row
    return centre - com_row, centre - com_col


def place(
    patch: np.ndarray, top: float, left: float, rounding: Callable[[float], int] = round
) -> tuple[int, int]:
    """Offsets rounded by ``rounding`` and clamped so that ``patch`` stays whole in the frame."""
    height, width = patch.shape
    return min(max(rounding(top), 0), FRAME - height), min(max(rounding(left), 0), FRAME - width)


def frame_for(
    patch: np.ndarray, top: float, left: float, rounding: Callable[[float], int] = round
) -> np.ndarray:
    return paste(patch, *place(patch, top, left, rounding))


def typical_mistakes(patch: np.ndarray) -> list[tuple[np.ndarray, str]]:
    """The frames that the usual slips produce for ``patch``, each with what to say about it."""
    return [
        (
            frame_for(patch, *offsets(patch, mistake="swapped")),
            "rows and columns are swapped: the row centre comes from patch.sum(axis=1) (one sum per "
            "row) and sets `top`; the column centre from patch.sum(axis=0) sets `left`.",
        ),
        (
            # Centring on 13.5 and rounding down give the same frame: round(x - 0.5) is floor(x).
            frame_for(patch, *offsets(patch, centre=13.5)),
            "the digit sits half a pixel too far up or left. Either you centred on 13.5, the frame's "
            "geometric centre, where MNIST puts the centre of mass at (14.0, 14.0) (and that is what the "
            "network learned), or you rounded the offsets down (int() or floor) instead of to the nearest "
            "pixel with round().",
        ),
        (
            frame_for(patch, *offsets(patch, mistake="bounding_box")),
            "that centres the bounding box; weigh each pixel by its ink: sum(r * patch[r, c]) / sum(patch).",
        ),
        (
            frame_for(patch, *offsets(patch, mistake="one_based")),
            "the pixel indices start at 0 (np.arange(height)), not at 1.",
        ),
        (
            frame_for(patch, *offsets(patch), rounding=math.ceil),
            "round the offsets to the nearest pixel (round(...)), do not round them up with ceil.",
        ),
        (
            frame_for(patch / patch.sum(), *offsets(patch)),
            "the pixels themselves must not change: paste the patch as it is; only its place changes.",
        ),
    ]


def lopsided_patch() -> np.ndarray:
    """A 17 × 11 patch, heavier at the bottom left, whose offsets are far from any rounding tie."""
    rows, cols = np.mgrid[0:17, 0:11]
    patch = (rows + 1) * (11 - cols) ** 2 / (17 * 121)
    return patch.astype(np.float32)


def corner_patch(corner: str) -> np.ndarray:
    """A 20 × 20 "7" heavy along its top edge (or, flipped, along its bottom edge and right side)."""
    patch = np.zeros((BOX, BOX), np.float32)
    patch[:4, :] = 1.0  # a thick bar
    patch[np.arange(4, BOX), np.linspace(BOX - 1, 6, BOX - 4).astype(int)] = 0.5  # a thin stem
    return patch if corner == "top" else patch[::-1, ::-1].copy()


def drawn_patches() -> list[np.ndarray]:
    """Digits drawn on the pad by code, cropped and scaled to their 20-pixel box as the pad does."""
    from mlp.pad.styles import STYLES, raster_of, strokes  # imported here: it loads the pad's widget module

    patches = []
    for i, style in enumerate(STYLES):
        ink = raster_of(strokes(style, np.random.default_rng(i))).image
        rows, cols = np.nonzero(ink.max(axis=1) > 0.1)[0], np.nonzero(ink.max(axis=0) > 0.1)[0]
        patch = scale_to_box(ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])
        patches.append(patch / patch.max())
    return patches


def check_centre_by_mass(
    centre_by_mass_fn: Callable[[np.ndarray], Any], *, verbose: bool = True
) -> ExerciseResult:
    """Check ``centre_by_mass(patch) -> (28, 28)`` against the pad's own preprocessing step."""

    def case(label: str, patch: np.ndarray, hint: str = FORMULA, known: bool = True) -> None:
        expected = centre_by_mass(patch, FRAME, CENTRE).astype(np.float64)
        try:
            when_raised = FIRST_HINT if hint == FORMULA else hint  # the formula is most of the answer
            got = call_learner("centre_by_mass", centre_by_mass_fn, {"patch": patch}, when_raised, FIXES)
        except NotWrittenYet:
            raise
        except Mismatch as e:
            raise Mismatch(f"{label}: {e}") from None
        mistakes = typical_mistakes(patch) if known else []
        try:
            compare_arrays(
                "frame", got, expected, rtol=0, atol=1e-6, hint=hint_for(got, hint, by_value=mistakes)
            )
        except Mismatch as e:
            raise Mismatch(f"{label}: {e}{where(got, patch)}") from None

    def check() -> str:
        dot = np.zeros((3, 4), np.float32)
        # Its centre of mass is (2, 0): top = 14 - 2 and left = 14 - 0 put the lit pixel on (14, 14).
        dot[2, 0] = 1.0
        case("one lit pixel at (2, 0) of a 3 × 4 patch, which must land on pixel (14, 14)", dot)
        case(
            "a lopsided 17 × 11 patch (centre of mass off its middle, differently in rows and columns)",
            lopsided_patch(),
        )
        case("a 20 × 20 seven heavy along its top edge", corner_patch("top"), CLAMP_HINT)
        case("the same seven upside down, heavy at the bottom right", corner_patch("bottom"), CLAMP_HINT)
        patches = drawn_patches()
        for i, patch in enumerate(patches):
            case(
                f"drawn digit {i + 1} of {len(patches)} ({patch.shape[0]} × {patch.shape[1]})",
                patch,
                known=False,
            )
        return (
            f"a lit pixel lands on (14, 14); a lopsided patch, two corner-heavy sevens (clamped) and "
            f"{len(patches)} drawn digits are placed exactly as the pad places them; the patch is unchanged."
        )

    return run_check(
        "centre_by_mass",
        check,
        first_hint=FIRST_HINT,
        more_help="the centre of mass of the rows is (patch.sum(axis=1) @ np.arange(height)) / patch.sum(), "
        f"likewise for the columns; {FORMULA}",
        verbose=verbose,
        keep=centre_by_mass_fn,
    )


def where(got: Any, patch: np.ndarray) -> str:
    """Where the learner's frame put the patch, if it is the patch pasted somewhere: the quickest clue."""
    try:
        frame = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return ""
    if frame.shape != (FRAME, FRAME):
        return ""
    height, width = patch.shape
    top, left = place(patch, *offsets(patch))
    for t in range(FRAME - height + 1):
        for left_got in range(FRAME - width + 1):
            if np.allclose(frame, paste(patch, t, left_got), atol=1e-6):
                return f" (You placed it at top={t}, left={left_got}; the right place is {top}, {left}.)"
    return ""
