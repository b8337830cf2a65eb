"""Shared by the pad's browser tests: open the dashboard, draw with a mouse or a finger, find the scroller.

Not a test module (no ``test_`` prefix): ``tests/test_pad_*_browser.py``
import it. The server is the one users run (``VoilaServer()``, the XSRF check
on); Chromium is Debian's, with ``CHROMIUM_FLAGS``.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
from collections.abc import Sequence

import numpy as np
import pytest

CHROMIUM = shutil.which("chromium")
if CHROMIUM is None and not os.environ.get("CI"):
    pytest.skip(
        "Chromium is not installed (apt-get install chromium); CI runs this test", allow_module_level=True
    )

from playwright.sync_api import BrowserContext, Page, expect  # noqa: E402

from benchmarks.drivers.voila_server import PAINTED  # noqa: E402

TIMEOUT_MS = 60_000  # a page starts a kernel and runs the notebook: seconds, more on a busy machine
Points = Sequence[tuple[float, float]]
# The element that scrolls the page: Voila scrolls a panel, not the document.
SCROLLER = """() => {
    for (let e = document.querySelector('canvas.dp-canvas'); e; e = e.parentElement) {
        const style = getComputedStyle(e);
        if (e.scrollHeight > e.clientHeight + 1 && /(auto|scroll)/.test(style.overflowY)) return e.id;
    }
    return null;
}"""


def open_pad(context: BrowserContext, url: str) -> Page:
    """A dashboard page with its pad painted, ready to draw."""
    page = context.new_page()
    page.goto(url)
    expect(page.locator("canvas.dp-canvas")).to_be_visible(timeout=TIMEOUT_MS)
    page.wait_for_function(PAINTED, timeout=TIMEOUT_MS, polling=100)  # a timer: rAF pauses in the background
    return page


def button(page: Page, label: str):
    """The button called exactly ``label``: its icon (a Font Awesome glyph, drawn as text) aside.

    Playwright matches names as substrings by default ("Forget" would also find "Undo forget").
    """
    return page.get_by_role("button", name=re.compile(rf"^\W*{re.escape(label)}$"))


def scroll_top(page: Page) -> float:
    """How far the page is scrolled, in CSS pixels."""
    scroller = page.evaluate(SCROLLER)
    assert scroller, "no scrolling element above the pad"
    return page.evaluate("id => document.getElementById(id).scrollTop", scroller)


def wait_scrolled_past(page: Page, top: float, timeout_ms: float = 5_000) -> None:
    """Wait until the page is scrolled further than ``top`` (scrolling is animated, or follows a gesture)."""
    page.wait_for_function(
        "([id, top]) => document.getElementById(id).scrollTop > top",
        arg=[page.evaluate(SCROLLER), top],
        timeout=timeout_ms,
        polling=50,
    )


def mouse_draw(page: Page, *strokes: Points, scale: float = 1.0) -> None:
    """Drag the mouse through each stroke's points (CSS pixels on the pad, times ``scale``)."""
    box = page.locator("canvas.dp-canvas").bounding_box()
    for stroke in strokes:
        page.mouse.move(box["x"] + stroke[0][0] * scale, box["y"] + stroke[0][1] * scale)
        page.mouse.down()
        for (x0, y0), (x, y) in itertools.pairwise(stroke):
            steps = max(1, round(np.hypot(x - x0, y - y0) * scale / 20))
            page.mouse.move(box["x"] + x * scale, box["y"] + y * scale, steps=steps)
        page.mouse.up()


def touch_drag(page: Page, points: Points) -> None:
    """One finger down at the first point (page CSS pixels), along the others, and up, as a phone sends it."""
    cdp = page.context.new_cdp_session(page)
    try:
        for i, (x, y) in enumerate(points):
            kind = "touchStart" if i == 0 else "touchMove"
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    finally:
        cdp.detach()


def canvas_pixel(page: Page, x: float, y: float) -> list[int]:
    """The RGBA the browser painted at CSS position (x, y) of the pad, whatever its CSS size."""
    return page.evaluate(
        "([x, y]) => { const c = document.querySelector('canvas.dp-canvas');"
        " const k = c.width / c.getBoundingClientRect().width;"
        " return Array.from(c.getContext('2d').getImageData(x * k, y * k, 1, 1).data); }",
        [x, y],
    )


# Records, in the page, every state of the teaching message and every width of the shown progress bar:
# the Voila page and the static site both show Teach's progress.
RECORD_TEACHING = """() => {
    window.__teaching = {states: [], bars: []};
    new MutationObserver(() => {
        const said = document.querySelector('.dp-said');
        const bar = document.querySelector('.dp-progress .progress-bar');
        const seen = window.__teaching;
        if (said && seen.states.at(-1) !== said.dataset.state) seen.states.push(said.dataset.state);
        const shown = bar && bar.closest('.dp-progress').offsetParent !== null;
        if (shown && seen.bars.at(-1) !== bar.style.width) seen.bars.push(bar.style.width);
    }).observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true});
}"""
