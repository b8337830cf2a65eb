"""How the drawing pad shows an answer: HTML for the label and the bars, a PNG for the network's input.

Kept apart from the widget's behaviour (``mlp.pad.widget``) so that each reads on
its own: this module only turns numbers into something to look at (the style
sheet is ``mlp.pad.style``). Each update is one string or one small PNG per
widget, so the browser receives a few messages per prediction, not dozens.
Text from outside, a file's name, is made showable by ``display_name``, and
escaped wherever it goes into HTML.
"""

from __future__ import annotations

import base64
import html
import io
import unicodedata
from collections.abc import Sequence

import numpy as np
from PIL import Image

# Below this top probability the pad says "not sure". On the MNIST test set, the
# shipped model's answers below 80 % confidence are right only about 2 times in 3
# (above it, 99.5 % are): tests/test_draw.py measures it again.
UNSURE_BELOW = 0.8
PREVIEW_CELL = 6  # screen pixels per input pixel in "what the network sees"
MAX_NAME = 40  # characters of a file's name shown in a message
THUMBNAILS = 12  # examples shown in the strip, the latest ones


def percent(p: float) -> str:
    """A probability as the pad says it: ">99%", not 99.7 % rounded up to an overclaiming "100%"."""
    return ">99%" if p > 0.99 else f"{p:.0%}"


def verdict(probabilities: np.ndarray, *, familiar: bool = True) -> tuple[str, str, str]:
    """The pad's answer as ``(state, digit, caption)``, in plain text.

    ``("sure", "7", ">99% sure")`` at ``UNSURE_BELOW`` or above, else
    ``("unsure", "?", "Not sure: 3 (52%) or 5 (40%)?")``: the two best guesses.
    A confident answer with ``familiar=False`` (``mlp.pad.familiar``: the
    network's energy is below that of the digits it knows: two digits on top
    of each other, a scribble, a style it never saw) becomes ``("odd", "?",
    "This doesn't look like one digit to it (best guess: 3)")``: the
    probability alone would overclaim. ``python -m mlp predict`` says the same words.
    """
    first, second = (int(c) for c in np.argsort(probabilities)[::-1][:2])
    top, runner_up = probabilities[first], probabilities[second]
    if top >= UNSURE_BELOW and not familiar:
        return "odd", "?", f"This doesn't look like one digit to it (best guess: {first})"
    if top >= UNSURE_BELOW:
        return "sure", str(first), f"{percent(top)} sure"
    return "unsure", "?", f"Not sure: {first} ({percent(top)}) or {second} ({percent(runner_up)})?"


def result_html(probabilities: np.ndarray | None, strokes: int, *, familiar: bool = True) -> str:
    """The answer in large type, or "?" when unsure, or a prompt when there is nothing to read.

    ``data-state`` and ``data-strokes`` (finished strokes) let a browser test
    or a benchmark wait for the answer to a given drawing without guessing.
    """
    if probabilities is None:
        state, digit, caption = "empty", "✎", "Draw a digit, 0 to 9, as big as the black square"
    else:
        state, digit, caption = verdict(probabilities, familiar=familiar)
    return (
        f'<div class="dp-result dp-{state}" data-state="{state}" data-strokes="{strokes}">'
        f'<div class="dp-digit">{digit}</div><div class="dp-caption">{html.escape(caption)}</div></div>'
    )


