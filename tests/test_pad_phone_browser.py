"""The dashboard on a phone (390 × 844, touch) and the wheel on a desktop, in headless Chromium.

A phone user must see the pad across the screen and the answer right below
it while a finger draws, and the page must not scroll under that finger; a
desktop user's mouse wheel over the pad must scroll the page as anywhere else.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pad_browser import canvas_pixel, open_pad, scroll_top, touch_drag, wait_scrolled_past
from playwright.sync_api import Browser, Page, expect

from benchmarks.drivers.voila_server import VoilaServer

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 390, 844
MARGIN = 24  # CSS pixels the page may keep on each side of the pad


@pytest.fixture(scope="module")
def phone(browser: Browser, server: VoilaServer) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": WIDTH, "height": HEIGHT}, has_touch=True, is_mobile=True, device_scale_factor=3
    )
    yield open_pad(context, server.url)
    context.close()


@pytest.fixture
def pad(phone: Page) -> Page:
    """The phone's page, cleared, with the pad scrolled to the top of the screen, as one draws."""
    phone.get_by_role("button", name="Clear").click()
    expect(phone.locator(".dp-result")).to_have_attribute("data-state", "empty")
    phone.locator("canvas.dp-canvas").evaluate("canvas => canvas.scrollIntoView({block: 'start'})")
    return phone


def test_pad_fills_the_width_and_the_answer_is_right_below_it(pad):
    canvas = pad.locator("canvas.dp-canvas").bounding_box()
    assert canvas["x"] >= 0 and canvas["x"] + canvas["width"] <= WIDTH
    assert canvas["width"] >= WIDTH - 2 * MARGIN, canvas
    assert abs(canvas["height"] - canvas["width"]) <= 1, "still square"
    assert pad.evaluate("document.documentElement.scrollWidth") <= WIDTH, "nothing is wider than the screen"
    result = pad.locator(".dp-result").bounding_box()
    last_bar = pad.locator(".dp-row").nth(9).bounding_box()
    bottom = canvas["y"] + canvas["height"]
    assert bottom <= result["y"] <= bottom + 100, "the answer comes right after the pad and its buttons"
    assert last_bar["y"] + last_bar["height"] <= HEIGHT, "pad, answer and all ten bars on one screen"


def test_on_a_fresh_page_the_answer_is_on_the_first_screen(browser, server):
    """Opened and not scrolled: the pad and the answer under it are both on the 844-pixel screen."""
    context = browser.new_context(
        viewport={"width": WIDTH, "height": HEIGHT}, has_touch=True, is_mobile=True, device_scale_factor=3
    )
    try:
        page = open_pad(context, server.url)
        assert scroll_top(page) == 0
        canvas = page.locator("canvas.dp-canvas").bounding_box()
        result = page.locator(".dp-result").bounding_box()
        assert canvas["y"] >= 0 and canvas["y"] + canvas["height"] <= result["y"], (canvas, result)
        assert result["y"] + result["height"] <= HEIGHT, (
            f"the answer ends at y = {result['y'] + result['height']}"
        )
        box = canvas  # draw a one: the answer appears where it was, still on screen
        touch_drag(
            page,
            [(box["x"] + box["width"] / 2, box["y"] + box["height"] * (0.15 + 0.07 * i)) for i in range(11)],
        )
        expect(page.locator(".dp-result")).to_have_attribute("data-strokes", "1")
        digit = page.locator(".dp-result .dp-digit").bounding_box()
        assert digit["y"] + digit["height"] <= HEIGHT and scroll_top(page) == 0
    finally:
        context.close()


TOUCH_TARGETS = ".dp-root .jupyter-button, .dp-root .widget-upload, .dp-root .dp-download"


