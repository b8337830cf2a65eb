"""How fast the dashboard answers: ``python -m mlp bench-dashboard [--pages 10] [--json out.json]``.

Three measurements, printed as one table:

1. In Python, for one drawing on the 280-pixel pad: the cost of painting a
   stroke segment, of ``preprocess_digit``, of the network's forward pass,
   and of a whole widget update (those two plus the bars, label and preview).
2. In headless Chromium against a local Voila server: from opening the page
   to a drawable (painted) canvas, and from releasing the mouse to the new
   answer in the page. Both are timed inside the browser (``performance.now``),
   so Playwright's own overhead is not counted.
3. ``--pages`` dashboards opened at once against one server: time until all
   are drawable, whether each one answers a drawing, the memory of the server
   and its kernels, and whether closing the pages releases every kernel.

Figures come from this command, never from a timed test: timings depend on
the machine and its load, and a test must not fail because a laptop is busy.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import re
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from mlp.bench.voila_server import CHROMIUM_FLAGS, PAINTED, VoilaServer
from mlp.pad.preprocess import preprocess_digit
from mlp.pad.widget import PIXEL_RATIO, DigitPad
from mlp.training.model_io import load_model

# PAINTED, stamping when it first holds on the page's clock, which starts at navigation.
PAINTED_AT = """() => {
    const canvas = document.querySelector("canvas.dp-canvas");
    const painted = canvas !== null && canvas.getContext("2d").getImageData(4, 4, 1, 1).data[3] === 255;
    if (painted && window.__paintedAt === undefined) window.__paintedAt = performance.now();
    return painted;
}"""
# Stamps the moment the mouse is released (capture phase: before the canvas hears of it)
# and the moment the answer for the finished stroke enters the page (the screen shows it
# at the next frame, within 17 ms).
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
TIMEOUT_MS = 120_000

# A "2" in canvas pixels: an arc, a diagonal, a base line (the pad is 560 canvas pixels wide).
_ARC = [(280 + 110 * np.cos(a), 190 + 100 * np.sin(a)) for a in np.linspace(-0.9 * np.pi, 0.25 * np.pi, 40)]
TWO = (
    _ARC
    + [
        (_ARC[-1][0] + (150 - _ARC[-1][0]) * s, _ARC[-1][1] + (440 - _ARC[-1][1]) * s)
        for s in np.linspace(0, 1, 30)[1:]
    ]
    + [(150 + 270 * s, 440) for s in np.linspace(0, 1, 25)[1:]]
)
ONE_CSS = [(145, 50), (140, 110), (137, 170), (135, 235)]  # a "1" in CSS pixels, for the browser
# A "3" in CSS pixels, drawn for the screenshot: two bumps.
THREE_CSS = [(125 + 81 * np.sin(a), 95 - 45 * np.cos(a)) for a in np.linspace(-1.2, 0.95 * np.pi, 18)] + [
    (130 + 95 * np.sin(a), 180 - 55 * np.cos(a)) for a in np.linspace(0.15, 1.2 * np.pi, 20)
]


TARGETS_MS = {"preprocess + predict": 1, "pointer-up -> answer shown": 100}


def repeat(fn: Callable[[], Any], n: int) -> list[float]:
    """``n`` timings of ``fn()`` in milliseconds, after a few untimed warm-up calls."""
    for _ in range(min(n, 20)):
        fn()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def summary(times: list[float]) -> dict[str, float]:
    return {"median_ms": statistics.median(times), "p90_ms": float(np.percentile(times, 90)), "n": len(times)}


def bench_python(n: int = 2000) -> dict[str, dict[str, float]]:
    pad = DigitPad(model=load_model())
    pad.draw([TWO])
    image = pad.raster.image
    x = preprocess_digit(image)
    segments = itertools.count()

    def paint_one_segment() -> None:  # a short move, as a pointer event brings
        i = next(segments) % (len(TWO) - 1)
        pad.raster._paint(TWO[i], TWO[i + 1])

    return {
        "paint one stroke segment": summary(repeat(paint_one_segment, n)),
        f"preprocess_digit ({image.shape[0]}x{image.shape[1]} drawing)": summary(
            repeat(lambda: preprocess_digit(image), n)
        ),
        "network forward (predict_proba)": summary(repeat(lambda: pad.model.predict_proba(x), n)),
        "preprocess + predict": summary(repeat(lambda: pad.model.predict_proba(preprocess_digit(image)), n)),
        "whole widget update (+ bars, label, preview PNG)": summary(repeat(pad._update, n // 4)),
    }


def draw_css(page, points: list[tuple[float, float]]) -> None:
    box = page.locator("canvas.dp-canvas").bounding_box()
    page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    page.mouse.down()
    for px, py in points[1:]:
        page.mouse.move(box["x"] + px, box["y"] + py, steps=3)
    page.mouse.up()


def open_page(browser, server: VoilaServer, kernel_ids: list[str], wait: bool = True):
    """A new page on the dashboard; its kernel's id joins ``kernel_ids`` (read from its websocket URL)."""
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.on("websocket", lambda ws: kernel_ids.extend(re.findall(r"/api/kernels/([\w-]+)/channels", ws.url)))
    page.goto(server.page_url, wait_until="commit", timeout=TIMEOUT_MS)
    if wait:
        page.wait_for_function(PAINTED_AT, timeout=TIMEOUT_MS)  # polled at every animation frame
    return page


