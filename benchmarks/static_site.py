"""The static dashboard in a real browser, offline: ``python -m benchmarks static-site``.

Builds the site (``site/build.py``) unless ``--site`` names a built one,
serves it on 127.0.0.1 under a sub-path (as GitHub Pages serves a project,
at ``/<repository>/``), and drives it in headless Chromium with every request
to another host refused (and a proxy that leads nowhere, so that even a
request Playwright does not see cannot leave). It prints:

* **open → drawable**, cold: a new browser context (empty cache, no service
  worker), from navigation to the pad painted: Pyodide boots, the kernel
  starts, the page installs ``mlp`` and runs the notebook;
* **pointer-up → answer**: from the mouse released to the answer for that
  stroke in the page, over several strokes;
* **Teach on 5 examples**: from the click on Teach to "Taught on 5 examples".
  Pyodide has no threads, so teaching runs inline (``mlp.runtime``).

The test ``tests/test_static_site_browser.py`` drives the same page with the
same functions. Timings depend on the machine and its load: they come from
here, never from a test.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import urlparse

import numpy as np

from benchmarks.drivers.pages import CHROMIUM, LATENCY_PROBE, ONE, draw
from benchmarks.drivers.voila_server import CHROMIUM_FLAGS, PAINTED

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright

ROOT = Path(__file__).resolve().parents[1]
SUB_PATH = "/mlp-from-scratch/"  # as GitHub Pages serves the repository's site
DASHBOARD = "voici/render/dashboard.html"
LOCAL_HOSTS = ("127.0.0.1", "localhost")
# A proxy on a port nobody listens to: whatever the page or its workers ask of another host fails in
# Chromium itself (loopback addresses bypass proxies), even a request that Playwright's routing misses.
OFFLINE_FLAGS = ["--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=127.0.0.1;localhost"]
COLD_TIMEOUT_MS = 240_000  # Pyodide and the kernel boot in the page: 20-30 s here, minutes under load
# The moment the Teach button is clicked and the moment the panel says it has taught: window.__teach.
TEACH_PROBE = """() => {
    window.__teach = {clicked: null, taught: null};
    const button = [...document.querySelectorAll('button')].find(b => b.textContent.trim() === 'Teach');
    button.addEventListener('click', () => { window.__teach.clicked = performance.now(); }, true);
    new MutationObserver(() => {
        const said = document.querySelector('.dp-said');
        if (window.__teach.clicked !== null && window.__teach.taught === null && said
            && said.dataset.state === 'taught') window.__teach.taught = performance.now();
    }).observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true});
}"""


# --- serving the built folder -----------------------------------------------------------------------


class _SubPathHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the site only under ``SUB_PATH``; anything else is a 404, as on GitHub Pages."""

    extensions_map: ClassVar[dict[str, str]] = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".wasm": "application/wasm",
    }

    def translate_path(self, path: str) -> str:
        if not path.startswith(SUB_PATH):
            return str(Path(self.directory) / "__outside_the_sub_path__")
        return super().translate_path("/" + path[len(SUB_PATH) :])

    def log_message(self, format: str, *args: object) -> None:
        self.server.served.append(self.path)  # type: ignore[attr-defined]


@contextlib.contextmanager
def serve(site: Path) -> Iterator[tuple[str, list[str]]]:
    """Serve ``site`` on 127.0.0.1 (a free port) under ``SUB_PATH``: (the site's URL, paths served)."""
    handler = functools.partial(_SubPathHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.served = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, name="static-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}{SUB_PATH}", server.served  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


def build(out: Path) -> Path:
    """``site/build.py --out out`` with this Python; its output goes to the terminal."""
    subprocess.run([sys.executable, str(ROOT / "site" / "build.py"), "--out", str(out)], check=True)
    return out


# --- a browser that cannot reach anything but this machine ------------------------------------------


def launch_offline(playwright: Playwright) -> Browser:
    if CHROMIUM is None:
        raise RuntimeError("Chromium is not installed (apt-get install chromium)")
    return playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_FLAGS, *OFFLINE_FLAGS]
    )