def test_every_button_is_a_44_pixel_touch_target(pad):
    """WCAG 2.5.5 and Apple's guidelines: at least 44 × 44 CSS pixels for a finger."""
    sizes = pad.evaluate(
        """selector => Array.from(document.querySelectorAll(selector))
            .filter(e => e.offsetParent !== null)
            .map(e => { const b = e.getBoundingClientRect(), name = e.innerText.trim() || e.title;
                        return [name, Math.round(b.width), Math.round(b.height)]; })""",
        TOUCH_TARGETS,
    )
    names = {name for name, _, _ in sizes}
    assert {"Clear", "Undo", "Teach", "Forget", "Examples", "Model", "0", "9"} <= names, names
    small = [(name, w, h) for name, w, h in sizes if w < 44 or h < 44]
    assert small == [], small


def test_a_finger_draws_and_the_page_does_not_scroll(pad):
    before = scroll_top(pad)
    box = pad.locator("canvas.dp-canvas").bounding_box()
    x = box["x"] + box["width"] / 2
    # An upward swipe, the gesture that scrolls a page: on the pad it draws a "1".
    touch_drag(pad, [(x, box["y"] + box["height"] * (0.9 - 0.08 * i)) for i in range(11)])
    result = pad.locator(".dp-result")
    expect(result).to_have_attribute("data-strokes", "1")
    expect(result.locator(".dp-digit")).to_have_text("1")
    assert scroll_top(pad) == before, "the page stayed put under the finger"
    assert canvas_pixel(pad, box["width"] / 2, box["height"] / 2)[:3] == [255, 255, 255]


def test_the_same_swipe_beside_the_pad_scrolls_the_page(pad):
    """The control: the page does scroll under a finger, just not on the pad."""
    before = scroll_top(pad)
    box = pad.locator(".dp-row").nth(9).bounding_box()  # below the pad: the bars
    touch_drag(pad, [(box["x"] + 100, box["y"] - 40 * i) for i in range(8)])
    wait_scrolled_past(pad, before + 100)


def test_strokes_land_where_the_finger_is_at_any_css_size(pad):
    """Event coordinates come in canvas pixels (560), whatever the pad's CSS width (here about 360)."""
    box = pad.locator("canvas.dp-canvas").bounding_box()
    assert box["width"] != 280, "on a phone the pad is not its desktop size"
    spot = (0.25 * box["width"], 0.3 * box["height"])
    touch_drag(pad, [(box["x"] + spot[0], box["y"] + spot[1]), (box["x"] + spot[0], box["y"] + spot[1] + 30)])
    expect(pad.locator(".dp-result")).to_have_attribute("data-strokes", "1")
    assert canvas_pixel(pad, *spot)[:3] == [255, 255, 255], "painted under the finger"
    assert canvas_pixel(pad, box["width"] - spot[0], spot[1])[:3] == [0, 0, 0], "not mirrored or scaled"


def test_a_long_file_name_never_widens_the_page(pad):
    name = "my-very-" + "long" * 80 + "-digit.png"
    with pad.expect_file_chooser() as chooser:
        pad.locator(".dp-upload").click()
    chooser.value.set_files({"name": name, "mimeType": "image/png", "buffer": b"not an image"})
    error = pad.locator(".dp-error")
    expect(error).to_contain_text("Cannot use my-very-longlong")
    box = error.bounding_box()
    assert box["x"] + box["width"] <= WIDTH and len(error.inner_text()) < 200
    assert pad.evaluate("document.documentElement.scrollWidth") <= WIDTH


def test_upload_buttons_are_named_for_what_they_do(pad):
    expect(
        pad.get_by_role("button", name="Upload an image of a digit (PNG or JPEG, up to 5 MB)")
    ).to_be_visible()
    expect(pad.get_by_role("button", name="Load examples saved before (.npz)")).to_have_count(1)


def test_the_mouse_wheel_over_the_pad_scrolls_the_page_on_a_desktop(browser, server):
    # A window lower than the page, so that there is somewhere to scroll to.
    context = browser.new_context(viewport={"width": 1100, "height": 560})
    try:
        page = open_pad(context, server.url)
        box = page.locator("canvas.dp-canvas").bounding_box()
        before = scroll_top(page)
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.wheel(0, 300)
        wait_scrolled_past(
            page, before + 100
        )  # ipycanvas cancels the wheel; the pad's script lets it through
    finally:
        context.close()