def leave(page) -> None:
    """Navigate away, as a visitor closing the tab: Voila's beforeunload hook shuts the kernel down."""
    page.goto("about:blank")
    page.close()


def bench_browser(browser, pages: int, strokes: int, loads: int) -> dict[str, Any]:
    from playwright.sync_api import expect

    results: dict[str, Any] = {}
    with VoilaServer() as server:
        # Page open -> drawable canvas, each load a fresh page with a fresh kernel.
        drawable = []
        for _ in range(loads):
            page = open_page(browser, server, [])
            drawable.append(page.evaluate("window.__paintedAt"))
            leave(page)
        results["page open -> drawable canvas"] = summary(drawable)

        # Pointer-up -> answer shown, measured in the page.
        page = open_page(browser, server, [])
        page.evaluate(LATENCY_PROBE)
        clear, result = page.get_by_role("button", name="Clear"), page.locator(".dp-result")
        for i in range(strokes):
            clear.click()
            expect(result).to_have_attribute("data-state", "empty")
            draw_css(page, ONE_CSS)
            page.wait_for_function(f"() => window.__latencies.length === {i + 1}", timeout=TIMEOUT_MS)
        expect(result.locator(".dp-digit")).to_have_text("1")
        results["pointer-up -> answer shown"] = summary(page.evaluate("window.__latencies"))
        leave(page)

    with VoilaServer() as server:
        idle_rss, idle_processes = server.memory()
        kernel_ids: list[str] = []
        start = time.perf_counter()
        opened = [open_page(browser, server, kernel_ids, wait=False) for _ in range(pages)]
        for page in opened:
            # Polled on a timer: animation frames, the default, do not run in background tabs.
            page.wait_for_function(PAINTED, timeout=TIMEOUT_MS, polling=100)
        all_drawable = time.perf_counter() - start
        answered = 0
        for page in opened:
            draw_css(page, ONE_CSS)
            expect(page.locator(".dp-result")).to_have_attribute("data-strokes", "1", timeout=TIMEOUT_MS)
            answered += page.locator(".dp-digit").inner_text() == "1"
        busy_rss, busy_processes = server.memory()
        running = sum(server.kernel_running(k) for k in kernel_ids)
        start = time.perf_counter()
        for page in opened:
            leave(page)
        while time.perf_counter() - start < 60 and any(server.kernel_running(k) for k in kernel_ids):
            time.sleep(0.2)
        released = time.perf_counter() - start
        still_running = sum(server.kernel_running(k) for k in kernel_ids)
        time.sleep(1)  # let the kernel processes exit
        after_rss, after_processes = server.memory()
        results["concurrent pages"] = {
            "pages": pages,
            "all drawable s": all_drawable,
            "answered a drawing (read as 1)": answered,
            "kernels running while open": running,
            "server idle: RSS MB, processes": [idle_rss / 1e6, idle_processes],
            "all open: RSS MB, processes": [busy_rss / 1e6, busy_processes],
            "after closing: RSS MB, processes": [after_rss / 1e6, after_processes],
            "kernels still running after closing": still_running,
            "kernels released within s": released,
        }
    return results


