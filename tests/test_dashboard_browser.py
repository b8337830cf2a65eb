"""The dashboard as a visitor gets it: Voila serves notebook 08, headless Chromium draws on it.

Skipped only on a machine without Chromium, and never in CI (where ``CI`` is
set): there, a missing browser is a failure, not a reason to skip.
"""

from __future__ import annotations

import io
import itertools
import os
import re
import shutil
import time
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image, ImageDraw

CHROMIUM = shutil.which("chromium")
if CHROMIUM is None and not os.environ.get("CI"):
    pytest.skip(
        "Chromium is not installed (apt-get install chromium); CI runs this test", allow_module_level=True
    )

from playwright.sync_api import Browser, Page, WebSocket, expect, sync_playwright  # noqa: E402

from mlp.bench.voila_server import CHROMIUM_FLAGS, PAINTED, VoilaServer  # noqa: E402

TIMEOUT_MS = 30_000  # a page starts a kernel and runs the notebook: a few seconds, more on a busy machine

# Strokes in CSS pixels on the 280 × 280 pad.
ONE = [(145, 50), (135, 235)]
ZERO = [(140 + 55 * np.sin(a), 140 - 85 * np.cos(a)) for a in np.linspace(0, 2 * np.pi, 25)]
FOUR = [[(100, 50), (80, 160), (200, 160)], [(170, 90), (165, 240)]]


@pytest.fixture(scope="module")
def server() -> Iterator[VoilaServer]:
    with VoilaServer() as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM, "the browser test must run in CI: install Chromium (apt-get install chromium)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def open_dashboard(browser: Browser, server: VoilaServer, kernel_ids: list[str] | None = None) -> Page:
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    if kernel_ids is not None:
        page.on(
            "websocket", lambda ws: kernel_ids.extend(re.findall(r"/api/kernels/([\w-]+)/channels", ws.url))
        )
    page.goto(server.page_url)
    expect(page.locator("canvas.dp-canvas")).to_be_visible(timeout=TIMEOUT_MS)
    # Polled on a timer: animation frames, the default, pause in background tabs.
    page.wait_for_function(PAINTED, timeout=TIMEOUT_MS, polling=100)
    return page


@pytest.fixture(scope="module")
def page(browser: Browser, server: VoilaServer) -> Iterator[Page]:
    page = open_dashboard(browser, server)
    yield page
    page.close()


@pytest.fixture
def dashboard(page: Page) -> Page:
    """The shared page, cleared: every test starts from an empty pad."""
    page.get_by_role("button", name="Clear").click()
    expect(page.locator(".dp-result")).to_have_attribute("data-state", "empty")
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


def expect_digit(page: Page, digit: str, strokes: int) -> None:
    result = page.locator(".dp-result")
    expect(result).to_have_attribute("data-strokes", str(strokes))
    expect(result.locator(".dp-digit")).to_have_text(digit)
    expect(result).to_have_attribute("data-state", "sure")


def canvas_pixel(page: Page, x: float, y: float) -> list[int]:
    """The RGBA of the canvas at CSS position (x, y): what the browser actually painted."""
    return page.evaluate(
        "([x, y]) => { const c = document.querySelector('canvas.dp-canvas');"
        " const k = c.width / c.getBoundingClientRect().width;"
        " return Array.from(c.getContext('2d').getImageData(x * k, y * k, 1, 1).data); }",
        [x, y],
    )


def test_page_shows_a_painted_pad_and_a_prompt_without_sources(dashboard):
    assert canvas_pixel(dashboard, 10, 10) == [0, 0, 0, 255], "black, painted when the page connected"
    expect(dashboard.locator(".dp-caption")).to_contain_text("Draw a digit")
    expect(dashboard.locator(".dp-row")).to_have_count(10)
    expect(dashboard.locator("img.dp-preview")).to_be_visible()
    content = dashboard.content()
    assert "import DigitPad" not in content and "NBVAL_IGNORE_OUTPUT" not in content, "sources are hidden"
    assert "Traceback" not in content


def test_drawing_a_one_then_a_zero(dashboard):
    draw(dashboard, ONE)
    expect_digit(dashboard, "1", strokes=1)
    assert canvas_pixel(dashboard, 140, 140)[:3] == [255, 255, 255], "the stroke is on the canvas"
    dashboard.get_by_role("button", name="Clear").click()
    draw(dashboard, ZERO)
    expect_digit(dashboard, "0", strokes=1)
    expect(dashboard.locator(".dp-row.dp-top")).to_have_attribute("data-digit", "0")


def test_answer_appears_while_drawing_before_release(dashboard):
    box = dashboard.locator("canvas.dp-canvas").bounding_box()
    dashboard.mouse.move(box["x"] + 145, box["y"] + 50)
    dashboard.mouse.down()
    dashboard.mouse.move(box["x"] + 135, box["y"] + 235, steps=10)
    result = dashboard.locator(".dp-result")
    expect(result).to_have_attribute("data-strokes", "0")  # the stroke is not finished...
    expect(result).not_to_have_attribute("data-state", "empty")  # ...and it is read already
    dashboard.mouse.up()
    expect_digit(dashboard, "1", strokes=1)


