"""Teach the pad your handwriting: label what it misread, fine-tune on a worker thread, or Forget.

The learner taps the digit a drawing really is; the pad keeps what the
network read (the 28 × 28 input, drawn or uploaded) with that label. Teach
fine-tunes the pad's current network on those examples with MNIST replayed
beside them (``mlp.training.fine_tune``), which takes about a second: on the
kernel's own thread that second would freeze the pad, so it runs on a worker
thread while the pad keeps drawing and answering, with a progress bar. When
it is done the pad swaps in the new network, reads the current drawing
again, and says what changed ("0: 12% → 97%"). Forget swaps back the network
the pad started with; a teaching still running then is stopped and its
result thrown away, and Undo forget brings back what Forget dropped until
the examples change again. Nothing here ever writes the shipped model file:
the taught network exists in this kernel only, until the learner saves it.

The panel knows the pad only through ``Reader``, the few public things
teaching needs (its lock, its network, what it reads, ``use_model``): no
import of the widget, no private names.

Files: **Examples** is a link, rebuilt whenever the examples change, that
saves them in one click; **Model** builds the model file when clicked (a
megabyte is too much to send after every teaching) and saves it at once;
**Load examples** and **Load model** read files back. The examples are also
kept in the browser's ``localStorage`` (``mlp.pad.layout.keep_html``; its
script brings them back after a reload), so a reload loses only the taught
network, as the panel says.
"""

from __future__ import annotations

import contextlib
import html
import logging
import re
import threading
import time
from pathlib import Path
from typing import Any, Protocol

import ipywidgets as widgets
import numpy as np

from mlp import runtime
from mlp.nn.network import Sequential
from mlp.pad import files, frontend
from mlp.pad.callbacks import callback
from mlp.pad.layout import KEPT_EXAMPLES_FILE, box, button, forget_kept_html, keep_html, upload_button
from mlp.pad.view import change_text, display_name, download_html, examples_html, saved_html
from mlp.training.data import DataFileError
from mlp.training.examples import MAX_EXAMPLES, ExamplesFileError, load_examples
from mlp.training.fine_tune import fine_tune
from mlp.training.model_io import ModelFileError
from mlp.training.replay import mnist_replay

__all__ = ["Reader", "TeachPanel", "replay_set"]

PROGRESS_STEP = 0.05  # the bar moves in steps of 5 %: at most 20 messages to the page per teaching

log = logging.getLogger(__name__)
_replay_lock = threading.Lock()


def replay_set() -> tuple[np.ndarray, np.ndarray]:
    """MNIST's replay sample, read from disk once per kernel (the first caller waits, the others share it)."""
    with _replay_lock:
        return mnist_replay()


def _read_replay_set_early() -> None:
    """On a thread, when the first example comes: Teach will not wait. A failure waits for Teach to say it."""
    with contextlib.suppress(Exception):
        replay_set()


class _Cancelled(Exception):
    """Raised in the teaching thread's progress callback once Forget made its result useless."""


class Reader(Protocol):
    """What teaching needs of the pad that reads the drawings (``mlp.pad.widget.DigitPad`` is one)."""

    lock: threading.RLock  # held by every entry point of the pad and of this panel
    model: Sequential  # the network reading now
    initial_model: Sequential  # what Forget goes back to
    network_input: np.ndarray | None  # (28, 28), what the network last read
    probabilities: np.ndarray | None  # (10,), its answer

    def use_model(self, model: Sequential, *, taught: int = 0) -> None:
        """Read with ``model`` from now on (taught on ``taught`` examples), and read the drawing again."""

    def start_from(self, model: Sequential, filename: str) -> None:
        """A network loaded from ``filename``: read with it, and make it what Forget goes back to."""