@dataclass
class RequestLog:
    """Every request the context made: to this machine, and refused (to anywhere else)."""

    local: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def offline_context(browser: Browser) -> tuple[BrowserContext, RequestLog]:
    """A fresh context (cold cache, no service worker yet) in which every non-local request is refused."""
    log = RequestLog()
    context = browser.new_context(viewport={"width": 1100, "height": 900}, service_workers="allow")

    def route(route) -> None:
        url = route.request.url
        if url.startswith(("data:", "blob:")) or urlparse(url).hostname in LOCAL_HOSTS:
            log.local.append(url)
            route.continue_()
        else:
            log.refused.append(url)
            route.abort()

    context.route("**/*", route)
    return context, log


def open_dashboard(context: BrowserContext, site_url: str, timeout_ms: float = COLD_TIMEOUT_MS) -> tuple:
    """(page, ms from navigation to the pad painted) for the site's front door, which leads to the pad."""
    page = context.new_page()
    page.goto(site_url, wait_until="commit", timeout=timeout_ms)
    page.wait_for_function(PAINTED, timeout=timeout_ms, polling=100)
    return page, page.evaluate("performance.now()")


def clear_and_draw(page: Page, *strokes: list[tuple[float, float]]) -> None:
    """Clear the pad, draw, and wait until the answer for the last stroke is in the page."""
    page.get_by_role("button", name="Clear").click()
    page.wait_for_function("() => document.querySelector('.dp-result').dataset.strokes === '0'")
    draw(page, *strokes)
    page.wait_for_function(
        "n => document.querySelector('.dp-result').dataset.strokes === String(n)", arg=len(strokes)
    )


# --- the benchmark ----------------------------------------------------------------------------------


def measure(site: Path, opens: int, strokes: int) -> dict:
    from playwright.sync_api import sync_playwright

    from mlp.pad.styles import strokes as style_strokes
    from mlp.pad.widget import PIXEL_RATIO

    results: dict = {"drawable_s": [], "answer_ms": [], "teach_s": [], "refused": [], "local_requests": []}
    with serve(site) as (url, served), sync_playwright() as playwright:
        browser = launch_offline(playwright)
        for attempt in range(opens):
            context, log = offline_context(browser)
            page, drawable_ms = open_dashboard(context, url)
            results["drawable_s"].append(drawable_ms / 1000)
            print(f"  open {attempt + 1}: drawable after {drawable_ms / 1000:.1f} s", flush=True)
            if attempt == 0:
                page.evaluate(LATENCY_PROBE)
                for _ in range(strokes):
                    clear_and_draw(page, ONE)
                    page.wait_for_function("n => window.__latencies.length >= n", arg=1, timeout=30_000)
                    results["answer_ms"].extend(page.evaluate("window.__latencies.splice(0)"))
                rng = np.random.default_rng(1)
                for _ in range(5):
                    drawing = [[(x / PIXEL_RATIO, y / PIXEL_RATIO) for x, y in s] for s in style_strokes(
                        "slashed_zero", rng)]  # fmt: skip
                    clear_and_draw(page, *drawing)
                    page.get_by_role("button", name="0", exact=True).click()
                    page.wait_for_function("() => document.querySelector('.dp-examples') !== null")
                page.wait_for_function(
                    "() => document.querySelector('.dp-examples').dataset.count === '5'", timeout=30_000
                )
                page.evaluate(TEACH_PROBE)
                page.get_by_role("button", name="Teach").click()
                page.wait_for_function("() => window.__teach.taught !== null", timeout=120_000)
                teach = page.evaluate("window.__teach")
                results["teach_s"].append((teach["taught"] - teach["clicked"]) / 1000)
                results["teach_said"] = page.locator(".dp-said").inner_text()
            results["refused"].extend(log.refused)
            results["local_requests"].append(len(log.local))
            paths = {path.split("?")[0][len(SUB_PATH) :] for path in served}
            results.setdefault("served_mb", round(sum(
                (site / p).stat().st_size for p in paths if (site / p).is_file()) / 1e6, 1))  # fmt: skip
            context.close()
        browser.close()
    return results


