"""Where the pad's widgets go, on a desktop and on a phone: boxes by class, the style sheet, one script.

The widgets are laid out by class (``dp-pad``, ``dp-answer``...) rather than by
``Layout`` sizes, so that one rule can change them on a narrow screen: on a
desktop the pad, the answer and the network's input sit side by side; below
600 CSS pixels they stack, the pad fills the width, and the answer is compact
enough to stay in view right under it while a finger draws. ``box`` and
``button`` make the widgets those rules apply to.

The script does what no widget can:

* The mouse wheel over the pad scrolls the page. ipycanvas listens to the
  wheel on its canvas and cancels it (to send it to Python, where the pad
  has no use for it); a listener on the document, in the capture phase,
  stops the event before it reaches the canvas, and the browser scrolls.
* The upload buttons' accessible names say what they do: ipywidgets writes
  "Upload image (0)" (its file count) into the button, so the script copies
  the tooltip, a sentence, into ``aria-label``.
* Examples survive a reload. Each time the examples change, the teaching
  panel sends ``keep_html``: an image whose ``onerror`` stores the examples
  file (base64) in the browser's ``localStorage``, under a key of this page's
  address. When a page opens and finds such a file, the script hands it to
  the pad's own Load examples button, as if the visitor had chosen it (the
  button's file input is not in the page: the script catches the button's
  call to its ``click()`` once, and gives it the file instead of a chooser)
  (``KEPT_EXAMPLES_FILE`` is its name, so that the pad can say "brought
  back"). Forget removes it; Undo forget stores it again.

Without the script (if a page ever refused inline handlers) the pad works all
the same; only the wheel stops at the pad, the names are terser and a reload
forgets the examples.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

CSS = """
.dp-root { font-family: system-ui, sans-serif; color: #222; gap: 24px; align-items: flex-start; }
.dp-root { flex-wrap: wrap; }  /* on a phone, the columns stack */
.dp-pad { width: 280px; flex: 0 0 auto; }
canvas.dp-canvas { width: 280px; height: 280px; border-radius: 10px; box-shadow: 0 1px 6px rgba(0,0,0,.35);
  cursor: crosshair; touch-action: none; user-select: none; -webkit-user-select: none; }
.dp-buttons { width: 100%; margin-top: 10px; }
.dp-answer { width: 300px; flex: 0 0 auto; }
.dp-result { text-align: center; }
.dp-digit { font-size: 96px; font-weight: 700; line-height: 1.05; color: #1565c0; }
.dp-unsure .dp-digit, .dp-empty .dp-digit, .dp-odd .dp-digit { color: #9e9e9e; }
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
.dp-error, .dp-info, .dp-said { overflow-wrap: anywhere; max-width: 100%; line-height: 1.35; }
.dp-error { color: #c62828; font-weight: 600; }
.dp-info { color: #666; }
.dp-root .jupyter-button { padding: 0 8px; }  /* three buttons fit under the pad, in JupyterLab too */
/* FileUpload always appends its file count, "(0)", to the label: show our label instead. */
.dp-upload.widget-upload, .dp-load.widget-upload, .dp-load-model.widget-upload { font-size: 0; }
.dp-root { --dp-button-font: var(--jp-widgets-font-size, 13px); --dp-button-height: 28px; }
.widget-upload.dp-upload i, .widget-upload.dp-load i, .widget-upload.dp-load-model i {
  font-size: var(--dp-button-font); margin-right: 4px; }
.widget-upload.dp-upload::after, .widget-upload.dp-load::after, .widget-upload.dp-load-model::after {
  font-size: var(--dp-button-font); }
.dp-upload.widget-upload::after { content: "Upload image"; }
.dp-load.widget-upload::after { content: "Load examples"; }
.dp-load-model.widget-upload::after { content: "Load model"; }
.dp-hint { font-size: 12px; line-height: 16px; color: #777; text-align: right; padding-right: 2px; }
/* Teaching: tell it what the drawing really was, then Teach. */
.dp-teach { margin-top: 12px; gap: 4px; }
.dp-ask { font-size: 14px; color: #555; }
.dp-digits { gap: 3px; width: 100%; }
.dp-root .dp-digits .jupyter-button { flex: 1 1 0; min-width: 0; padding: 0; margin: 0;
  font: 600 15px/32px ui-monospace, monospace; height: 32px; }
.dp-examples { font-size: 13px; line-height: 1.35; color: #555; }
/* Thumbnails wrap onto a second row rather than scroll: a scrolled strip clipped the tenth. */
.dp-strip { display: flex; flex-wrap: wrap; gap: 4px; align-items: flex-end; padding: 2px 0; }
.dp-example { margin: 0; text-align: center; font: 12px/14px ui-monospace, monospace; }
.dp-example img { display: block; width: 28px; height: 28px; image-rendering: pixelated; border-radius: 3px; }
.dp-more { font-size: 12px; color: #777; align-self: center; white-space: nowrap; }
.dp-teach-buttons { gap: 3px; width: 100%; }
/* Two rows of two: save (Examples, Model), then load (Load examples, Load model). */
.dp-files { display: grid !important; grid-template-columns: 1fr 1fr; gap: 3px; width: 100%; }
.dp-files > * { margin: 0 !important; width: auto !important; min-width: 0; }
.dp-files .widget-html, .dp-files .widget-html-content { margin: 0; height: 100%; }
/* The Examples download: a real link (one click saves the file), dressed as the buttons beside it. */
.dp-download { display: flex; align-items: center; justify-content: center; box-sizing: border-box;
  height: var(--dp-button-height); width: 100%; padding: 0 8px; border-radius: 2px; text-decoration: none;
  font: var(--dp-button-font) system-ui, sans-serif; color: rgba(0,0,0,.8); background: #eeeeee;
  box-shadow: 0 1px 1px rgba(0,0,0,.15); cursor: pointer; white-space: nowrap; }
.dp-download i { margin-right: 4px; }
.dp-download:hover { box-shadow: 0 2px 3px rgba(0,0,0,.25); }
.dp-download:focus-visible { outline: 2px solid #1565c0; }
.dp-download.dp-disabled { opacity: .5; cursor: not-allowed; box-shadow: none; }
.dp-network { font-size: 13px; color: #555; margin-top: 4px; }
.dp-keep-note { font-size: 12px; line-height: 16px; color: #777; }
.dp-keeper { display: none; }
.dp-said { font-size: 14px; color: #555; }
.dp-said[data-state="taught"] { color: #1b5e20; font-weight: 600; }
.dp-said[data-state="error"] { color: #c62828; font-weight: 600; }
.dp-change { font: 600 14px/1.4 ui-monospace, monospace; }
.dp-saved { font-weight: 600; }
.dp-progress { width: 100%; margin: 0; }
@media (max-width: 600px) {
  .dp-root { gap: 10px; }
  .dp-pad, .dp-answer, .dp-seen { width: 100%; }
  canvas.dp-canvas { width: 100%; height: auto; aspect-ratio: 1 / 1; }
  .dp-buttons { margin-top: 6px; }
  .dp-result { display: flex; align-items: center; justify-content: center; gap: 14px; text-align: left; }
  .dp-digit { font-size: 52px; line-height: 1; }
  .dp-caption { min-height: 0; font-size: 15px; }
  .dp-row { font-size: 13px; line-height: 17px; }
  .dp-teach { margin-top: 8px; }
  /* Touch targets of at least 44 × 44 CSS pixels (WCAG 2.5.5, Apple's guidelines).
     The digits go in two rows of five. */
  .dp-root { --dp-button-height: 44px; }
  .dp-root .jupyter-button, .dp-root .widget-upload { height: 44px; line-height: 44px; }
  .dp-digits { flex-wrap: wrap; }
  .dp-root .dp-digits .jupyter-button { flex: 1 1 18%; height: 44px; line-height: 44px; min-width: 44px; }
}
"""

# Inline, as the handler of an image that fails to load: the only way an HTML widget runs code.
SCRIPT = """
if (!window.mlpDigitPad) {
  window.mlpDigitPad = true;
  document.addEventListener('wheel', function (event) {
    const target = event.target;
    if (target instanceof HTMLCanvasElement && target.classList.contains('dp-canvas')) {
      event.stopImmediatePropagation();
    }
  }, {capture: true, passive: true});
  const name = function () {
    const buttons = document.querySelectorAll('.dp-upload[title], .dp-load[title], .dp-load-model[title]');
    buttons.forEach(function (button) {
      if (button.getAttribute('aria-label') !== button.title) button.setAttribute('aria-label', button.title);
    });
  };
  const restore = function () {
    if (window.mlpDigitPadRestored) return;
    const load = document.querySelector('.dp-load');
    if (!load) return;
    window.mlpDigitPadRestored = true;
    let kept = null;
    try { kept = localStorage.getItem('mlp-pad-examples:' + location.pathname); } catch (e) { return; }
    if (!kept) return;
    const files = new DataTransfer();
    const bytes = Uint8Array.from(atob(kept), function (c) { return c.charCodeAt(0); });
    files.items.add(new File([bytes], 'KEPT_NAME', {type: 'application/octet-stream'}));
    /* FileUpload's input is not in the page: a click on the button calls its click(), caught here once. */
    const click = HTMLInputElement.prototype.click;
    HTMLInputElement.prototype.click = function () {
      HTMLInputElement.prototype.click = click;
      if (this.type !== 'file') return click.call(this);
      this.files = files.files;
      this.dispatchEvent(new Event('change'));
    };
    try { load.click(); } finally { HTMLInputElement.prototype.click = click; }
  };
  new MutationObserver(function () { name(); restore(); }).observe(document.body, {childList: true,
    subtree: true, attributes: true, attributeFilter: ['title']});
  name();
  restore();
}
"""

# The name of the examples file the browser kept: the pad says "brought back" rather than "loaded".
KEPT_EXAMPLES_FILE = "examples kept by this browser.npz"
SCRIPT = SCRIPT.replace("KEPT_NAME", KEPT_EXAMPLES_FILE)
_STORAGE_KEY = "'mlp-pad-examples:' + location.pathname"

STYLE = f'<style>{CSS}</style><img hidden alt="" src="" onerror="{html.escape(" ".join(SCRIPT.split()))}">'


def keep_html(examples_file: bytes) -> str:
    """HTML that stores ``examples_file`` in the browser's localStorage for this page (see the docstring)."""
    data = base64.b64encode(examples_file).decode()
    code = f"try {{ localStorage.setItem({_STORAGE_KEY}, '{data}'); }} catch (e) {{}} this.remove();"
    return f'<img hidden alt="" src="" onerror="{html.escape(code)}">'


def forget_kept_html() -> str:
    """HTML that removes the examples this page kept in the browser: Forget."""
    code = f"try {{ localStorage.removeItem({_STORAGE_KEY}); }} catch (e) {{}} this.remove();"
    return f'<img hidden alt="" src="" onerror="{html.escape(code)}">'


def box(kind: type[widgets.Box], children: list[widgets.Widget], css_class: str) -> widgets.Box:
    """A box whose size and placement the style sheet sets, by class."""
    made = kind(children)
    made.add_class(css_class)
    return made


def upload_button(description: str, tooltip: str, accept: str, css_class: str) -> widgets.FileUpload:
    # ``css_class`` (dp-upload for images, dp-load for examples) draws its label without the file count.
    """A ``FileUpload`` showing ``description``, with ``tooltip`` as its accessible name (see ``SCRIPT``)."""
    made = widgets.FileUpload(
        accept=accept,
        description=description,
        tooltip=tooltip,
        layout=widgets.Layout(width="auto", flex="1 1 auto"),
    )
    made.add_class(css_class)
    return made


def button(description: str, tooltip: str, action: Callable[[], Any], icon: str = "") -> widgets.Button:
    """A button that calls ``action()``; it takes the room its row gives it."""
    made = widgets.Button(
        description=description,
        tooltip=tooltip,
        icon=icon,
        layout=widgets.Layout(width="auto", flex="1 1 auto"),
    )
    made.on_click(lambda _: action())
    return made
