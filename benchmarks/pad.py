"""What one visitor can cost the pad's kernel, and what teaching adds: ``python -m benchmarks pad``.

Everything goes through the messages a page sends (``mlp.pad.frontend``), as
in the dashboard, without a browser. It prints:

* **Teach**: ``DigitPad.learn()`` with 20 examples and replay, from the call
  until the pad shows the new answer (median and max), beside
  ``fine_tune`` alone on the same examples: the difference is the pad's own
  overhead. The first teaching in a kernel also reads the replay set, which
  the pad starts as soon as the first example is added.
* **Answering**: one widget update (read the drawing, show the answer)
  before and after teaching, and while a teaching runs on its thread.
* **Hostile input**: a 96,000-move stroke and Undo after it, a drawing at the
  ink budget and Undo, floods of moves without a press, of NaN points and of
  malformed messages (events per second), and uploads just under and over
  the decoding budget (time and peak memory, each in a fresh process).

Timings depend on the machine and its load: they come from here, never
from a test.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from PIL import Image, ImageDraw

from benchmarks.speed import describe, machine_info
from benchmarks.teach import twenty_drawings
from mlp.nn.network import Sequential
from mlp.pad import canvas, frontend, teach
from mlp.pad.preprocess import MAX_DECODED_BYTES
from mlp.pad.rasterize import StrokeRaster
from mlp.pad.widget import BRUSH_RADIUS, PIXEL_RATIO, SIZE, DigitPad
from mlp.training.fine_tune import fine_tune
from mlp.training.model_io import load_model

# Decodes one image file in a fresh process; prints seconds, peak RSS growth (MB) and the outcome.
# The peak is Linux's VmHWM: ru_maxrss would count the parent's peak, which survives fork and exec.
DECODE = """
import json, sys, time
from mlp.pad.preprocess import ImageFileError, read_image
def peak_kb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
data = open(sys.argv[1], "rb").read()
before = peak_kb()
start = time.perf_counter()
try:
    outcome = "read, %d x %d" % read_image(data).shape[::-1]
except ImageFileError as e:
    outcome = "refused"