class TeachPanel(widgets.VBox):
    """The correcting and teaching half of a pad: digit buttons, examples, Teach, Forget, files."""

    def __init__(self, pad: Reader) -> None:
        super().__init__()
        self.add_class("dp-teach")
        self._pad = pad
        self._lock = pad.lock
        self._images: list[np.ndarray] = []  # (28, 28) float32 each
        self._labels: list[int] = []
        self._generation = 0  # Forget increments it: a teaching from before it is thrown away
        self._worker: runtime.Work | None = None
        self._forgotten: tuple[list[np.ndarray], list[int], Sequential, int] | None = None  # for Undo forget
        self._taught = 0  # examples the current network was taught on
        self._change_shown_for: np.ndarray | None = None  # the input "0: 12% → 97%" is about

        tip = "It is a {}: keep this drawing as an example of {}".format
        self.digit_buttons = [button(str(d), tip(d, d), lambda d=d: self.add_example(d)) for d in range(10)]
        self.strip = widgets.HTML(examples_html([], []))
        self.teach_button = button(
            "Teach", "Fine-tune the network on your examples", self.learn, "graduation-cap"
        )
        tip = "Back to the network the pad started with, without your examples (Undo forget brings them back)"
        self.forget_button = button("Forget", tip, self.forget, "history")
        tip = "Bring back the examples and the network that Forget dropped"
        self.undo_forget_button = button("Undo forget", tip, self.undo_forget, "undo")
        self.undo_forget_button.layout.display = "none"
        self.progress = widgets.FloatProgress(min=0, max=1, layout=widgets.Layout(display="none"))
        self.progress.add_class("dp-progress")
        self.said = widgets.HTML()
        # Said where it matters, beside Teach: what a reload keeps and what it does not.
        self.keep_note = widgets.HTML(
            '<div class="dp-keep-note">This browser keeps your examples if the page reloads; the'
            " taught network is not kept: Teach again, or save it with Model.</div>"
        )
        self.save_examples = widgets.HTML(self._examples_link(None))
        tip = "Save the network reading now as a model file (mlp.load_model reads it)"
        self.save_model_button = button("Model", tip, self.save_model, "download")
        self.load = upload_button("Load examples", "Load examples saved before (.npz)", ".npz", "dp-load")
        self.load.observe(self._on_load, "value")
        tip = "Read with a network saved with mlp.save_model (.npz), e.g. your my-model.npz"
        self.load_model_button = upload_button("Load model", tip, ".npz", "dp-load-model")
        self.load_model_button.observe(self._on_load_model, "value")
        self.links = widgets.HTML()
        self.keeper = widgets.HTML()  # keep_html: the examples into the browser's storage
        self.keeper.add_class("dp-keeper")
        self.children = [
            widgets.HTML('<div class="dp-ask">Wrong? Tap what it really is:</div>'),
            box(widgets.HBox, self.digit_buttons, "dp-digits"),
            self.strip,
            box(
                widgets.HBox,
                [self.teach_button, self.forget_button, self.undo_forget_button],
                "dp-teach-buttons",
            ),
            self.keep_note,
            self.progress,
            self.said,
            box(
                widgets.HBox,
                [self.save_examples, self.save_model_button, self.load, self.load_model_button],
                "dp-files",
            ),
            self.links,
            self.keeper,
        ]

    # --- examples -------------------------------------------------------------------------------

    @callback
    def add_example(self, label: Any) -> bool:
        if isinstance(label, bool) or not isinstance(label, int | np.integer) or not 0 <= label <= 9:
            self._say(f"An example's label is a digit from 0 to 9, not {label!r}.", error=True)
            return False
        x = self._pad.network_input
        if x is None:
            self._say("Draw a digit (or upload one) first, then tap what it really is.", error=True)
            return False
        label = int(label)
        if self._images and np.array_equal(self._images[-1], x):  # the same drawing, labelled again
            self._labels[-1] = label
            self._say(f"Changed: that drawing is a {label}.")
        elif len(self._labels) >= MAX_EXAMPLES:
            self._say(
                f"The pad keeps at most {MAX_EXAMPLES} examples: Teach, or Forget to start again.", error=True
            )
            return False
        else:
            self._images.append(x.copy())
            self._labels.append(label)
            self._say(f"Kept as a {label}. Draw more, or Teach.")
        if len(self._labels) == 1:  # teaching is near: read the replay set now, not when Teach is clicked
            runtime.start(_read_replay_set_early, name="mlp-replay")
        self._examples_changed()
        return True

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            images = np.array(self._images, dtype=np.float32).reshape(-1, 28, 28)
            return images, np.array(self._labels, dtype=np.int64)

    def load_examples(self, source: str | Path | bytes, name: str | None = None) -> int:
        """Add the examples in ``source`` that the pad does not have yet; how many were added.

        Raises ``ExamplesFileError``/``ValueError`` saying why not. An example
        already here (the same image) is skipped, so loading a file twice does
        not double it, and the message says so.
        """
        x, y = load_examples(source, name=name)
        with self._lock:
            new = self._not_here(x)
            if len(self._labels) + len(new) > MAX_EXAMPLES:
                raise ValueError(
                    f"{name or source} holds {len(new)} new examples; with the {len(self._labels)} the pad "
                    f"has, that is more than the {MAX_EXAMPLES} it keeps"
                )
            self._images.extend(x[i] for i in new)
            self._labels.extend(int(y[i]) for i in new)
            skipped = len(y) - len(new)
            if new:
                self._examples_changed()
            if name == KEPT_EXAMPLES_FILE:
                self._say(
                    f"Brought back your {len(new)} example{'s' * (len(new) != 1)} from before the page "
                    "reloaded. The network is the one the page started with: Teach to learn from them again."
                )
            elif not new:
                self._say(f"All {len(y)} examples in {name or 'the file'} are already here: nothing added.")
            else:
                also = f" ({skipped} already here, skipped)" if skipped else ""
                self._say(
                    f"Loaded {len(new)} example{'s' * (len(new) != 1)}{also}. Teach to learn from them."
                )
        return len(new)

    def _not_here(self, x: np.ndarray) -> list[int]:
        """Indices of the images of ``x`` (N, 28, 28) that are neither in the pad nor earlier in ``x``."""
        seen = {image.tobytes() for image in self._images}
        new = []
        for i, image in enumerate(x):
            key = np.ascontiguousarray(image, dtype=np.float32).tobytes()
            if key not in seen:
                seen.add(key)
                new.append(i)
        return new

    @callback
    def _on_load(self, change: dict[str, Any]) -> None:
        if not change["new"]:
            return
        self.load.value = ()  # so that choosing the same file again is noticed
        file = frontend.uploaded_file(change["new"])
        if file is None:  # not what a browser sends
            return
        name = display_name(file[0])
        if files.kind(file[1]) == "model":
            self._say(f"{name} is a model file, a whole network: use Load model to read with it.", error=True)
            return
        try:
            self.load_examples(file[1], name=name)
        except (ExamplesFileError, ValueError) as e:
            self._say(f"Cannot use {name}: {e}.", error=True)

    @callback
    def _on_load_model(self, change: dict[str, Any]) -> None:
        if not change["new"]:
            return
        self.load_model_button.value = ()
        file = frontend.uploaded_file(change["new"])
        if file is not None:
            self.load_model(file[1], display_name(file[0]))

    @callback
    def load_model(self, data: bytes, name: str) -> bool:
        """Read drawings with the network in the model file ``data`` (called ``name``); ``False`` if not.

        A bad file gets ``load_model``'s own reason and changes nothing: the
        pad keeps its network and the examples.
        """
        if files.kind(data) == "examples":
            self._say(f"{name} is an examples file, drawings with labels: use Load examples.", error=True)
            return False
        try:
            model = files.model_from_upload(data, name)
        except ModelFileError as e:
            self._say(f"Cannot use {name}: {e}.", error=True)
            return False
        if (model.n_inputs, model.n_classes) != (784, 10):
            self._say(
                f"Cannot use {name}: the pad needs a network from 784 pixels to 10 digits, this one has "
                f"{model.n_inputs} inputs and {model.n_classes} outputs.",
                error=True,
            )
            return False
        self._stop_teaching()
        self._forget_undo_offer()
        self._pad.start_from(model, name)
        self._taught = 0
        self.links.value = ""
        self._say(f"Reading with the network in {name}. Your examples are kept: Teach to teach this one.")
        return True

    # --- teaching -------------------------------------------------------------------------------

    def learn(self, *, wait: bool = False) -> bool:
        worker = self._start()
        if worker is not None and wait:
            worker.join()
        return worker is not None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the teaching in progress (if any) is done; ``False`` if ``timeout`` came first."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)
        return worker is None or not worker.is_alive()

    @callback
    def _start(self) -> runtime.Work | None:
        if self._worker is not None:
            self._say("Already teaching: one moment.")
            return None
        if not self._labels:
            self._say("No examples yet: draw a digit, then tap what it really is. Then Teach.", error=True)
            return None
        x, y = self.arrays()
        self._forget_undo_offer()
        self.teach_button.disabled = True
        # "" not None: in Pyodide's kernel display=None leaves the bar hidden.
        self.progress.value, self.progress.layout.display = 0, ""
        self._say(f"Teaching on {len(y)} example{'s' * (len(y) != 1)}…", state="teaching")
        args = (self._generation, self._pad.model, x, y, time.monotonic())
        # On a worker thread; inline where there are no threads (a browser): then done when it returns.
        work = runtime.start(self._teach, *args, name="mlp-teach")
        if work.is_alive():  # _finish (waiting for our lock) clears it; inline, _finish already ran
            self._worker = work
        return work

    def _teach(
        self, generation: int, model: Sequential, x: np.ndarray, y: np.ndarray, started: float
    ) -> None:
        """The worker thread: all of fine-tuning, then the swap, which waits for the pad's lock."""
        shown = [0.0]

        def progress(done: int, total: int) -> None:
            if generation != self._generation:
                raise _Cancelled
            if done / total - shown[0] >= PROGRESS_STEP or done == total:
                shown[0] = self.progress.value = done / total

        try:
            taught = fine_tune(
                model, x, y, replay=replay_set(), on_progress=progress, **runtime.teach_settings()
            )
        except _Cancelled:
            return
        except (FileNotFoundError, DataFileError) as e:  # their messages name server paths: not for the page
            log.warning("teaching cannot read the MNIST replay set: %s", e)
            self._finish(generation, None, "Teaching needs MNIST's training images; this server has none.")
            return
        except Exception as e:
            self._finish(generation, None, f"Teaching failed ({type(e).__name__}: {e}).")
            return
        self._finish(
            generation,
            taught,
            f"Taught on {len(y)} example{'s' * (len(y) != 1)} in {time.monotonic() - started:.1f} s.",
        )

    @callback
    def _finish(self, generation: int, taught: Sequential | None, message: str) -> None:
        if generation != self._generation:
            return  # Forget came first: this network is not wanted any more
        self._worker = None
        self.teach_button.disabled = False
        self.progress.layout.display = "none"
        if taught is None:
            self._say(message, error=True)
            return
        before = self._pad.probabilities
        self._taught = len(self._labels)
        self._pad.use_model(taught, taught=self._taught)  # the current drawing, read by the new network
        change = change_text(before, self._pad.probabilities)
        if change:
            self._say(message, state="taught", detail=change)
            self._change_shown_for = self._pad.network_input
        else:
            self._say(f"{message} Draw a digit to see what it learned.", state="taught")
        self.links.value = ""  # a model saved before is not this one

    @callback
    def forget(self) -> None:
        """Back to the network the pad started with, and no examples; Undo forget can bring them back."""
        self._forgotten = (list(self._images), list(self._labels), self._pad.model, self._taught)
        self._stop_teaching()
        self._images.clear()
        self._labels.clear()
        self._taught = 0
        self._pad.use_model(self._pad.initial_model)
        self._examples_changed(by_forget=True)
        self.undo_forget_button.layout.display = None
        self._say("Forgotten: back to the network the pad started with, and no examples. Undo forget?")

    @callback
    def undo_forget(self) -> None:
        """The examples and the network from before Forget, if nothing changed since."""
        if self._forgotten is None:
            self._say("Nothing to bring back: the examples changed since Forget.", error=True)
            return
        images, labels, model, taught = self._forgotten
        self._forgotten = None
        self._images[:], self._labels[:] = images, labels
        self._taught = taught
        self._pad.use_model(model, taught=taught)
        self._examples_changed()
        self._say(f"Back: your {len(labels)} example{'s' * (len(labels) != 1)} and the network you had.")

    def _stop_teaching(self) -> None:
        """A teaching still running stops at its next progress report, and its result is thrown away."""
        self._generation += 1
        self._worker = None
        self.teach_button.disabled = False
        self.progress.layout.display = "none"

    def _forget_undo_offer(self) -> None:
        self._forgotten = None
        self.undo_forget_button.layout.display = "none"

    # --- files ----------------------------------------------------------------------------------

    def _examples_link(self, data: bytes | None) -> str:
        """The Examples button: a link holding the examples file ``data``, or disabled with none."""
        return download_html(data, files.EXAMPLES_FILE, "Examples", "Save your examples as a file")

    @callback
    def save_model(self) -> None:
        """Save the network reading now as a model file (``mlp.load_model`` reads it), in this click."""
        self.links.value = saved_html(files.model_bytes(self._pad.model), files.MODEL_FILE)

    # --- for the pad ----------------------------------------------------------------------------

    def input_changed(self) -> None:
        """The pad read a new input: the digit buttons work only when there is one to label.

        What teaching changed ("0: 12% → 97%") is about the drawing it was
        measured on: another drawing takes it away.
        """
        disabled = self._pad.network_input is None
        for digit_button in self.digit_buttons:
            digit_button.disabled = disabled
        if self._change_shown_for is not None and self._pad.network_input is not self._change_shown_for:
            self._change_shown_for = None
            self.said.value = re.sub(r'<div class="dp-change">.*?</div>', "", self.said.value)

    def _examples_changed(self, *, by_forget: bool = False) -> None:
        """Show the examples, rebuild the Examples link, and keep them in the browser (or forget them there).

        Any change but Forget's own ends the offer to undo it.
        """
        if not by_forget:
            self._forget_undo_offer()
        self.strip.value = examples_html(self._images, self._labels)
        data = files.examples_bytes(*self.arrays()) if self._labels else None  # one file, two uses
        self.save_examples.value = self._examples_link(data)
        self.keeper.value = forget_kept_html() if data is None else keep_html(data)
        self.links.value = ""

    def _say(self, message: str, *, error: bool = False, state: str = "info", detail: str = "") -> None:
        """Tell the learner what teaching did; ``data-state`` (info, teaching, taught, error) is for tests."""
        state = "error" if error else state
        more = f'<div class="dp-change">{html.escape(detail)}</div>' if detail else ""
        self.said.value = f'<div class="dp-said" data-state="{state}">{html.escape(message)}{more}</div>'
