"""A new page always gets its pad, whatever the kept kernel waited; a page whose kernel is gone says so.

Voila keeps one kernel ready (``preheat_kernel``) and hands it to the next
page. It used to be handed out looking idle since its notebook ran: a cull
tick in the second before the page's websocket connected shut it down, and
the visitor got the page's text, no pad and no word. ``mlp.serve.kernels``
marks a kernel active when it is handed out.

Timers shortened to make the race show (culling after 20 s, ticks every 5 s;
everything else as ``voila.json`` ships it), and the page's scripts held back
longer than a tick, so that a tick always falls between the kernel being
handed out and the page connecting: before the fix, every such page lost its
kernel.
"""

from __future__ import annotations

import os
import re
import signal
import time
import urllib.request

import pytest

from benchmarks.drivers.pages import ONE, draw, leave, wait_drawable
from benchmarks.drivers.voila_server import VoilaServer

CULL_AFTER_S, TICK_S = 20, 5
FAST_CULLING = (
    f"--MappingKernelManager.cull_idle_timeout={CULL_AFTER_S}",
    f"--MappingKernelManager.cull_interval={TICK_S}",
)
SCRIPTS_LATE_S = TICK_S + 2  # the page connects only after at least one cull tick
STOPPED = "The program behind this page stopped"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server():
    with VoilaServer(extra_args=FAST_CULLING) as server:
        yield server


def wait_kept_kernel_stale(server: VoilaServer) -> None:
    """Until the kernel kept ready has been idle longer than the culling timeout (its notebook has run)."""
    deadline = time.monotonic() + 120
    while server.kernel_processes() < 1 and time.monotonic() < deadline:
        time.sleep(0.5)
    while "is filled with" not in server.log() and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(CULL_AFTER_S + TICK_S)


def page_kernel(server: VoilaServer) -> str:
    with urllib.request.urlopen(server.page_url, timeout=120) as response:
        return re.search(r'"kernelId": "([\w-]+)"', response.read().decode()).group(1)


def test_a_kept_kernel_handed_out_after_the_timeout_outlives_the_next_ticks(server):
    """No browser: the page's kernel (a plain GET) must still run two ticks later, then be culled."""
    wait_kept_kernel_stale(server)
    kernel_id = page_kernel(server)
    assert f"Using pre-heated kernel: {kernel_id}" in server.log()
    time.sleep(2 * TICK_S + 1)
    assert server.kernel_running(kernel_id), "culled before its page could connect"
    # Nobody connects: culling still frees it, a timeout after it was handed out.
    deadline = time.monotonic() + CULL_AFTER_S + 3 * TICK_S
    while server.kernel_running(kernel_id) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not server.kernel_running(kernel_id)


# --- in a browser ------------------------------------------------------------------------------------


def open_late(browser, server: VoilaServer, kernel_ids: list[str]):
    """A page whose scripts (Voila's, which connect to the kernel) arrive ``SCRIPTS_LATE_S`` late.

    The first script Voila's page asks for is held back; Playwright runs route handlers one at a
    time, so every request routed meanwhile waits too.
    """
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.on("websocket", lambda ws: kernel_ids.extend(re.findall(r"/api/kernels/([\w-]+)/channels", ws.url)))
    held: list[str] = []

    def late(route) -> None:
        if not held and "dashboard.js" not in route.request.url:
            held.append(route.request.url)
            time.sleep(SCRIPTS_LATE_S)
        route.continue_()

    page.route(re.compile(r"\.js(\?.*)?$"), late)
    page.goto(server.page_url, wait_until="commit", timeout=120_000)
    return page


@pytest.mark.browser
def test_fresh_pages_get_their_pad_after_the_kept_kernel_waited_past_the_timeout(server, browser):
    for _ in range(2):
        wait_kept_kernel_stale(server)
        kernel_ids: list[str] = []
        page = open_late(browser, server, kernel_ids)
        wait_drawable(page)
        draw(page, ONE)
        result = page.locator(".dp-result")
        result.wait_for()
        page.wait_for_function("() => document.querySelector('.dp-result').dataset.strokes === '1'")
        assert page.locator("#mlp-connection-banner").count() == 0
        assert kernel_ids and kernel_ids[0] not in "\n".join(
            line for line in server.log().splitlines() if "Culling" in line
        )
        leave(page)


def end_kernel(server: VoilaServer, kernel_id: str, how: str) -> None:
    """Shut ``kernel_id`` down as a closing page's beacon does, or kill its process (as a crash would)."""
    if how == "shut down":
        request = urllib.request.Request(  # the beacon's request, as dashboard.js sends it
            f"{server.url}voila/api/shutdown/{kernel_id}",
            data=b"_xsrf=t",
            headers={"Cookie": "_xsrf=t", "Content-Type": "application/x-www-form-urlencoded"},
        )
        urllib.request.urlopen(request, timeout=30).close()
        return
    (kernel,) = [p for p in server.processes()[1:] if any(kernel_id in part for part in p.cmdline())]
    os.kill(kernel.pid, signal.SIGKILL)


# How a page's kernel ends: shut down (a beacon, culling), or killed, which Jupyter would answer by
# restarting it under the same id without the notebook run in it (voila.json's restart_limit 0).
ENDINGS = ("shut down", "killed")


@pytest.mark.browser
@pytest.mark.parametrize("how", ENDINGS)
def test_a_page_whose_kernel_is_gone_before_it_connects_says_so(server, browser, how):
    from playwright.sync_api import expect

    page = open_late(browser, server, [])
    page.wait_for_function("() => document.getElementById('jupyter-config-data') !== null", timeout=120_000)
    kernel_id = re.search(r'"kernelId": "([\w-]+)"', page.content()).group(1)
    end_kernel(server, kernel_id, how)
    banner = page.locator("#mlp-connection-banner")
    expect(banner).to_be_visible(timeout=60_000)
    expect(banner).to_contain_text(STOPPED)
    assert not server.kernel_running(kernel_id)
    page.close()


@pytest.mark.browser
@pytest.mark.parametrize("how", ENDINGS)
def test_a_page_whose_kernel_ends_under_it_says_so(server, browser, how):
    from playwright.sync_api import expect

    from benchmarks.drivers.pages import open_dashboard

    kernel_ids: list[str] = []
    page = open_dashboard(browser, server, kernel_ids)
    end_kernel(server, kernel_ids[0], how)
    banner = page.locator("#mlp-connection-banner")
    expect(banner).to_be_visible(timeout=60_000)
    expect(banner).to_contain_text(STOPPED)
    assert not server.kernel_running(kernel_ids[0])
    page.close()
