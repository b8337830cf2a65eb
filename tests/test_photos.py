"""The photo steps of the preprocessing (``mlp.pad.paper``), each on a small case made here.

A lighting gradient is removed, Otsu's threshold falls between two modes (as an
exhaustive search finds it), pieces of ink are those a flood fill finds, specks
are dropped, paper alone is no digit, and a shadow over half the page does not
swap ink and paper. Then the benchmark's photos, a small seeded subset, are
read as well as scans of the same digits, and the pad's drawings are read as
before the photo steps.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest

import mlp
from benchmarks.photos import CLEAN, CONDITIONS, answer, photos, scan_only_preprocess
from mlp.pad import paper
from mlp.pad.preprocess import (
    NOISE_FLOOR,
    EmptyDrawingError,
    centre_by_mass,
    flat_background_ink,
    ink_steps,
    preprocess_digit,
    scale_to_box,
)
from mlp.pad.styles import STYLES, raster_of, strokes


@pytest.fixture(scope="module")
def model() -> mlp.Sequential:
    return mlp.load_model()


def pen_strokes(style: str = "seven", seed: int = 0) -> np.ndarray:
    """A digit drawn with the pad's brush: ink coverage in [0, 1], (280, 280) float32."""
    return raster_of(strokes(style, np.random.default_rng(seed))).image


def light_falling_off(shape: tuple[int, int], brightest: float, dimmest: float) -> np.ndarray:
    """Light falling linearly across the page from left to right: ``(h, w)``."""
    return np.broadcast_to(np.linspace(brightest, dimmest, shape[1], dtype=np.float32), shape)


# --- background ---------------------------------------------------------------------------------


def test_a_lighting_gradient_is_removed(model):
    ink = pen_strokes()
    light = light_falling_off(ink.shape, 1.0, 0.4)
    paper_shade = 0.9 * light  # paper reflects 90 %, black ink 10 %
    photo = paper_shade * (1 - 0.9 * ink)
    background = paper.estimate_background(photo, dark_ink=True)
    far_from_ink = ~paper.grow(ink > 0, 6)
    error = np.abs(background - paper_shade)
    # Within two blocks (of 12 pixels) of the dim border the closing lifts the shade by up to two
    # blocks' fall of the light (2 × 12 × 0.9 × 0.6 / 280 = 0.046): it cannot see beyond the picture.
    interior = far_from_ink.copy()
    interior[:, -24:] = False
    assert error[interior].max() < 0.012, "the estimate follows the light"
    assert error[far_from_ink].max() < 0.05
    flat = paper.flatten(photo, background, dark_ink=True)
    assert np.abs(flat[interior]).max() < 0.02, "paper is 0 in full light and in shade"
    assert np.abs(flat[far_from_ink]).max() < 0.12, "and stays far below the ink's 0.9 at the dim border"
    core = ink == 1
    np.testing.assert_allclose(flat[core], 0.9, atol=0.05)  # ink: its contrast with the paper, everywhere
    # Read as the clean drawing is read, and a scan-only reading (the paper's shade) cannot.
    clean, lit = preprocess_digit(ink), preprocess_digit(photo)
    assert np.abs(lit - clean).mean() < 0.02
    assert model.predict(lit) == model.predict(clean) == 7


def test_a_shadow_over_half_the_page_does_not_swap_ink_and_paper(model):
    ink = pen_strokes("zero", seed=2)
    columns = np.arange(ink.shape[1], dtype=np.float32)
    shadow = 1 - 0.5 / (1 + np.exp(-(columns - 150) / 5))  # a soft edge at column 150, half the light
    photo = 0.85 * np.broadcast_to(shadow, ink.shape) * (1 - 0.9 * ink)
    steps = ink_steps(photo)
    assert steps.dark_ink, "dark ink on paper, though half of the paper is darker than the median"
    assert model.predict(preprocess_digit(photo)) == model.predict(preprocess_digit(ink)) == 0


# --- threshold ----------------------------------------------------------------------------------


def within_class_variance(values: np.ndarray, threshold: float) -> float:
    """The quantity Otsu minimises, computed directly: the classes' variances weighted by their sizes."""
    low, high = values[values <= threshold], values[values > threshold]
    return (low.size * low.var() if low.size else 0) + (high.size * high.var() if high.size else 0)


