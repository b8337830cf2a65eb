"""The checker of notebook 08's exercise accepts right answers and diagnoses the typical wrong ones."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlp.exercises import check_centre_by_mass
from mlp.exercises.pad import corner_patch, drawn_patches, lopsided_patch, offsets, place
from mlp.pad.preprocess import centre_by_mass as reference


def centre_by_mass(patch, *, centre=14.0, rounding=round, clamp=True, rows_first=True, one_based=False):
    """The right answer, and through its options the typical wrong ones."""
    height, width = patch.shape
    mass = patch.sum()
    rows, cols = np.arange(height) + one_based, np.arange(width) + one_based
    row = patch.sum(axis=1) @ rows / mass
    col = patch.sum(axis=0) @ cols / mass
    if not rows_first:
        row, col = col, row
    top, left = rounding(centre - row), rounding(centre - col)
    if clamp:
        top, left = min(max(top, 0), 28 - height), min(max(left, 0), 28 - width)
    frame = np.zeros((28, 28), dtype=np.float32)
    frame[top : top + height, left : left + width] = patch
    return frame


def centre_by_mass_loops(patch):
    """The same, with plain loops and np.round: another right answer."""
    total = row = col = 0.0
    for r in range(patch.shape[0]):
        for c in range(patch.shape[1]):
            total += patch[r, c]
            row += r * patch[r, c]
            col += c * patch[r, c]
    top = int(np.clip(np.round(14 - row / total), 0, 28 - patch.shape[0]))
    left = int(np.clip(np.round(14 - col / total), 0, 28 - patch.shape[1]))
    frame = np.zeros((28, 28))
    frame[top : top + patch.shape[0], left : left + patch.shape[1]] = patch
    return frame.tolist()


def test_the_checker_places_what_the_pad_places():
    for patch in (lopsided_patch(), corner_patch("top"), corner_patch("bottom"), *drawn_patches()):
        assert np.array_equal(centre_by_mass(patch), reference(patch))
        top, left = place(patch, *offsets(patch))
        assert (
            reference(patch)[top : top + patch.shape[0], left : left + patch.shape[1]].tolist()
            == patch.tolist()
        )


@pytest.mark.parametrize("answer", [centre_by_mass, centre_by_mass_loops])
def test_right_answers_pass(answer):
    result = check_centre_by_mass(answer, verbose=False)
    assert result.passed, result.message


def not_written(patch):
    raise NotImplementedError


def mutating(patch):
    out = centre_by_mass(patch.copy())
    patch *= 0.5
    return out


def normalised(patch):
    return centre_by_mass(patch / patch.sum())


def no_return(patch):
    centre_by_mass(patch)


def bounding_box_centre(patch):
    height, width = patch.shape
    top, left = round(14 - (height - 1) / 2), round(14 - (width - 1) / 2)
    frame = np.zeros((28, 28))
    frame[top : top + height, left : left + width] = patch
    return frame


def rolled(patch):
    """Shifting by np.roll instead of clamping: the corner-heavy seven wraps around the frame."""
    frame = np.zeros((28, 28))
    frame[: patch.shape[0], : patch.shape[1]] = patch
    row, col = offsets(patch)
    return np.roll(frame, (round(row), round(col)), axis=(0, 1))


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (lambda p: centre_by_mass(p, rows_first=False), "rows and columns are swapped"),
        (lambda p: centre_by_mass(p, centre=13.5), "you centred on 13.5"),
        (lambda p: centre_by_mass(p, rounding=math.floor), "rounded the offsets down"),
        (lambda p: centre_by_mass(p, rounding=int), "rounded the offsets down"),
        (lambda p: centre_by_mass(p, rounding=math.ceil), "round them up"),
        (lambda p: centre_by_mass(p, one_based=True), "start at 0"),
        (lambda p: centre_by_mass(p, clamp=False), "Clamp the offsets"),
        (rolled, "Clamp the offsets"),
        (bounding_box_centre, "centres the bounding box"),
        (normalised, "pixels themselves must not change"),
        (mutating, "changed its argument `patch` in place"),
        (no_return, "got None"),
        (lambda p: p, "expected shape (28, 28)"),
    ],
)
def test_typical_mistakes_get_their_diagnosis(answer, words):
    result = check_centre_by_mass(answer, verbose=False)
    assert not result.passed and not result.not_written
    assert words in result.message, result.message


def test_the_stub_is_not_written_yet_with_a_first_hint(capsys):
    result = check_centre_by_mass(not_written)
    assert result.not_written and "First hint:" in result.message
    assert capsys.readouterr().out.startswith("✎ centre_by_mass: not written yet")


def test_a_placement_mistake_says_where_the_digit_went():
    result = check_centre_by_mass(lambda p: centre_by_mass(p, centre=13.5), verbose=False)
    assert "(You placed it at top=3, left=11; the right place is 3, 12.)" in result.message
