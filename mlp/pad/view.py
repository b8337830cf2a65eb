"""How the drawing pad shows an answer: HTML for the label and the bars, a PNG for the network's input.

Kept apart from the widget's behaviour (``mlp.pad.widget``) so that each reads on
its own: this module only turns numbers into something to look at. Each
update is one string or one small PNG per widget, so the browser receives a
few messages per prediction, not dozens.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

# Below this top probability the pad says "not sure". On the MNIST test set, the
# shipped model's answers below 80 % confidence are right only about 2 times in 3
# (above it, 99.5 % are): tests/test_draw.py measures it again.
UNSURE_BELOW = 0.8
PREVIEW_CELL = 6  # screen pixels per input pixel in "what the network sees"

STYLE = """<style>
.dp-root { font-family: system-ui, sans-serif; color: #222; gap: 24px; align-items: flex-start; }
.dp-root { flex-wrap: wrap; }  /* on a phone, the columns stack */
.dp-canvas { border-radius: 10px; box-shadow: 0 1px 6px rgba(0,0,0,.35); cursor: crosshair; }
.dp-result { width: 230px; text-align: center; }
.dp-digit { font-size: 96px; font-weight: 700; line-height: 1.05; color: #1565c0; }
.dp-unsure .dp-digit, .dp-empty .dp-digit { color: #9e9e9e; }
.dp-caption { font-size: 16px; color: #555; min-height: 2.6em; }
.dp-row { display: flex; align-items: center; gap: 8px; font: 14px/20px ui-monospace, monospace; }
.dp-track { flex: 1; height: 12px; background: #eceff1; border-radius: 6px; overflow: hidden; }
.dp-fill { display: block; height: 100%; background: #90caf9; }
.dp-top .dp-fill { background: #1565c0; }
.dp-top { font-weight: 700; }
.dp-p { width: 3.2em; text-align: right; color: #555; }
.dp-title { font-size: 14px; color: #555; margin-bottom: 6px; }
.dp-note { font-size: 13px; color: #777; margin-top: 6px; line-height: 1.4; }
.dp-preview img, img.dp-preview { image-rendering: pixelated; border-radius: 4px; }
.dp-error { color: #c62828; font-weight: 600; width: 280px; }
.dp-root .jupyter-button { padding: 0 8px; }  /* three buttons fit under the pad, in JupyterLab too */
/* FileUpload always appends its file count, "(0)", to the label: show our label instead. */
.dp-upload.widget-upload { font-size: 0; }
.dp-upload.widget-upload i { font-size: var(--jp-widgets-font-size, 13px); margin-right: 4px; }
.dp-upload.widget-upload::after { content: "Upload image"; font-size: var(--jp-widgets-font-size, 13px); }
.dp-info { color: #666; }
.dp-hint { font-size: 12px; line-height: 16px; color: #777; text-align: right; padding-right: 2px; }
</style>"""


def percent(p: float) -> str:
    return "&gt;99%" if p > 0.99 else f"{p:.0%}"  # rounding 99.7 % up to 100 % would overclaim


def result_html(probabilities: np.ndarray | None, strokes: int) -> str:
    """The answer in large type, or "?" when unsure, or a prompt when there is nothing to read.

    ``data-state`` and ``data-strokes`` (finished strokes) let a browser test
    or a benchmark wait for the answer to a given drawing without guessing.
    """
    if probabilities is None:
        state, digit, caption = "empty", "✎", "Draw a digit, 0 to 9, as big as the black square"
    else:
        first, second = np.argsort(probabilities)[::-1][:2]
        top = probabilities[first]
        if top >= UNSURE_BELOW:
            state, digit, caption = "sure", str(first), f"{percent(top)} sure"
        else:
            state, digit = "unsure", "?"
            caption = f"Not sure: {first} ({percent(top)}) or {second} ({percent(probabilities[second])})?"
    return (
        f'<div class="dp-result dp-{state}" data-state="{state}" data-strokes="{strokes}">'
        f'<div class="dp-digit">{digit}</div><div class="dp-caption">{caption}</div></div>'
    )


def bars_html(probabilities: np.ndarray | None) -> str:
    """Ten horizontal bars, one per digit, as wide as its probability; the top one highlighted."""
    p = np.zeros(10) if probabilities is None else probabilities
    top = -1 if probabilities is None else int(p.argmax())
    rows = [
        f'<div class="dp-row{" dp-top" if d == top else ""}" data-digit="{d}"><span>{d}</span>'
        f'<span class="dp-track"><span class="dp-fill" style="width:{100 * p[d]:.1f}%"></span></span>'
        f'<span class="dp-p">{"" if probabilities is None else percent(p[d])}</span></div>'
        for d in range(10)
    ]
    return "".join(rows)


def preview_png(x: np.ndarray | None) -> bytes:
    """The 28×28 input enlarged, with a faint grid so that each of its pixels is visible."""
    pixels = np.zeros((28, 28), dtype=np.uint8) if x is None else np.round(x * 255).astype(np.uint8)
    big = np.repeat(np.repeat(pixels, PREVIEW_CELL, axis=0), PREVIEW_CELL, axis=1)  # (168, 168)
    big = np.pad(big, ((0, 1), (0, 1)))  # room to close the grid on the right and bottom
    big[::PREVIEW_CELL] = big[:, ::PREVIEW_CELL] = 48
    return png(big)


def png(gray: np.ndarray, max_side: int | None = None) -> bytes:
    """``gray`` (uint8) as PNG bytes, shrunk to at most ``max_side`` pixels a side if given.

    Fast compression: these images are made while the user draws, and are small.
    """
    image = Image.fromarray(gray)
    if max_side is not None:
        image.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