def compare_recipes(recipes: list[tuple[int, int]]) -> list[str]:
    """What a cheaper Teach costs, natively (the same numpy maths as in the browser, run faster).

    For each (steps, batch size): five drawings of each unusual style taught (for slashed zeros, six
    sets of five), 100 other drawings of the style read after teaching, and MNIST's test accuracy.
    """
    from benchmarks.teach import TEACH_SEED, TEST_SEED
    from mlp.pad.styles import UNUSUAL, draw_many
    from mlp.training.data import load_mnist
    from mlp.training.fine_tune import fine_tune
    from mlp.training.model_io import load_model
    from mlp.training.replay import mnist_replay

    model, replay = load_model(), mnist_replay()
    _, (x_test, y_test) = load_mnist()
    sets = [("slashed_zero", TEACH_SEED + 100 * k) for k in range(6)]
    sets += [(name, TEACH_SEED) for name in UNUSUAL if name != "slashed_zero"]
    lines = [f"shipped model: MNIST test {model.accuracy(x_test, y_test):.2%}"]
    for steps, batch in recipes:
        style, mnist = [], []
        for name, seed in sets:
            x_read, y_read = draw_many(name, 100, seed=TEST_SEED)
            taught = fine_tune(
                model, *draw_many(name, 5, seed=seed), replay=replay, steps=steps, batch_size=batch
            )
            style.append(taught.accuracy(x_read, y_read))
            mnist.append(taught.accuracy(x_test, y_test))
        lines.append(
            f"{steps:3d} steps of {batch:3d}: new style read {np.mean(style):.0%} (min {min(style):.0%}), "
            f"MNIST test {np.mean(mnist):.2%} (min {min(mnist):.2%}) over {len(sets)} sets of 5"
        )
    return lines


def main(argv: list[str]) -> int:
    summary = __doc__.split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m benchmarks static-site", description=summary)
    parser.add_argument("--site", type=Path, help="a site built before (default: build one into _site)")
    parser.add_argument("--opens", type=int, default=2, help="cold opens, each in a new browser context")
    parser.add_argument("--strokes", type=int, default=10, help="strokes timed from pointer-up to answer")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--recipes", action="store_true", help="only compare Teach recipes natively (cheaper for the browser)"
    )
    args = parser.parse_args(argv)
    if args.recipes:
        print("\n".join(compare_recipes([(40, 128), (30, 128), (40, 96), (20, 128), (20, 64), (12, 128)])))
        return 0
    site = args.site or build(ROOT / "_site")
    files = [p for p in site.rglob("*") if p.is_file()]
    load = os.getloadavg()
    print(f"site {site}: {sum(p.stat().st_size for p in files) / 1e6:.1f} MB in {len(files)} files")
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    started = time.perf_counter()
    r = measure(site, args.opens, args.strokes)
    print(f"open → drawable (cold): {', '.join(f'{s:.1f}' for s in r['drawable_s'])} s   (target ≤ 30 s)")
    answer = r["answer_ms"]
    print(
        f"pointer-up → answer: median {statistics.median(answer):.0f} ms, max {max(answer):.0f} ms "
        f"over {len(answer)} strokes   (target ≤ 150 ms)"
    )
    print(f"Teach on 5 examples: {r['teach_s'][0]:.1f} s   (target ≤ 5 s): {r['teach_said']!r}")
    print(f"requests: {r['local_requests']} to 127.0.0.1 per open; refused (to other hosts): {r['refused']}")
    print(f"a cold visit downloads {r['served_mb']} MB of the site's files")
    load = os.getloadavg()
    took = time.perf_counter() - started
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; the benchmark took {took:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(r, indent=1))
    return 0
