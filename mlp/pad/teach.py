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
result thrown away. Nothing here ever writes the shipped model file: the
taught network exists in this kernel only, until the learner saves it.
"""

from __future__ import annotations

import contextlib
import html
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import numpy as np

from mlp import runtime
from mlp.nn.network import Sequential
from mlp.pad import files, frontend
from mlp.pad.callbacks import callback
from mlp.pad.layout import box, button, upload_button
from mlp.pad.view import change_text, display_name, examples_html, link_html
from mlp.training.data import DataFileError
from mlp.training.examples import MAX_EXAMPLES, ExamplesFileError, load_examples
from mlp.training.fine_tune import fine_tune
from mlp.training.replay import mnist_replay

if TYPE_CHECKING:
    from mlp.pad.widget import DigitPad

__all__ = ["TeachPanel", "replay_set"]

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


class TeachPanel(widgets.VBox):
    """The correcting and teaching half of a ``DigitPad``: digit buttons, examples, Teach, Forget, files."""

    def __init__(self, pad: DigitPad) -> None:
        super().__init__()
        self.add_class("dp-teach")
        self._pad = pad
        self._lock = pad._lock
        self._images: list[np.ndarray] = []  # (28, 28) float32 each
        self._labels: list[int] = []
        self._generation = 0  # Forget increments it: a teaching from before it is thrown away
        self._worker: runtime.Work | None = None

        tip = "It is a {}: keep this drawing as an example of {}".format
        self.digit_buttons = [button(str(d), tip(d, d), lambda d=d: self.add_example(d)) for d in range(10)]
        self.strip = widgets.HTML(examples_html([], []))
        self.teach_button = button(
            "Teach", "Fine-tune the network on your examples", self.learn, "graduation-cap"
        )
        tip = "Back to the network the pad started with, without your examples"
        self.forget_button = button("Forget", tip, self.forget, "history")
        self.progress = widgets.FloatProgress(min=0, max=1, layout=widgets.Layout(display="none"))
        self.progress.add_class("dp-progress")
        self.said = widgets.HTML()
        tip = "Save your examples as a file"
        self.save_examples_button = button("Examples", tip, self.offer_examples, "download")
        tip = "Save the network as a model file"
        self.save_model_button = button("Model", tip, self.offer_model, "download")
        self.load = upload_button("Load examples", "Load examples saved before (.npz)", ".npz", "dp-load")
        self.load.observe(self._on_load, "value")
        self.links = widgets.HTML()
        self.children = [
            widgets.HTML('<div class="dp-ask">Wrong? Tap what it really is:</div>'),
            box(widgets.HBox, self.digit_buttons, "dp-digits"),
            self.strip,
            box(widgets.HBox, [self.teach_button, self.forget_button], "dp-teach-buttons"),
            self.progress,
            self.said,
            box(widgets.HBox, [self.save_examples_button, self.save_model_button, self.load], "dp-files"),
            self.links,
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
        """Add the examples in ``source``; raises ``ExamplesFileError``/``ValueError`` saying why not."""
        x, y = load_examples(source, name=name)
        with self._lock:
            if len(self._labels) + len(y) > MAX_EXAMPLES:
                raise ValueError(
                    f"{name or source} holds {len(y)} examples; with the {len(self._labels)} the pad has, "
                    f"that is more than the {MAX_EXAMPLES} it keeps"
                )
            self._images.extend(x)
            self._labels.extend(int(label) for label in y)
            self._examples_changed()
            self._say(f"Loaded {len(y)} examples. Teach to learn from them.")
        return len(y)

    @callback
    def _on_load(self, change: dict[str, Any]) -> None:
        if not change["new"]:
            return
        self.load.value = ()  # so that choosing the same file again is noticed
        file = frontend.uploaded_file(change["new"])
        if file is None:  # not what a browser sends
            return
        name = display_name(file[0])
        try:
            self.load_examples(file[1], name=name)
        except (ExamplesFileError, ValueError) as e:
            self._say(f"Cannot use {name}: {e}.", error=True)

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
        self._pad.model = taught
        self._pad._update()  # the current drawing, read by the new network
        change = change_text(before, self._pad.probabilities)
        if change:
            self._say(message, state="taught", detail=change)
        else:
            self._say(f"{message} Draw a digit to see what it learned.", state="taught")
        self.links.value = ""  # a model saved before is not this one

    @callback
    def forget(self) -> None:
        self._generation += 1
        self._worker = None  # a teaching still running stops at its next progress report
        self.teach_button.disabled = False
        self.progress.layout.display = "none"
        self._images.clear()
        self._labels.clear()
        self._pad.model = self._pad.initial_model
        self._pad._update()
        self._examples_changed()
        self._say("Forgotten: back to the network the pad started with, and no examples.")

    # --- files ----------------------------------------------------------------------------------

    @callback
    def offer_examples(self) -> None:
        """A link to the examples file, made now: the bytes go to the page only when asked for."""
        if not self._labels:
            self._say("No examples to save yet.", error=True)
            return
        self.links.value = link_html(files.examples_bytes(*self.arrays()), files.EXAMPLES_FILE)

    @callback
    def offer_model(self) -> None:
        """A link to the current network as a model file (``mlp.load_model`` reads it)."""
        self.links.value = link_html(files.model_bytes(self._pad.model), files.MODEL_FILE)

    # --- for the pad ----------------------------------------------------------------------------

    def input_changed(self) -> None:
        """The pad read a new input: the digit buttons work only when there is one to label."""
        disabled = self._pad.network_input is None
        for digit_button in self.digit_buttons:
            digit_button.disabled = disabled

    def _examples_changed(self) -> None:
        self.strip.value = examples_html(self._images, self._labels)
        self.links.value = ""

    def _say(self, message: str, *, error: bool = False, state: str = "info", detail: str = "") -> None:
        """Tell the learner what teaching did; ``data-state`` (info, teaching, taught, error) is for tests."""
        state = "error" if error else state
        more = f'<div class="dp-change">{html.escape(detail)}</div>' if detail else ""
        self.said.value = f'<div class="dp-said" data-state="{state}">{html.escape(message)}{more}</div>'