def test_touch_draws_like_a_mouse(dashboard):
    cdp = dashboard.context.new_cdp_session(dashboard)
    cdp.send("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5})
    box = dashboard.locator("canvas.dp-canvas").bounding_box()
    for i in range(11):
        kind = "touchStart" if i == 0 else "touchMove"
        point = {"x": box["x"] + 145 - i, "y": box["y"] + 50 + 18 * i}
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [point]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    expect_digit(dashboard, "1", strokes=1)
    cdp.send("Emulation.setTouchEmulationEnabled", {"enabled": False})
    cdp.detach()


def test_releasing_outside_the_canvas_ends_the_stroke(dashboard):
    box = dashboard.locator("canvas.dp-canvas").bounding_box()
    dashboard.mouse.move(box["x"] + 145, box["y"] + 50)
    dashboard.mouse.down()
    dashboard.mouse.move(box["x"] + 140, box["y"] + 330, steps=10)  # 50 px below the pad
    dashboard.mouse.up()
    expect_digit(dashboard, "1", strokes=1)
    dashboard.mouse.move(box["x"] + 60, box["y"] + 140, steps=5)  # back over the pad, no button pressed
    draw(dashboard, [(200, 200), (201, 201)])  # a dot, so that we know the moves above were handled
    expect(dashboard.locator(".dp-result")).to_have_attribute("data-strokes", "2")
    assert canvas_pixel(dashboard, 60, 140) == [0, 0, 0, 255], "moving without a button draws nothing"


def test_undo_then_clear(dashboard):
    draw(dashboard, *FOUR)
    expect_digit(dashboard, "4", strokes=2)
    dashboard.get_by_role("button", name="Undo").click()
    expect(dashboard.locator(".dp-result")).to_have_attribute("data-strokes", "1")
    dashboard.get_by_role("button", name="Clear").click()
    expect(dashboard.locator(".dp-result")).to_have_attribute("data-state", "empty")
    assert canvas_pixel(dashboard, 85, 160) == [0, 0, 0, 255], "the canvas is black again"


def test_upload_an_image_then_a_file_that_is_not_one(dashboard):
    image = Image.new("L", (300, 220), 255)
    ImageDraw.Draw(image).line([(90, 40), (210, 40), (130, 190)], fill=20, width=16)
    png = io.BytesIO()
    image.save(png, format="PNG")
    uploads = [
        {"name": "seven.png", "mimeType": "image/png", "buffer": png.getvalue()},
        {"name": "notes.png", "mimeType": "image/png", "buffer": b"not an image at all"},
    ]
    # FileUpload's <input type=file> is not in the page, so we answer the file chooser it opens.
    with dashboard.expect_file_chooser() as chooser:
        dashboard.locator(".dp-upload").click()
    chooser.value.set_files(uploads[0])
    expect_digit(dashboard, "7", strokes=0)
    with dashboard.expect_file_chooser() as chooser:
        dashboard.locator(".dp-upload").click()
    chooser.value.set_files(uploads[1])
    error = dashboard.locator(".dp-error")
    expect(error).to_contain_text("Cannot use notes.png")
    expect(error).to_have_css("color", "rgb(198, 40, 40)")
    expect_digit(dashboard, "7", strokes=0)  # the upload before is still shown
    draw(dashboard, ONE)  # and the pad still works
    expect_digit(dashboard, "1", strokes=1)


def test_a_file_too_large_for_the_pad_gets_a_message_and_the_pad_still_works(dashboard, tmp_path):
    # 15 MB: past Tornado's default 10 MiB websocket message limit, which closed the page's
    # connection to its kernel without a word before voila.json raised it.
    rng = np.random.default_rng(0)
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + rng.bytes(15_000_000))
    expect(dashboard.locator(".dp-hint")).to_have_text("PNG or JPEG, up to 5 MB")
    reconnections: list[str] = []

    def on_websocket(websocket: WebSocket) -> None:  # a closed kernel connection is reopened at once
        reconnections.append(websocket.url)

    dashboard.on("websocket", on_websocket)
    try:
        with dashboard.expect_file_chooser() as chooser:
            dashboard.locator(".dp-upload").click()
        chooser.value.set_files(photo)
        error = dashboard.locator(".dp-error")
        expect(error).to_contain_text("photo.png is 15.0 MB; images up to 5 MB please.")
        expect(error).to_have_css("color", "rgb(198, 40, 40)")
        draw(dashboard, ONE)  # and the pad still works
        expect_digit(dashboard, "1", strokes=1)
        expect(error).to_have_count(0)  # drawing clears the message
    finally:
        dashboard.remove_listener("websocket", on_websocket)
    assert not reconnections, "the upload went through the page's connection to its kernel, not over it"


def test_closing_a_page_releases_its_kernel(browser, server):
    kernel_ids: list[str] = []
    page = open_dashboard(browser, server, kernel_ids)
    assert kernel_ids and server.kernel_running(kernel_ids[0])
    page.goto("about:blank")  # navigating away: the page's "beforeunload" asks Voila to shut its kernel down
    page.close()
    deadline = time.monotonic() + 15
    while server.kernel_running(kernel_ids[0]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not server.kernel_running(kernel_ids[0]), "Voila shuts a kernel down when its page goes away"
