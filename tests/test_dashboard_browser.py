"""The dashboard as a visitor gets it: Voila serves notebook 10, headless Chromium draws on it.

The server runs as the README starts it (``voila.json``, every check on). Skipped
only on a machine without Chromium, and never in CI (where ``CI`` is set):
there, a missing browser is a failure, not a reason to skip.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image, ImageDraw

from benchmarks.drivers.pages import CHROMIUM, ONE, TIMEOUT_MS, draw, leave, open_dashboard, wait_drawable

if CHROMIUM is None and not os.environ.get("CI"):
    pytest.skip(
        "Chromium is not installed (apt-get install chromium); CI runs this test", allow_module_level=True
    )

from playwright.sync_api import Browser, Page, WebSocket, expect

from benchmarks.drivers.voila_server import DashboardServer, JupyterServer, VoilaServer

pytestmark = pytest.mark.browser

# Strokes in CSS pixels on the 280 × 280 pad.
ZERO = [(140 + 55 * np.sin(a), 140 - 85 * np.cos(a)) for a in np.linspace(0, 2 * np.pi, 25)]
FOUR = [[(100, 50), (80, 160), (200, 160)], [(170, 90), (165, 240)]]
RELEASED_WITHIN_S = 30  # the unload beacon frees a kernel in about a second; a busy machine is slower


@pytest.fixture(scope="module")
def lab_server() -> Iterator[JupyterServer]:
    """``jupyter lab``, serving the dashboard at /voila/render/… as "Render with Voilà" and Binder do."""
    with JupyterServer() as server:
        yield server


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
    # 7 MB: over the pad's 5 MB, under the server's 8 MiB message limit (voila.json), so it reaches
    # the kernel, which says why it refuses it (larger files the page refuses before sending them).
    rng = np.random.default_rng(0)
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + rng.bytes(7_000_000))
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
        expect(error).to_contain_text("photo.png is 7.0 MB; images up to 5 MB please.")
        expect(error).to_have_css("color", "rgb(198, 40, 40)")
        draw(dashboard, ONE)  # and the pad still works
        expect_digit(dashboard, "1", strokes=1)
        expect(error).to_have_count(0)  # drawing clears the message
    finally:
        dashboard.remove_listener("websocket", on_websocket)
    assert not reconnections, "the upload went through the page's connection to its kernel, not over it"


def wait_released(server: DashboardServer, kernel_id: str) -> bool:
    deadline = time.monotonic() + RELEASED_WITHIN_S
    while server.kernel_running(kernel_id) and time.monotonic() < deadline:
        time.sleep(0.2)
    return not server.kernel_running(kernel_id)


@pytest.mark.parametrize("kind", ["voila", "voila/render"])
def test_closing_or_reloading_a_page_releases_its_kernel(request, browser, kind):
    """The page's unload beacon passes the XSRF check (it did not: Voila issue #1458)."""
    server = request.getfixturevalue("server" if kind == "voila" else "lab_server")
    kernel_ids: list[str] = []
    page = open_dashboard(browser, server, kernel_ids)
    page.reload()  # a reload is a close and an open
    wait_drawable(page)
    first, second = kernel_ids
    assert wait_released(server, first), "the reloaded page's old kernel is shut down"
    assert server.kernel_running(second)
    leave(page)
    assert wait_released(server, second), "a closed page's kernel is shut down"


# JavaScript: what the page shows of its icons and formulas. The icons are Font Awesome glyphs drawn
# by a ::before; MathJax turns each formula into an <mjx-container>.
RENDERED = """async () => {
    await document.fonts.ready;
    const icon = document.querySelector(".jupyter-button i.fa");
    const glyph = icon === null ? null : getComputedStyle(icon, "::before");
    return {
        icon: glyph === null ? null : [glyph.content, glyph.fontFamily],
        iconFontLoaded: document.fonts.check('900 16px "Font Awesome 5 Free"'),
        formulas: document.querySelectorAll("mjx-container").length,
        text: document.body.innerText,
    };
}"""


@pytest.mark.parametrize("kind", ["voila", "voila/render"])
def test_the_page_asks_nothing_of_the_internet_and_renders_everything(request, browser, kind):
    """A workshop on weak wifi: every request goes to the local server; icons and formulas still render."""
    server = request.getfixturevalue("server" if kind == "voila" else "lab_server")
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(server.page_url)
    wait_drawable(page)
    expect(page.locator("mjx-container").first).to_be_attached(timeout=TIMEOUT_MS)
    shown = page.evaluate(RENDERED)
    leave(page)
    outside = [url for url in requests if not url.startswith((server.url, "blob:", "data:"))]
    assert not outside, f"the page asked outside the server for {outside}"
    assert len(requests) > 20, "every request was recorded, the server's own included"
    content, font = shown["icon"]
    assert content not in ("none", "normal", '""') and "Font Awesome" in font, shown["icon"]
    assert shown["iconFontLoaded"], "the icons' font came from the server"
    assert shown["formulas"] >= 1 and "p_0" not in shown["text"], "formulas are typeset, not raw LaTeX"


def test_visitors_see_what_is_meant_for_them(dashboard):
    text = dashboard.locator("body").inner_text()
    assert "Teach it your handwriting" in text
    for meant_for_notebook_users in ("For those running this notebook", "voila notebooks/", "is read as"):
        assert meant_for_notebook_users not in text
    assert "Traceback" not in dashboard.content()
