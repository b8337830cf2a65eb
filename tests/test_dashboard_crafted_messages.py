"""Messages no browser sends, sent to a visitor's kernel: the page keeps working and no traceback comes back.

A second client joins a page's kernel (``KernelSocket``, the v1 protocol) and
sends the pad's widgets what the robustness review found: a mouse event
without ``x``, ``touches`` that is not a list, NaN coordinates (the kernel's
JSON parser accepts NaN), an upload whose value is not a file. Everything the
kernel publishes in return reaches every client of that kernel, the visitor's
page included: none of it may carry a Python traceback or a path on the
server. Then the visitor's page must still draw, answer, undo and clear.

The pad's side of this is the "pad" engineer's (``mlp.pad.canvas``,
``mlp.pad.frontend``); this test checks it end to end, through the real server.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import math
import os
import sys
from collections.abc import Iterator

import pytest

from benchmarks.drivers.kernel_socket import KernelSocket
from benchmarks.drivers.pages import CHROMIUM, ONE, draw, launch, leave, open_dashboard
from benchmarks.drivers.voila_server import ROOT, VoilaServer

if CHROMIUM is None and not os.environ.get("CI"):
    pytest.skip(
        "Chromium is not installed (apt-get install chromium); CI runs this test", allow_module_level=True
    )

from playwright.sync_api import Page, expect, sync_playwright

pytestmark = pytest.mark.browser

NAN = math.nan
# (widget, message content) pairs: ipycanvas events arrive as "custom" messages, widget state as "update".
CRAFTED = [
    ("CanvasModel", {"method": "custom", "content": {"event": "mouse_down"}}),
    ("CanvasModel", {"method": "custom", "content": {"event": "mouse_move", "y": 10}}),
    ("CanvasModel", {"method": "custom", "content": {"event": "mouse_down", "x": NAN, "y": NAN}}),
    ("CanvasModel", {"method": "custom", "content": {"event": "mouse_move", "x": NAN, "y": 200}}),
    ("CanvasModel", {"method": "custom", "content": {"event": "mouse_up", "x": 300, "y": NAN}}),
    ("CanvasModel", {"method": "custom", "content": {"event": "touch_start", "touches": None}}),
    ("CanvasModel", {"method": "custom", "content": {"event": "touch_move", "touches": [{"x": "a"}]}}),
    ("CanvasModel", {"method": "custom", "content": {"event": "touch_end", "touches": 7}}),
    ("FileUploadModel", {"method": "update", "state": {"value": "not a list"}, "buffer_paths": []}),
    (
        "FileUploadModel",
        {"method": "update", "state": {"value": [{"name": 5, "content": "text"}]}, "buffer_paths": []},
    ),
]
# Where the server's files are: none of it may reach a visitor.
SERVER_PATHS = (str(ROOT), sys.prefix, "site-packages")


@pytest.fixture(scope="module")
def visited() -> Iterator[tuple[VoilaServer, Page, str]]:
    """A server as the README starts it, and a visitor's page on it."""
    with VoilaServer() as server, sync_playwright() as playwright:
        browser = launch(playwright)
        kernel_ids: list[str] = []
        page = open_dashboard(browser, server, kernel_ids)
        yield server, page, kernel_ids[0]
        leave(page)
        browser.close()


async def send_crafted(url: str) -> list:
    """Send CRAFTED to the page's widgets; return everything the kernel published meanwhile."""
    async with KernelSocket(url) as socket:
        await socket.send("shell", "comm_info_request", {"target_name": "jupyter.widget"})
        replies = await socket.read(5)
        comms = next(m["content"]["comms"] for m in replies if _type(m) == "comm_info_reply")
        for comm_id in comms:
            await socket.send("shell", "comm_msg", {"comm_id": comm_id, "data": {"method": "request_state"}})
        models = {}
        for message in await socket.read(5):
            if _type(message) == "comm_msg" and "state" in message["content"]["data"]:
                name = message["content"]["data"]["state"].get("_model_name")
                models.setdefault(name, message["content"]["comm_id"])
        assert {"CanvasModel", "FileUploadModel"} <= models.keys(), sorted(models)
        for model, data in CRAFTED:
            await socket.send("shell", "comm_msg", {"comm_id": models[model], "data": data})
        return [m for m in await socket.read(5) if isinstance(m, dict) and m["channel"] == "iopub"]


def _type(message) -> str | None:
    return message["header"]["msg_type"] if isinstance(message, dict) else None


def test_crafted_messages_send_back_no_traceback_and_the_page_keeps_working(visited):
    server, page, kernel_id = visited
    url = f"ws://127.0.0.1:{server.port}/api/kernels/{kernel_id}/channels?session_id=crafted"
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # asyncio beside Playwright's own loop
        published = pool.submit(asyncio.run, send_crafted(url)).result(timeout=120)

    errors = [f"{m['content']['ename']}: {m['content']['evalue']}" for m in published if _type(m) == "error"]
    assert not errors, f"the kernel published tracebacks for {errors}"
    text = json.dumps([m["content"] for m in published])
    assert "Traceback" not in text
    leaked = [path for path in SERVER_PATHS if path in text]
    assert not leaked, f"server paths went down the websocket: {leaked}"

    assert "Traceback" not in page.content()
    page.get_by_role("button", name="Clear").click()
    result = page.locator(".dp-result")
    expect(result).to_have_attribute("data-state", "empty")
    draw(page, ONE)
    expect(result).to_have_attribute("data-strokes", "1")
    expect(result.locator(".dp-digit")).to_have_text("1")
    draw(page, [(60, 60), (80, 80)])
    expect(result).to_have_attribute("data-strokes", "2")
    page.get_by_role("button", name="Undo").click()  # a NaN point once made every later Undo fail
    expect(result).to_have_attribute("data-strokes", "1")
    expect(page.locator(".dp-error")).to_have_count(0)