def screenshot(browser, path: str) -> None:
    """The dashboard with a hand-drawn 3, at twice the CSS resolution, from the title to the widget's end."""
    from playwright.sync_api import expect

    with VoilaServer() as server:
        page = browser.new_page(viewport={"width": 1000, "height": 900}, device_scale_factor=2)
        page.goto(server.page_url, timeout=TIMEOUT_MS)
        page.wait_for_function(PAINTED, timeout=TIMEOUT_MS)
        draw_css(page, THREE_CSS)
        expect(page.locator(".dp-result")).to_have_attribute("data-strokes", "1")
        page.wait_for_timeout(300)  # let the browser paint the last update
        bottom = page.locator(".dp-root").bounding_box()
        page.screenshot(
            path=path, clip={"x": 0, "y": 0, "width": 1000, "height": bottom["y"] + bottom["height"] + 16}
        )
        leave(page)


def print_table(python: dict, browser: dict | None) -> None:
    print(f"{'measurement':<52} {'median':>10} {'p90':>10} {'n':>6}  target (median)")
    print("-" * 98)
    for name, s in {**python, **{k: v for k, v in (browser or {}).items() if "median_ms" in v}}.items():
        target = TARGETS_MS.get(name)
        verdict = (
            "" if target is None else f"<= {target:g} ms: {'met' if s['median_ms'] <= target else 'MISSED'}"
        )
        print(f"{name:<52} {s['median_ms']:>7.3f} ms {s['p90_ms']:>7.3f} ms {s['n']:>6}  {verdict}".rstrip())
    if browser:
        c = browser["concurrent pages"]
        print()
        print(f"{c['pages']} dashboards opened at once against one Voila server:")
        print(f"  all drawable after             {c['all drawable s']:.1f} s")
        print(f"  answered a drawing of a 1      {c['answered a drawing (read as 1)']} / {c['pages']}")
        print(f"  kernels running while open     {c['kernels running while open']}")
        for key in ("server idle", "all open", "after closing"):
            rss, processes = c[f"{key}: RSS MB, processes"]
            print(f"  {key + ':':<30} {rss:7.0f} MB RSS in {processes} processes (server + kernels)")
        released = c["kernels running while open"] - c["kernels still running after closing"]
        print(
            f"  kernels released after closing {released} / {c['kernels running while open']},"
            f" within {c['kernels released within s']:.1f} s"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mlp bench-dashboard",
        description="How fast the drawing dashboard answers, in Python and in a browser (Voila + Chromium).",
    )
    parser.add_argument("--pages", type=int, default=10, help="dashboards opened at once (default 10)")
    parser.add_argument("--strokes", type=int, default=20, help="strokes timed from pointer-up to answer")
    parser.add_argument("--loads", type=int, default=3, help="page loads timed to a drawable canvas")
    parser.add_argument("--json", metavar="PATH", help="also write the figures to this JSON file")
    parser.add_argument("--no-browser", action="store_true", help="only the in-Python measurements")
    parser.add_argument(
        "--screenshot", metavar="PNG", help="also save a screenshot of the dashboard with a digit"
    )
    args = parser.parse_args(argv)

    chromium = shutil.which("chromium")
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
        f"canvas {280 * PIXEL_RATIO} px shown at 280 px, chromium: {chromium or 'not found'}"
    )
    python = bench_python()
    browser_results = None
    if not args.no_browser:
        if chromium is None:
            print(
                "Chromium not found: skipping the browser measurements (apt-get install chromium)",
                file=sys.stderr,
            )
        else:
            from playwright.sync_api import sync_playwright

            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=chromium, headless=True, args=CHROMIUM_FLAGS
                )
                try:
                    browser_results = bench_browser(browser, args.pages, args.strokes, args.loads)
                    if args.screenshot:
                        screenshot(browser, args.screenshot)
                finally:
                    browser.close()
    print()
    print_table(python, browser_results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"python": python, "browser": browser_results}, f, indent=2)
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
