"""A class on one server: ``python -m benchmarks classroom [--pages 15] [--json out.json]``.

Headless Chromium against the dashboard's server, started as the README starts
it (``voila.json``: XSRF check on, culling on). Four measurements, printed as
they are taken and summed up at the end against their goals:

1. **One after another**: ``--sequential`` pages (20), each opened, drawn on
   and closed before the next. After each: kernel processes (the one kept
   ready for the next visitor included, once a closed page's kernel has
   exited) and server memory. Goal: never more kernels than the open pages + the kept ones;
   back to the idle baseline.
2. **Reloads**: ``--reload-pages`` pages (5) open together, each reloaded
   ``--reloads`` times (5), as a class pressing F5. Same figures, same goal.
3. **All at once**: ``--pages`` pages (15) opened together. Time until all are
   drawable; each draws a 1 while all are open, timed in the page from pointer
   up to the answer (p50, p90); whether each read it as 1; memory per page.
4. **Preheated kernels**: page open → drawable for ``--loads`` pages one after
   another, a few seconds apart, on Voila as shipped (``voila.json`` keeps one
   kernel ready, the notebook already run in it) and without preheating.

"Back to the idle baseline" is the time from the last page's close until the
server has as many kernels as before any page (0; with preheating, the pool),
whether a page's unload beacon freed them or culling did. Figures depend on
the machine and on what else runs on it: the command prints them, no test
asserts them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from typing import Any

import numpy as np

from benchmarks.drivers.pages import (
    CHROMIUM,
    LATENCY_PROBE,
    ONE,
    draw,
    launch,
    leave,
    open_dashboard,
    wait_drawable,
)
from benchmarks.drivers.voila_server import VoilaServer, voila_config

NO_PREHEAT = ("--VoilaConfiguration.preheat_kernel=False",)
MB = 1e6


def settle(server: VoilaServer, open_pages: int, limit_s: float = 30) -> dict[str, float]:
    """Kernels (the kept ones included) and server memory, once no more than open pages + kept remain.

    A closed page's kernel takes a moment to exit: this waits up to ``limit_s`` for it, and says how long.
    """
    start = time.monotonic()
    while server.kernel_processes() > open_pages + pool_size() and time.monotonic() - start < limit_s:
        time.sleep(0.1)
    rss, _ = server.memory()
    return {"kernels": server.kernel_processes(), "after_s": time.monotonic() - start, "server_mb": rss / MB}


def back_to_baseline(server: VoilaServer, baseline: int, limit_s: float) -> float | None:
    """Seconds until the server runs ``baseline`` kernels again (None: not within ``limit_s``)."""
    start = time.monotonic()
    while time.monotonic() - start < limit_s:
        if server.kernel_processes() <= baseline:
            return time.monotonic() - start
        time.sleep(0.25)
    return None


def culling_limit_s() -> float:
    """How long culling may take to free a kernel nobody says goodbye for, with the shipped settings."""
    culling = voila_config()["MappingKernelManager"]
    return culling["cull_idle_timeout"] + 2 * culling["cull_interval"] + 30


def one_after_another(browser, server: VoilaServer, pages: int, baseline: int) -> dict[str, Any]:
    steps = []
    for i in range(pages):
        page = open_dashboard(browser, server)
        draw(page, ONE)
        opened = settle(server, 1)
        leave(page)
        closed = settle(server, 0)
        steps.append({"open": opened, "closed": closed})
        print(
            f"  page {i + 1:2}: {opened['kernels']} kernel(s) while open, {closed['kernels']} after closing"
            f" (settled in {closed['after_s']:.1f} s); server {opened['server_mb']:.0f} MB while open"
        )
    return {
        "steps": steps,
        "most_kernels_open": max(s["open"]["kernels"] for s in steps),
        "most_kernels_closed": max(s["closed"]["kernels"] for s in steps),
        "back_to_baseline_s": back_to_baseline(server, baseline, culling_limit_s()),
    }


def reloads(browser, server: VoilaServer, pages: int, times: int, baseline: int) -> dict[str, Any]:
    opened = [open_dashboard(browser, server) for _ in range(pages)]
    steps = []
    for round_ in range(times):
        for page in opened:
            page.reload(wait_until="commit")
            wait_drawable(page)
            steps.append(settle(server, pages))
        print(
            f"  round {round_ + 1}: {pages} pages reloaded; {steps[-1]['kernels']} kernels,"
            f" server {steps[-1]['server_mb']:.0f} MB"
        )
    for page in opened:
        leave(page)
    return {
        "steps": steps,
        "most_kernels_open": max(s["kernels"] for s in steps),
        "open_pages": pages,
        "back_to_baseline_s": back_to_baseline(server, baseline, culling_limit_s()),
    }


def all_at_once(browser, server: VoilaServer, pages: int, baseline: int) -> dict[str, Any]:
    """``pages`` pages opened together; a page not drawable within the pages' timeout counts as broken."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    idle_rss, _ = server.memory()
    start = time.monotonic()
    opened = [open_dashboard(browser, server, wait=False) for _ in range(pages)]
    drawable, drawable_after = [], []
    for page in opened:
        try:
            wait_drawable(page)
        except PlaywrightTimeout:
            continue  # a visitor who got a page without its pad
        drawable.append(page)
        drawable_after.append(time.monotonic() - start)
    broken = pages - len(drawable)
    print(
        f"  first drawable after {drawable_after[0]:.1f} s, {len(drawable)} of {pages} after"
        f" {drawable_after[-1]:.1f} s" + (f"; {broken} never drawable" if broken else "")
        if drawable
        else f"  none of the {pages} pages became drawable"
    )
    latencies, answered = [], 0
    for page in drawable:
        page.bring_to_front()
        page.evaluate(LATENCY_PROBE)
        draw(page, ONE)
        page.wait_for_function("() => window.__latencies.length === 1", timeout=120_000, polling=50)
        latencies.append(page.evaluate("window.__latencies[0]"))
        answered += page.locator(".dp-digit").inner_text() == "1"
    busy_rss, _ = server.memory()
    kernels = server.kernel_processes()
    for page in opened:
        leave(page)
    return {
        "pages": pages,
        "drawable": len(drawable),
        "all_drawable_s": drawable_after[-1] if drawable and not broken else None,
        "first_drawable_s": drawable_after[0] if drawable else None,
        "answered_1": answered,
        "kernels_while_open": kernels,
        "pointer_up_to_answer_ms": {
            "p50": float(np.percentile(latencies, 50)) if latencies else float("nan"),
            "p90": float(np.percentile(latencies, 90)) if latencies else float("nan"),
            "n": len(latencies),
        },
        "server_mb_idle": idle_rss / MB,
        "server_mb_all_open": busy_rss / MB,
        "mb_per_page": (busy_rss - idle_rss) / MB / pages,
        "back_to_baseline_s": back_to_baseline(server, baseline, culling_limit_s()),
    }