@pytest.mark.parametrize("seed", range(3))
def test_otsu_picks_the_threshold_an_exhaustive_search_picks(seed):
    rng = np.random.default_rng(seed)
    paper_level, ink_level = rng.uniform(0.05, 0.3), rng.uniform(0.55, 0.9)
    values = np.concatenate(
        [rng.normal(paper_level, 0.04, 9000), rng.normal(ink_level, 0.06, 1000)]  # 10 % ink
    )
    levels = np.clip(np.round(values * 255), 0, 255) / 255  # the 256 grey levels Otsu works on
    threshold = paper.otsu_threshold(values)
    assert paper_level < threshold < ink_level
    candidates = (np.arange(255) + 0.5) / 255
    best = min(within_class_variance(levels, t) for t in candidates)
    assert within_class_variance(levels, threshold) <= best * (1 + 1e-9)


def test_otsu_splits_two_levels_midway():
    values = np.repeat([0.2, 0.8], [700, 300])
    assert paper.otsu_threshold(values) == pytest.approx(0.5, abs=1 / 255)
    assert paper.otsu_threshold(np.full(50, 0.3)) == 0.5  # one level: nothing to split, no error


# --- pieces and specks --------------------------------------------------------------------------


def flood_fill_pieces(mask: np.ndarray) -> set[frozenset]:
    """The 8-connected pieces of ``mask`` as sets of pixels, by breadth-first search (the reference)."""
    seen, pieces = np.zeros_like(mask), set()
    for start in zip(*np.nonzero(mask)):
        if seen[start]:
            continue
        piece, queue = set(), deque([start])
        seen[start] = True
        while queue:
            r, c = queue.popleft()
            piece.add((int(r), int(c)))
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    rr, cc = r + dr, c + dc
                    inside = 0 <= rr < mask.shape[0] and 0 <= cc < mask.shape[1]
                    if inside and mask[rr, cc] and not seen[rr, cc]:
                        seen[rr, cc] = True
                        queue.append((rr, cc))
        pieces.add(frozenset(piece))
    return pieces


@pytest.mark.parametrize("density", [0.2, 0.45, 0.6])
def test_pieces_are_those_a_flood_fill_finds(density):
    mask = np.random.default_rng(int(density * 100)).random((37, 53)) < density
    row, start, stop, piece = paper.label_pieces(mask)
    found: dict[int, set] = {}
    for r, a, b, p in zip(row, start, stop, piece):
        found.setdefault(int(p), set()).update((int(r), c) for c in range(a, b))
    assert {frozenset(p) for p in found.values()} == flood_fill_pieces(mask)


def test_specks_are_dropped_and_strokes_kept():
    ink = pen_strokes("slanted_two", seed=1)
    speckled = ink.copy()
    rng = np.random.default_rng(0)
    paper_only = ~paper.grow(ink > 0, 5)
    rows, cols = np.nonzero(paper_only[:-3, :-3])
    for i in rng.choice(len(rows), 150, replace=False):  # dust on the paper: 1-3 pixels a side
        speckled[rows[i] : rows[i] + rng.integers(1, 4), cols[i] : cols[i] + rng.integers(1, 4)] = 1
    strong = speckled > 0.5
    kept = paper.keep_strokes(strong)
    np.testing.assert_array_equal(kept, paper.keep_strokes(ink > 0.5))
    assert (strong & ~kept).sum() > 150, "the specks were there, and went"
    np.testing.assert_allclose(preprocess_digit(speckled), preprocess_digit(ink), atol=1e-6)


def test_a_broken_stroke_keeps_both_pieces():
    """MNIST writes some digits in two pieces (a 5's bar apart from its body): both are the digit."""
    image = np.zeros((100, 100), np.float32)
    image[20:26, 30:70] = 1  # the bar
    image[32:80, 30:37] = 1  # the body, not touching it
    assert paper.keep_strokes(image > 0.5).sum() == (image > 0.5).sum()


