"""How fast the dashboard answers: ``python -m benchmarks dashboard [--json out.json]``.

Two measurements, printed as one table:

1. In Python, for one drawing on the 280-pixel pad: the cost of painting a
   stroke segment, of ``preprocess_digit``, of the network's forward pass,
   and of a whole widget update (those two plus the bars, label and preview).
2. In headless Chromium against the dashboard's server, started as the README
   starts it (``voila.json``): from opening the page to a drawable (painted)
   canvas, and from releasing the mouse to the new answer in the page. Both
   are timed inside the browser (``performance.now``), so Playwright's own
   overhead is not counted.

Many pages on one server (a class) are ``python -m benchmarks classroom``'s.
Figures come from this command, never from a timed test: timings depend on
the machine and its load, and a test must not fail because a laptop is busy.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.drivers.pages import (
    LATENCY_PROBE,
    ONE,
    TIMEOUT_MS,
    draw,
    launch,
    leave,
    open_dashboard,
    wait_drawable,
)
from benchmarks.drivers.voila_server import VoilaServer
from mlp.pad.preprocess import preprocess_digit
from mlp.pad.widget import PIXEL_RATIO, DigitPad
from mlp.training.model_io import load_model

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


def bench_browser(browser, strokes: int, loads: int) -> dict[str, Any]:
    from playwright.sync_api import expect

    results: dict[str, Any] = {}
    with VoilaServer() as server:
        # Page open -> drawable canvas, each load a fresh page with a fresh kernel.
        drawable = []
        for _ in range(loads):
            page = open_dashboard(browser, server, wait=False)
            drawable.append(wait_drawable(page, polling="raf"))  # exact to a frame: the page is in front
            leave(page)
        results["page open -> drawable canvas"] = summary(drawable)

        # Pointer-up -> answer shown, measured in the page.
        page = open_dashboard(browser, server)
        page.evaluate(LATENCY_PROBE)
        clear, result = page.get_by_role("button", name="Clear"), page.locator(".dp-result")
        for i in range(strokes):
            clear.click()
            expect(result).to_have_attribute("data-state", "empty")
            draw(page, ONE)
            page.wait_for_function(f"() => window.__latencies.length === {i + 1}", timeout=TIMEOUT_MS)
        expect(result.locator(".dp-digit")).to_have_text("1")
        results["pointer-up -> answer shown"] = summary(page.evaluate("window.__latencies"))
        leave(page)
    return results


def screenshot(browser, path: str) -> None:
    """The dashboard with a hand-drawn 3, at twice the CSS resolution, from the title to the widget's end."""
    from playwright.sync_api import expect

    with VoilaServer() as server:
        page = browser.new_page(viewport={"width": 1000, "height": 900}, device_scale_factor=2)
        page.goto(server.page_url, timeout=TIMEOUT_MS)
        wait_drawable(page)
        draw(page, THREE_CSS)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks dashboard",
        description="How fast the drawing dashboard answers, in Python and in a browser (Voila + Chromium).",
    )
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
        f"canvas {280 * PIXEL_RATIO} px shown at 280 px, chromium: {chromium or 'not found'}; "
        "the browser figures come from the server as the README starts it (voila.json)"
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
                browser = launch(playwright)
                try:
                    browser_results = bench_browser(browser, args.strokes, args.loads)
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
