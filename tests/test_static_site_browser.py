"""The static dashboard (notebook 10 on Pyodide, built by ``site/build.py``) in Chromium, offline.

The site is built from this checkout (downloads cached in ``.site-cache/``;
``$MLP_STATIC_SITE`` names a site built before instead), served on 127.0.0.1
under a sub-path, as GitHub Pages serves it, and opened in headless Chromium
where every request to another host is refused and a dead proxy stops any
that routing would miss. A visitor's mouse draws a digit, reads the answer,
corrects a drawing and teaches; at the end, no request has left the machine.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pad_browser import RECORD_TEACHING
from playwright.sync_api import Browser, Page, expect

from benchmarks import static_site
from benchmarks.drivers.pages import CHROMIUM, ONE
from mlp.pad.styles import strokes
from mlp.pad.widget import PIXEL_RATIO
from mlp.training.examples import ExamplesFileError, load_examples

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT_MS = static_site.COLD_TIMEOUT_MS  # the first open boots Pyodide: half a minute, minutes under load


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    if os.environ.get("MLP_STATIC_SITE"):
        return Path(os.environ["MLP_STATIC_SITE"])
    return static_site.build(tmp_path_factory.mktemp("static") / "_site")


@pytest.fixture(scope="module")
def offline_browser() -> Iterator[Browser]:
    if CHROMIUM is None and not os.environ.get("CI"):
        pytest.skip("Chromium is not installed (apt-get install chromium); CI runs this test")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = static_site.launch_offline(playwright)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def served(site) -> Iterator[tuple[str, list[str]]]:
    with static_site.serve(site) as (url, paths):
        yield url, paths


@pytest.fixture(scope="module")
def visit(offline_browser, served) -> Iterator[tuple[Page, static_site.RequestLog]]:
    context, log = static_site.offline_context(offline_browser)
    page, _ = static_site.open_dashboard(context, served[0])
    yield page, log
    context.close()


def slashed_zero(rng: np.random.Generator) -> list:
    return [[(x / PIXEL_RATIO, y / PIXEL_RATIO) for x, y in s] for s in strokes("slashed_zero", rng)]


def test_the_front_door_under_a_sub_path_leads_to_a_drawable_pad(visit, served):
    page, _ = visit
    assert page.url == served[0] + static_site.DASHBOARD
    expect(page.locator(".dp-result")).to_contain_text("Draw a digit")


def test_a_digit_drawn_with_the_mouse_is_read(visit):
    page, _ = visit
    static_site.clear_and_draw(page, ONE)
    expect(page.locator(".dp-result .dp-digit")).to_have_text("1")
    assert re.search(r"1\s", page.locator(".dp-result").inner_text())


def test_correct_it_and_teach_it_inline_with_its_progress_shown(visit):
    page, _ = visit
    rng = np.random.default_rng(1)
    for count in range(1, 4):
        static_site.clear_and_draw(page, *slashed_zero(rng))
        page.get_by_role("button", name="0", exact=True).click()
        expect(page.locator(".dp-examples")).to_have_attribute("data-count", str(count))
    page.evaluate(RECORD_TEACHING)
    page.get_by_role("button", name="Teach").click()
    said = page.locator(".dp-said")
    expect(said).to_have_attribute("data-state", "taught", timeout=120_000)
    expect(said).to_contain_text("Taught on 3 examples in")
    expect(said.locator(".dp-change")).to_contain_text("0: ")  # what changed for the drawing on the pad
    seen = page.evaluate("window.__teaching")
    assert seen["states"][-2:] == ["teaching", "taught"], seen
    widths = [float(width.rstrip("%")) for width in seen["bars"]]
    assert len(widths) >= 2 and widths == sorted(widths) and widths[-1] > 0, seen  # the bar showed
    expect(page.locator(".dp-progress")).to_be_hidden()
    page.get_by_role("button", name="Forget").click()
    expect(said).to_contain_text("Forgotten")


def test_a_bad_examples_file_is_refused_with_the_servers_message(visit, tmp_path):
    page, _ = visit
    bad = tmp_path / "examples.npz"
    bad.write_bytes(b"GIF89a not an archive")
    with pytest.raises(ExamplesFileError) as refused:  # what the package says natively, as Voila shows it
        load_examples(bad.read_bytes(), name="examples.npz")
    with page.expect_file_chooser() as chooser:  # the upload widget's <input> is not in the page
        page.locator(".dp-load").click()
    chooser.value.set_files(str(bad))
    said = page.locator(".dp-said")
    expect(said).to_have_attribute("data-state", "error")
    expect(said).to_have_text(f"Cannot use examples.npz: {refused.value}.")


def test_nothing_left_the_machine(visit, served):
    page, log = visit
    page.wait_for_timeout(500)
    assert log.refused == [], "the page asked another host for something"
    assert len(log.local) > 50 and len(served[1]) > 50, "the page's files came from the local server"


def test_a_page_opened_as_a_file_says_how_to_serve_it(site, offline_browser):
    context = offline_browser.new_context()
    page = context.new_page()
    page.goto((site / "index.html").resolve().as_uri())
    expect(page.locator(".mlp-cannot-run")).to_contain_text("cannot be opened as a file")
    expect(page.locator(".mlp-cannot-run")).to_contain_text("python -m http.server")
    context.close()


def test_a_browser_without_webassembly_gets_a_sentence_not_a_blank_page(served, offline_browser):
    context, log = static_site.offline_context(offline_browser)
    context.add_init_script("delete window.WebAssembly;")
    page = context.new_page()
    page.goto(served[0] + static_site.DASHBOARD)
    expect(page.locator(".mlp-cannot-run")).to_contain_text("needs WebAssembly")
    context.close()
    assert log.refused == []