def wait_for_pool(server: VoilaServer, limit_s: float = 120) -> None:
    """Until the preheated kernel exists and has run the notebook (its rendering is kept for a visitor)."""
    start = time.monotonic()
    while server.kernel_processes() < 1 and time.monotonic() - start < limit_s:
        time.sleep(0.25)
    time.sleep(10)  # the notebook runs in it in a few seconds


def open_to_drawable(browser, server: VoilaServer, loads: int) -> dict[str, float]:
    times = []
    for _ in range(loads):
        page = open_dashboard(browser, server, wait=False)
        times.append(wait_drawable(page, polling="raf") / 1e3)
        leave(page)
        time.sleep(8)  # visitors a few seconds apart: a preheated pool has refilled in between
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "n": loads}


def pool_size(extra_args: tuple[str, ...] = ()) -> int:
    """How many kernels the server keeps ready for the next visitor (voila.json's preheating)."""
    settings = voila_config()["VoilaConfiguration"]
    preheat = settings.get("preheat_kernel", False) and NO_PREHEAT[0] not in extra_args
    return settings.get("default_pool_size", 0) if preheat else 0


def run(browser, args) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with VoilaServer() as server:
        baseline = pool_size()
        if baseline:
            wait_for_pool(server)
        idle = server.kernel_processes()
        print(f"Idle, the server runs {idle} kernel(s), {baseline} of them kept ready for the next visitor")
        print(f"\n1. {args.sequential} pages opened, drawn on and closed one after another")
        results["one_after_another"] = one_after_another(browser, server, args.sequential, baseline)
        print(f"\n2. {args.reload_pages} pages open, each reloaded {args.reloads} times")
        results["reloads"] = reloads(browser, server, args.reload_pages, args.reloads, baseline)
        print(f"\n3. {args.pages} pages opened at once")
        results["all_at_once"] = all_at_once(browser, server, args.pages, baseline)
    print(f"\n4. page open -> drawable, {args.loads} pages one after another, without and with preheating")
    shipped = f"as shipped (pool of {pool_size()})" if pool_size() else "as shipped (no pool)"
    for name, extra in ((shipped, ()), ("without preheating", NO_PREHEAT)):
        with VoilaServer(extra_args=extra) as server:
            if pool_size(extra):  # visitors come once the kept kernel has run the notebook
                wait_for_pool(server)
            results.setdefault("open_to_drawable", {})[name] = open_to_drawable(browser, server, args.loads)
            print(f"  {name:<22} median {results['open_to_drawable'][name]['median_s']:.2f} s")
    return results


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def print_summary(r: dict[str, Any]) -> None:
    print("\nSummary (goal in brackets)")
    for key, title in (("one_after_another", "one after another"), ("reloads", "reloads")):
        s = r[key]
        open_pages, back = (1 if key == "one_after_another" else s["open_pages"]), s["back_to_baseline_s"]
        most = max(s["most_kernels_open"], s.get("most_kernels_closed", 0))
        print(
            f"  {title:<18} at most {most} kernels with {open_pages} page(s) open"
            f" [<= open pages + {pool_size()} kept: {verdict(most <= open_pages + pool_size())}];"
            f" idle again {'never' if back is None else f'{back:.1f} s'} after the last close"
            f" [within the culling interval: {verdict(back is not None)}]"
        )
    a = r["all_at_once"]
    lat = a["pointer_up_to_answer_ms"]
    when = "never all" if a["all_drawable_s"] is None else f"all after {a['all_drawable_s']:.1f} s"
    print(
        f"  all at once        {a['drawable']} of {a['pages']} pages drawable, {when};"
        f" {a['answered_1']}/{a['pages']} read the drawn 1 [all: {verdict(a['answered_1'] == a['pages'])}]"
    )
    print(
        f"                     pointer-up -> answer p50 {lat['p50']:.0f} ms, p90 {lat['p90']:.0f} ms"
        f" while all are open; {a['mb_per_page']:.0f} MB per page"
        f" ({a['server_mb_idle']:.0f} MB idle, {a['server_mb_all_open']:.0f} MB all open)"
    )
    for name, s in r["open_to_drawable"].items():
        print(
            f"  open -> drawable   {name:<22} median {s['median_s']:.2f} s"
            f" (min {s['min_s']:.2f}, max {s['max_s']:.2f}, n={s['n']})"
        )


def main(argv: list[str] | None = None) -> int:
    description = __doc__.split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m benchmarks classroom", description=description)
    parser.add_argument("--sequential", type=int, default=20, help="pages opened one after another (20)")
    parser.add_argument("--reload-pages", type=int, default=5, help="pages reloaded together (5)")
    parser.add_argument("--reloads", type=int, default=5, help="times each is reloaded (5)")
    parser.add_argument("--pages", type=int, default=15, help="pages opened at once (15)")
    parser.add_argument("--loads", type=int, default=5, help="page loads timed to drawable, per setting (5)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if CHROMIUM is None:
        print("Chromium not found (apt-get install chromium): nothing to measure", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, {CHROMIUM}; the server as the README"
        " starts it (voila.json). Other programs on this machine slow every figure down."
    )
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            results = run(browser, args)
        finally:
            browser.close()
    print_summary(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
