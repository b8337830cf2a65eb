"""The pad's files in a real browser: one click saves, Load model reads with your network, a reload keeps
the examples. Chromium on the dashboard Voila serves, as a visitor uses it."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from pad_browser import TIMEOUT_MS, button, mouse_draw, open_pad
from playwright.sync_api import Browser, Page, expect

import mlp
from benchmarks.drivers.voila_server import PAINTED, VoilaServer
from mlp.pad.styles import strokes
from mlp.pad.widget import PIXEL_RATIO
from mlp.training.examples import load_examples

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser: Browser, server: VoilaServer) -> Iterator[Page]:
    """A fresh page (its own kernel), in a fresh browser profile: nothing kept from another test."""
    context = browser.new_context(viewport={"width": 1100, "height": 900}, accept_downloads=True)
    yield open_pad(context, server.url)
    context.close()


def add_examples(page: Page, n: int, seed: int = 0) -> None:
    """``n`` slashed zeros drawn by mouse, each tapped as a 0."""
    rng = np.random.default_rng(seed)
    for count in range(1, n + 1):
        button(page, "Clear").click()
        drawing = strokes("slashed_zero", rng)
        mouse_draw(page, *drawing, scale=1 / PIXEL_RATIO)
        expect(page.locator(".dp-result")).to_have_attribute("data-strokes", str(len(drawing)))
        button(page, "0").click()
        expect(page.locator(".dp-examples")).to_have_attribute("data-count", str(count))


def test_the_tab_says_what_the_page_is(page):
    """The title comes from notebook 10's metadata ("title"), not its file name."""
    assert page.title() == "Draw a digit"


def test_examples_and_model_save_in_one_click(page, tmp_path):
    add_examples(page, 2)
    with page.expect_download() as download:
        button(page, "Examples").click()
    assert download.value.suggested_filename == "my-examples.npz"
    path = tmp_path / "my-examples.npz"
    download.value.save_as(path)
    assert load_examples(path)[1].tolist() == [0, 0]

    with page.expect_download(timeout=TIMEOUT_MS) as download:
        button(page, "Model").click()
    assert download.value.suggested_filename == "my-model.npz"
    path = tmp_path / "my-model.npz"
    download.value.save_as(path)
    assert mlp.load_model(path).n_inputs == 784


def test_load_model_reads_with_your_network_and_says_so(page, tmp_path):
    network = page.locator(".dp-network")
    expect(network).to_have_text("Network: the course's (mlp-mnist.npz)")
    mine = mlp.load_model()
    mine.metadata = {}
    path = mlp.save_model(mine, tmp_path / "my-model.npz", made_by="you")
    with page.expect_file_chooser() as chooser:
        page.locator(".dp-load-model").click()
    chooser.value.set_files(str(path))
    expect(network).to_have_text("Network: yours (my-model.npz)")

    with page.expect_file_chooser() as chooser:  # the same file under Load examples: say what it is
        page.locator(".dp-load").click()
    chooser.value.set_files(str(path))
    said = page.locator(".dp-said")
    expect(said).to_have_text(
        "my-model.npz is a model file, a whole network: use Load model to read with it."
    )
    expect(said).to_have_attribute("data-state", "error")

    with page.expect_file_chooser() as chooser:  # a bad model file: the reason, plainly, nothing lost
        page.locator(".dp-load-model").click()
    chooser.value.set_files({"name": "broken.npz", "mimeType": "application/zip", "buffer": b"PK\x03\x04 no"})
    expect(said).to_contain_text("Cannot use broken.npz: broken.npz is not a usable model file")
    assert "/tmp" not in said.inner_text()
    expect(network).to_have_text("Network: yours (my-model.npz)")


def test_a_reload_brings_the_examples_back_and_forget_removes_them(page):
    add_examples(page, 2, seed=3)
    page.reload()
    expect(page.locator("canvas.dp-canvas")).to_be_visible(timeout=TIMEOUT_MS)
    page.wait_for_function(PAINTED, timeout=TIMEOUT_MS, polling=100)
    expect(page.locator(".dp-examples")).to_have_attribute("data-count", "2", timeout=TIMEOUT_MS)
    expect(page.locator(".dp-said")).to_contain_text(
        "Brought back your 2 examples from before the page reloaded"
    )
    expect(page.locator(".dp-keep-note")).to_contain_text("the taught network is not kept")

    button(page, "Forget").click()
    expect(page.locator(".dp-examples")).to_have_attribute("data-count", "0")
    button(page, "Undo forget").click()
    expect(page.locator(".dp-examples")).to_have_attribute("data-count", "2")
    button(page, "Forget").click()
    expect(page.locator(".dp-examples")).to_have_attribute("data-count", "0")
    page.wait_for_function(
        "() => !Object.keys(localStorage).some(key => key.startsWith('mlp-pad-examples:'))", timeout=5_000
    )
    page.reload()
    page.wait_for_function(PAINTED, timeout=TIMEOUT_MS, polling=100)
    expect(page.locator(".dp-examples")).to_have_attribute("data-count", "0")


def test_what_teaching_changed_leaves_with_the_next_drawing(page):
    add_examples(page, 3, seed=5)
    button(page, "Teach").click()
    said = page.locator(".dp-said")
    expect(said).to_have_attribute("data-state", "taught", timeout=TIMEOUT_MS)
    expect(said.locator(".dp-change")).to_have_count(1)
    button(page, "Clear").click()
    mouse_draw(page, [(140, 40), (140, 240)])
    expect(page.locator(".dp-result")).to_have_attribute("data-strokes", "1")
    expect(said.locator(".dp-change")).to_have_count(0)
    expect(page.locator(".dp-network")).to_have_text(
        "Network: the course's (mlp-mnist.npz), taught 3 of your examples"
    )


def test_the_strip_shows_ten_thumbnails_unclipped(page):
    add_examples(page, 10, seed=7)
    strip = page.locator(".dp-strip").bounding_box()
    last = page.locator(".dp-example").nth(9).bounding_box()
    assert last["x"] + last["width"] <= strip["x"] + strip["width"] + 0.5, (strip, last)
    assert last["y"] + last["height"] <= strip["y"] + strip["height"] + 0.5, (strip, last)
