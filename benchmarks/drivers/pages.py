"""Driving the dashboard in headless Chromium, for the browser tests and the benchmarks.

Open a page and wait until its pad is drawable, draw strokes with the mouse,
record which kernel a page got (its id is in the URL of the page's websocket),
and leave a page the way a visitor closes a tab (the page's unload handlers run).
"""

from __future__ import annotations

import itertools
import re
import shutil
from typing import TYPE_CHECKING

import numpy as np

from benchmarks.drivers.voila_server import CHROMIUM_FLAGS, DashboardServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

CHROMIUM = shutil.which("chromium")
TIMEOUT_MS = 120_000  # a page starts a kernel and runs the notebook: seconds, a minute under load
KERNEL_CHANNELS = re.compile(r"/api/kernels/([\w-]+)/channels")
# A "1" in CSS pixels on the 280 × 280 pad: what the tests and benchmarks draw.
ONE = [(145, 50), (140, 110), (137, 170), (135, 235)]
# PAINTED, stamping window.__paintedAt when it first holds, on the page's clock (0 at navigation).
PAINTED_AT = """() => {
    const canvas = document.querySelector("canvas.dp-canvas");
    const painted = canvas !== null && canvas.getContext("2d").getImageData(4, 4, 1, 1).data[3] === 255;
    if (painted && window.__paintedAt === undefined) window.__paintedAt = performance.now();
    return painted;
}"""
# Stamps the moment the mouse is released (capture phase: before the canvas hears of it) and the
# moment the answer for the finished stroke enters the page (the screen shows it at the next frame,
# within 17 ms): window.__latencies, in milliseconds, one per stroke drawn after a Clear.
LATENCY_PROBE = """() => {
    window.__up = null;
    window.__latencies = [];
    document.addEventListener("mouseup", () => { window.__up = performance.now(); }, true);
    new MutationObserver(() => {
        const result = document.querySelector(".dp-result");
        if (window.__up !== null && result && result.dataset.strokes === "1") {
            window.__latencies.push(performance.now() - window.__up);
            window.__up = null;
        }
    }).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
}"""


def launch(playwright: Playwright) -> Browser:
    """Debian's Chromium, headless (``playwright install`` cannot download browsers here)."""
    if CHROMIUM is None:
        raise RuntimeError("Chromium is not installed (apt-get install chromium)")
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)


def record_kernels(page: Page, kernel_ids: list[str]) -> None:
    """Append to ``kernel_ids`` the kernel of every websocket ``page`` opens."""
    page.on("websocket", lambda ws: kernel_ids.extend(KERNEL_CHANNELS.findall(ws.url)))


def wait_drawable(page: Page, timeout_ms: float = TIMEOUT_MS, polling: float | str = 100) -> float:
    """Wait until the pad is painted (its kernel is connected); return when, in ms after navigation.

    Polled every 100 ms by default, as animation frames (``polling="raf"``, exact to a frame) do not
    run in background tabs.
    """
    page.wait_for_function(PAINTED_AT, timeout=timeout_ms, polling=polling)
    return page.evaluate("window.__paintedAt")


def open_dashboard(
    browser: Browser,
    server: DashboardServer,
    kernel_ids: list[str] | None = None,
    *,
    wait: bool = True,
    viewport: tuple[int, int] = (1100, 900),
) -> Page:
    """A new page on the dashboard, drawable unless ``wait=False``; its kernel joins ``kernel_ids``."""
    page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
    if kernel_ids is not None:
        record_kernels(page, kernel_ids)
    page.goto(server.page_url, wait_until="commit", timeout=TIMEOUT_MS)
    if wait:
        wait_drawable(page)
    return page


def draw(page: Page, *strokes: list[tuple[float, float]]) -> None:
    """Drag the mouse through each stroke's points; long segments get intermediate moves, as a hand makes."""
    box = page.locator("canvas.dp-canvas").bounding_box()
    for stroke in strokes:
        page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
        page.mouse.down()
        for (x0, y0), (x, y) in itertools.pairwise(stroke):
            page.mouse.move(box["x"] + x, box["y"] + y, steps=max(1, round(np.hypot(x - x0, y - y0) / 20)))
        page.mouse.up()


def leave(page: Page) -> None:
    """Close the tab as a visitor does: the page's unload handlers run (and shut its kernel down)."""
    page.close(run_before_unload=True)
