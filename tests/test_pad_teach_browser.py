"""Teaching the pad in a real browser: draw, correct it with a click, Teach, watch it learn, Forget.

Chromium draws slashed zeros (``mlp.pad.styles``, which the shipped network
reads as other digits) on the dashboard Voila serves, taps "0" for each,
clicks Teach, and checks what a visitor sees: the progress while it runs,
then the new answer and what changed; Forget brings back the old answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import numpy as np
import pytest
from pad_browser import RECORD_TEACHING, TIMEOUT_MS, button, mouse_draw, open_pad
from playwright.sync_api import Browser, Page, expect

from benchmarks.drivers.voila_server import VoilaServer
from mlp.pad.styles import strokes
from mlp.pad.widget import PIXEL_RATIO
from mlp.training.model_io import DEFAULT_MODEL_PATH

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def page(browser: Browser, server: VoilaServer) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    yield open_pad(context, server.url)
    context.close()


def draw_style(page: Page, style: str, rng: np.random.Generator) -> None:
    """A drawing of ``style`` (canvas pixels), by mouse, on a cleared pad; waits until it is read."""
    page.get_by_role("button", name="Clear").click()
    drawing = strokes(style, rng)
    mouse_draw(page, *drawing, scale=1 / PIXEL_RATIO)  # the desktop pad shows 2 canvas pixels per CSS pixel
    expect(page.locator(".dp-result")).to_have_attribute("data-strokes", str(len(drawing)))


def test_desktop_layout_keeps_three_columns_and_teaching_in_view(page):
    canvas, result = (
        page.locator("canvas.dp-canvas").bounding_box(),
        page.locator(".dp-result").bounding_box(),
    )
    seen = page.locator("img.dp-preview").bounding_box()
    assert canvas["width"] == canvas["height"] == 280
    assert canvas["x"] + canvas["width"] < result["x"] < seen["x"], "pad, answer, input: side by side"
    teach = button(page, "Teach").bounding_box()
    assert teach["y"] + teach["height"] <= 900, "the Teach button is on the first screen"


def test_correct_it_teach_it_see_it_learn_then_forget(page):
    shipped = hashlib.sha256(DEFAULT_MODEL_PATH.read_bytes()).hexdigest()
    rng = np.random.default_rng(1)
    for count in range(1, 5):
        draw_style(page, "slashed_zero", rng)
        button(page, "0").click()
        expect(page.locator(".dp-examples")).to_have_attribute("data-count", str(count))
    expect(page.locator(".dp-example")).to_have_count(4)

    draw_style(page, "slashed_zero", rng)  # one more, not an example
    digit = page.locator(".dp-result .dp-digit")
    before = digit.inner_text()
    assert before != "0", "the shipped network misreads this slashed zero (else teaching shows nothing)"

    page.evaluate(RECORD_TEACHING)
    button(page, "Teach").click()
    said = page.locator(".dp-said")
    expect(said).to_have_attribute("data-state", "taught", timeout=TIMEOUT_MS)
    expect(digit).to_have_text("0")
    expect(said).to_contain_text("Taught on 4 examples in")
    expect(said.locator(".dp-change")).to_contain_text("0: ")
    seen = page.evaluate("window.__teaching")
    assert seen["states"][-2:] == ["teaching", "taught"], seen
    widths = [float(width.rstrip("%")) for width in seen["bars"]]
    assert len(widths) >= 3 and widths == sorted(widths) and 0 < widths[1] < 100, seen
    expect(page.locator(".dp-progress")).to_be_hidden()

    button(page, "Forget").click()
    expect(digit).to_have_text(before)
    expect(page.locator(".dp-examples")).to_have_attribute("data-count", "0")
    expect(said).to_contain_text("Forgotten")
    assert hashlib.sha256(DEFAULT_MODEL_PATH.read_bytes()).hexdigest() == shipped, "the kernel never wrote it"


def test_teaching_with_no_examples_says_what_to_do(page):
    button(page, "Forget").click()
    button(page, "Teach").click()
    said = page.locator(".dp-said")
    expect(said).to_have_attribute("data-state", "error")
    expect(said).to_contain_text("No examples yet")
    expect(said).to_have_css("color", "rgb(198, 40, 40)")