# --- nothing to read ----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_paper_alone_is_no_digit(seed):
    rng = np.random.default_rng(seed)
    shape = (300, 400)
    texture = 1 + 0.03 * rng.standard_normal(shape)
    photo = 0.8 * light_falling_off(shape, 1.0, 0.5) * texture + rng.normal(0, 6 / 255, shape)
    blank = np.clip(np.round(255 * photo), 0, 255).astype(np.uint8)
    with pytest.raises(EmptyDrawingError, match="no digit found: the image is blank or nothing on it"):
        preprocess_digit(blank)


# --- photos and drawings ------------------------------------------------------------------------


@pytest.mark.slow
def test_a_photo_subset_is_read_as_well_as_its_scans(model):
    """25 MNIST test digits under every condition (seed 7): ``python -m benchmarks photos``, small."""
    right = {path: {c: [] for c in CONDITIONS} for path in ("now", "before")}
    for label, files in photos(25, seed=7):
        for condition, data in files.items():
            right["now"][condition].append(answer(data, model, preprocess_digit) == label)
            right["before"][condition].append(answer(data, model, scan_only_preprocess) == label)
    now = {c: np.mean(r) for c, r in right["now"].items()}
    photos_now = np.mean([right["now"][c] for c in CONDITIONS if c != CLEAN])
    photos_before = np.mean([right["before"][c] for c in CONDITIONS if c != CLEAN])
    assert now[CLEAN] >= 0.92 and photos_now >= now[CLEAN] - 0.04, now
    assert min(now.values()) >= 0.84, now  # no condition more than 4 of 25 digits wrong
    assert photos_before < 0.5, "the scan-only reading failed these photos"


def test_the_pads_drawings_are_read_as_before(model):
    """A drawing on the pad is a clean picture: the photo steps leave the network's answers as they were."""
    same, total = 0, 0
    for name in STYLES:
        for seed in range(8):
            image = pen_strokes(name, seed)
            same += model.predict(preprocess_digit(image)) == model.predict(scan_only_preprocess(image))
            total += 1
    assert same == total


def test_a_drawing_takes_the_flat_background_path_and_a_photo_the_paper_steps():
    drawing = pen_strokes("seven", 3)
    gray = drawing.astype(np.float32)
    ink = flat_background_ink(gray)
    assert ink is not None, "the pad's drawings have a flat background"
    np.testing.assert_allclose(ink, gray / gray.max(), atol=1e-7)  # stretched, nothing dropped
    page = np.full((280, 280), 0.8, np.float32) - 0.02 * np.random.default_rng(0).random((280, 280))
    assert flat_background_ink(page.astype(np.float32)) is None, "paper has no single shade: photo steps"
    with pytest.raises(EmptyDrawingError, match="no digit found"):
        flat_background_ink(np.zeros((50, 50), np.float32))


def test_on_drawings_the_flat_background_path_reads_as_the_paper_steps_would(model):
    """What the quick path gives up: nothing measurable on drawings (the docstring's figures)."""
    agree = right_flat = right_paper = total = 0
    for name in STYLES:
        for seed in range(12):
            gray = pen_strokes(name, seed).astype(np.float32)
            flat = flat_background_ink(gray)
            if flat is None:  # a stroke that runs off the pad's edge: the paper steps read it
                continue
            by_flat = model.predict(_finished(flat).reshape(1, -1))[0]
            by_paper = model.predict(_finished(ink_steps(gray).ink).reshape(1, -1))[0]
            label = STYLES[name].label
            agree += by_flat == by_paper
            right_flat += by_flat == label
            right_paper += by_paper == label
            total += 1
    assert total >= 0.9 * 12 * len(STYLES), "most drawings keep off the pad's edge"
    assert agree >= 0.97 * total, (agree, total)
    assert abs(right_flat - right_paper) <= 0.02 * total, (right_flat, right_paper)


def _finished(ink: np.ndarray) -> np.ndarray:
    """``preprocess_digit``'s steps after the ink: crop, 20-pixel box, centre of mass."""
    rows, cols = np.nonzero(ink.max(axis=1) > NOISE_FLOOR)[0], np.nonzero(ink.max(axis=0) > NOISE_FLOOR)[0]
    digit = scale_to_box(ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])
    digit *= 1 / digit.max()
    return centre_by_mass(digit)