seconds = time.perf_counter() - start
grown = (peak_kb() - before) / 1024
print(json.dumps([len(data), seconds, grown, outcome]))
"""
_COLOUR, _GREY = math.isqrt(MAX_DECODED_BYTES // 4), math.isqrt(MAX_DECODED_BYTES)
# (mode, width, height, format): refused, the largest PNGs admitted, a photo under the pixel limit
UPLOADS = [
    ("RGBA", 8000, 4999, "PNG"),
    ("RGBA", _COLOUR, _COLOUR, "PNG"),
    ("L", _GREY, _GREY, "PNG"),
    ("RGB", 8000, 4999, "JPEG"),
]


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def stroke(pad: DigitPad, points: list[tuple[float, float]]) -> None:
    canvas.canvas_event(pad.canvas, event="mouse_down", x=points[0][0], y=points[0][1])
    for x, y in points[1:]:
        canvas.canvas_event(pad.canvas, event="mouse_move", x=x, y=y)
    canvas.canvas_event(pad.canvas, event="mouse_up", x=points[-1][0], y=points[-1][1])


def rate(events: int, action: Callable[[], object]) -> str:
    return f"{events / timed(action):,.0f} events/s"


def measure_teaching(model: Sequential, runs: int) -> list[str]:
    pad = DigitPad(model=model, min_interval=0)
    drawings = twenty_drawings()
    first = None
    learn, alone, update_before, update_after = [], [], [], []
    for run in range(runs):
        pad.reset_model()
        for drawing, label in drawings:
            pad.clear()
            pad.draw(drawing)
            pad.add_example(label)
        x, y = pad.examples
        update_before.append(timed(pad._update))
        seconds = timed(lambda: pad.learn(wait=True))
        if run == 0:
            first = seconds  # includes waiting for the replay set, if it is not read yet
        else:
            learn.append(seconds)
        update_after.append(timed(pad._update))
        alone.append(timed(lambda x=x, y=y: fine_tune(model, x, y, replay=teach.replay_set())))
    learn = learn or [first]
    ms = 1000
    return [
        f"learn(), 20 examples with replay: median {statistics.median(learn):.2f} s, max {max(learn):.2f} s "
        f"over {len(learn)} runs (the first, reading the replay set: {first:.2f} s)",
        f"fine_tune alone, the same call: median {statistics.median(alone):.2f} s; the pad's overhead: "
        f"{(statistics.median(learn) - statistics.median(alone)) * ms:+.0f} ms",
        f"one answer (read + show): {statistics.median(update_before) * ms:.1f} ms before teaching, "
        f"{statistics.median(update_after) * ms:.1f} ms after",
    ]


def measure_while_teaching(model: Sequential) -> list[str]:
    """Pointer events handled while a teaching runs: the pad stays responsive."""
    pad = DigitPad(model=model, min_interval=0)
    for drawing, label in twenty_drawings()[:5]:
        pad.clear()
        pad.draw(drawing)
        pad.add_example(label)
    pad.teach.wait()
    teach.replay_set()
    pad.clear()
    pad.learn()
    handled = []
    while pad.teach._worker is not None:
        handled.append(timed(lambda: stroke(pad, [(290, 100), (285, 250), (280, 460)])))
        pad.clear()
    pad.teach.wait()
    if not handled:
        return ["while teaching: it finished before a stroke could be drawn"]
    return [
        f"while teaching: {len(handled)} strokes drawn and read, each in median "
        f"{statistics.median(handled) * 1000:.0f} ms, max {max(handled) * 1000:.0f} ms"
    ]


def unbudgeted_undo(moves: list[tuple[float, float]]) -> float:
    """Seconds for Undo of a dot after ``moves``, with the budgets off: what the pad cost before them."""
    raster = StrokeRaster(
        SIZE * PIXEL_RATIO, SIZE, BRUSH_RADIUS, min_step=0.1, max_points=10**9, max_ink=math.inf
    )
    raster.start(*moves[0])
    for x, y in moves[1:]:
        raster.extend(x, y)
    raster.start(10, 10)
    return timed(raster.undo)


def measure_hostile_input(model: Sequential) -> list[str]:
    pad = DigitPad(model=model)  # throttled live reading, as in the dashboard
    # Circles scribbled for minutes: 96,000 moves of 2.5 canvas pixels each.
    n, step, radius = 96_000, 2.5, 200
    moves = [
        (280 + radius * math.cos(i * step / radius), 280 + radius * math.sin(i * step / radius))
        for i in range(n)
    ]
    drawing = timed(lambda: stroke(pad, moves))
    kept = pad.raster.points
    pad.clear()
    # The worst Undo: a full drawing of many strokes, whose last one goes, and the rest is repainted.
    while not pad.raster.full:
        start = len(pad.raster.strokes) * 97 % 400
        stroke(pad, moves[start : start + min(100, pad.raster.max_points - pad.raster.points)])
    full, undo = pad.raster.points, timed(pad.undo)
    unbudgeted = unbudgeted_undo(moves)
    lines = [
        f"a {n:,}-move stroke: handled in {drawing:.2f} s ({n / drawing:,.0f} events/s), "
        f"{kept:,} points kept",
        f"Undo in a full drawing ({full:,} points in {len(pad.raster.strokes) + 1} strokes, repainting "
        f"{pad.raster.points:,}): {undo * 1000:.0f} ms; without the budgets, after that {n:,}-move stroke: "
        f"{unbudgeted:.1f} s",
    ]
    pad.clear()
    side = pad.canvas.side
    while not pad.raster.full:  # corner to corner and back: long segments, every one across the canvas
        stroke(pad, [(0, 0), (side, side), (0, 0)])
    ink, undo = pad.raster.ink, timed(pad.undo)
    lines.append(
        f"Undo in a drawing at the ink budget ({ink:,.0f} canvas pixels in {len(pad.raster.strokes) + 1} "
        f"strokes): {undo * 1000:.0f} ms"
    )
    pad.clear()
    return [*lines, measure_floods(pad, 50_000)]


def measure_floods(pad: DigitPad, n: int) -> str:
    """Events per second the kernel handles when a client sends only junk."""
    from IPython.core.interactiveshell import InteractiveShell

    InteractiveShell.instance()  # as in a kernel: ipywidgets reports failures through the shell

    def moves() -> None:
        for i in range(n):
            canvas.canvas_event(pad.canvas, event="mouse_move", x=5, y=i % 500)

    def nan_moves() -> None:
        canvas.canvas_event(pad.canvas, event="mouse_down", x=5, y=5)
        for _ in range(n):
            canvas.canvas_event(pad.canvas, event="mouse_move", x=math.nan, y=1)

    def bad_uploads() -> None:
        for _ in range(n):
            frontend.receive(pad.upload, {"method": "update", "state": {"value": 1}})

    floods = [("moves without a press", moves), ("NaN moves", nan_moves), ("malformed uploads", bad_uploads)]
    return f"floods of {n:,}: " + ", ".join(f"{what} {rate(n, flood)}" for what, flood in floods)


def measure_uploads() -> list[str]:
    if not os.path.exists("/proc/self/status"):
        return ["uploads: the decoding peak is measured on Linux only"]
    lines = []
    for mode, width, height, fmt in UPLOADS:
        image = Image.new(mode, (width, height), "white")
        ImageDraw.Draw(image).line(
            [(width // 3, height // 4), (width // 2, 3 * height // 4)], "black", width // 40
        )
        with tempfile.NamedTemporaryFile(suffix=f".{fmt.lower()}") as file:
            image.save(file, format=fmt)
            file.flush()
            del image
            command = [sys.executable, "-c", DECODE, file.name]
            result = subprocess.run(command, capture_output=True, text=True, check=True)
        size, seconds, grown, outcome = json.loads(result.stdout)
        lines.append(
            f"upload {width} × {height} {mode} {fmt} ({width * height / 1e6:.0f} MP, {size / 1e3:.0f} KB): "
            f"{outcome} in {seconds:.2f} s, peak memory +{grown:.0f} MB"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks pad", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="teaching runs (default 7)")
    args = parser.parse_args(argv)
    print(describe(machine_info()))
    model = load_model()
    frontend_log = frontend.log.disabled
    frontend.log.disabled = True  # the floods of malformed messages would fill the terminal
    try:
        lines = measure_teaching(model, args.runs)
        lines += measure_while_teaching(model)
        lines += measure_hostile_input(model)
        lines += measure_uploads()
    finally:
        frontend.log.disabled = frontend_log
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