def bars_html(probabilities: np.ndarray | None) -> str:
    """Ten horizontal bars, one per digit, as wide as its probability; the top one highlighted."""
    p = np.zeros(10) if probabilities is None else probabilities
    top = -1 if probabilities is None else int(p.argmax())
    rows = [
        f'<div class="dp-row{" dp-top" if d == top else ""}" data-digit="{d}"><span>{d}</span>'
        f'<span class="dp-track"><span class="dp-fill" style="width:{100 * p[d]:.1f}%"></span></span>'
        f'<span class="dp-p">{"" if probabilities is None else html.escape(percent(p[d]))}</span></div>'
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


def display_name(name: str, limit: int = MAX_NAME) -> str:
    """A file's name as it can be shown: no control or invisible characters, at most ``limit`` long.

    Browsers send the name the visitor's file has, and a name can be a
    thousand characters, contain line breaks, or a right-to-left override that
    makes the rest of the message read backwards. Long names keep their start
    and their extension: ``a-very-long-na…me.png``. (Escape the result for HTML.)
    """
    # Line breaks and tabs become spaces; other controls, formats (bidi overrides,
    # zero-width characters) and unassigned code points go.
    spaced = "".join(" " if c.isspace() else c for c in str(name))
    printable = "".join(c for c in spaced if not unicodedata.category(c).startswith("C"))
    printable = " ".join(printable.split()) or "the file"
    if len(printable) <= limit:
        return printable
    tail = printable[-8:]
    return printable[: limit - len(tail) - 1] + "…" + tail


def examples_html(images: Sequence[np.ndarray], labels: Sequence[int]) -> str:
    """The latest examples as a strip of thumbnails, each labelled with its digit.

    ``data-count`` is the number of examples, for tests. Each thumbnail is a
    28 × 28 PNG of a few hundred bytes, inline: no file to fetch.
    """
    count = len(labels)
    if count == 0:
        return (
            '<div class="dp-examples dp-none" data-count="0">No examples yet: when the network misreads'
            " a drawing, tap the digit it really is.</div>"
        )
    shown = range(max(0, count - THUMBNAILS), count)
    figures = "".join(
        f'<figure class="dp-example" data-label="{labels[i]}"><img alt="an example of {labels[i]}" '
        f'src="{_data_url(png(np.round(images[i] * 255).astype(np.uint8)), "image/png")}">'
        f"<figcaption>{labels[i]}</figcaption></figure>"
        for i in shown
    )
    more = f'<span class="dp-more">+{count - len(shown)} earlier</span>' if count > len(shown) else ""
    noun = "example" if count == 1 else "examples"
    return (
        f'<div class="dp-examples" data-count="{count}"><div class="dp-strip-title">Your {count} {noun}</div>'
        f'<div class="dp-strip">{more}{figures}</div></div>'
    )


def change_text(before: np.ndarray | None, after: np.ndarray | None) -> str:
    """What teaching changed in the answer to the current drawing, e.g. "0: 12% → 97%".

    Shown for the digit the network answers now and, if it differs, the one
    it answered before, so that a learner sees both the gain and the loss.
    """
    if before is None or after is None:
        return ""
    digits = dict.fromkeys([int(after.argmax()), int(before.argmax())])  # ordered, unique
    return ", ".join(f"{d}: {percent(before[d])} → {percent(after[d])}" for d in digits)


def download_html(data: bytes | None, filename: str, label: str, tooltip: str) -> str:
    """A link styled as a button, ``label``, that saves ``data`` as ``filename`` in one click.

    The bytes travel inline with the link (an examples file is a few KB), so
    the browser saves them without asking the kernel again. With no ``data``
    the button is shown disabled.
    """
    if data is None:
        return (
            f'<span class="dp-download dp-disabled" aria-disabled="true" title="{html.escape(tooltip)}">'
            f'<i class="fa fa-download"></i> {html.escape(label)}</span>'
        )
    return (
        f'<a class="dp-download" role="button" download="{html.escape(filename)}" '
        f'title="{html.escape(tooltip)} ({_size(data)})" href="{_data_url(data)}">'
        f'<i class="fa fa-download" aria-hidden="true"></i> {html.escape(label)}</a>'
    )


def saved_html(data: bytes, filename: str) -> str:
    """Save ``data`` as ``filename`` now (the user's click asked for it), and a link to save it again.

    A widget's HTML runs no ``<script>``; an image that fails to load runs its
    ``onerror``, which clicks the link once.
    """
    link = (
        f'<a class="dp-saved" download="{html.escape(filename)}" href="{_data_url(data)}">'
        f"{html.escape(filename)} ({_size(data)})</a>"
    )
    click = "this.previousElementSibling.querySelector('a').click(); this.remove()"
    script = f'<img hidden alt="" src="" onerror="{click}">'
    return f'<div class="dp-info">Saved {link}: see your downloads.</div>{script}'


def network_html(owner: str, filename: str | None, taught: int) -> str:
    """Whose network reads the drawings: "Network: yours (my-model.npz)", and what teaching added."""
    source = f" ({html.escape(display_name(filename))})" if filename else ""
    more = f", taught {taught} of your example{'s' * (taught != 1)}" if taught else ""
    return f'<div class="dp-network">Network: {html.escape(owner)}{source}{more}</div>'


def owner(metadata: dict) -> str:
    """Who made a network, from its model file's ``made_by`` (absent: the course's own)."""
    made_by = metadata.get("made_by")
    if made_by is None:
        return "the course's"
    if made_by == "you":
        return "yours"
    return f"made by {display_name(str(made_by), 24)}"


def _size(data: bytes) -> str:
    return f"{len(data) / 1000:.0f} KB" if len(data) >= 1000 else f"{len(data)} bytes"


def _data_url(data: bytes, mime: str = "application/octet-stream") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"
