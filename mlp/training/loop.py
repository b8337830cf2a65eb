"""Training: one step of gradient descent, a small loop around it, and hooks to watch and steer the loop.

One step is: take a batch, run it forward, measure the loss, run backward to
get every gradient, let the optimizer move the weights (``train_step``). One
epoch is one pass over the shuffled training set in such steps
(``train_loop``). Everything else a training run may want — validation
figures, early stopping, keeping the best epoch, a progress bar — is a
``Callback``: a small object whose hooks the loop calls at the start and end
of the run, of each epoch and after each step. ``fit`` is the usual call: it
turns its options into those callbacks and runs the loop.

* ``train_step(model, loss, optimizer, x, y, fraction_done)`` → ``(loss, logits)``
* ``train_loop(model, x, y, epochs=..., batch_size=..., optimizer=..., callbacks=[...], step=...)``
* callbacks: ``Validate``, ``StopAtAccuracy``, ``RestoreBest``, ``ShowProgress``
* ``fit(model, x, y, epochs=..., batch_size=..., optimizer=..., validation_data=..., ...)``

Your own step drives the same loop, with the callbacks you choose::

    def my_train_step(model, loss, optimizer, x, y):  # forward, loss, backward, update
        ...
        return batch_loss

    history = train_loop(model, x, y, epochs=3, batch_size=128, optimizer=mlp.SGD(0.1),
                         step=my_train_step, callbacks=[Validate(x_val, y_val), ShowProgress()])

If the loss or the weights become NaN or infinite, the loop puts the model's
weights *and the optimizer's state* (momentum, Adam's moments) back to the
last good point — before training, or the best epoch with ``RestoreBest`` —
and raises ``TrainingDivergedError``: the same optimizer, with a lower
learning rate, can then train on.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from mlp.nn.inputs import as_examples, as_int
from mlp.nn.losses import SoftmaxCrossEntropy, log_softmax
from mlp.nn.network import Sequential
from mlp.nn.optimizers import Optimizer, constant
from mlp.runtime import blas_threads
from mlp.training.progress import ProgressBar
from mlp.training.threads import best_thread_count

Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]
# A step of your own: ``step(model, loss, optimizer, x, y)`` returns the batch's loss (a float),
# or ``(loss, logits)`` to let the loop count the training accuracy too.
Step = Callable[[Sequential, SoftmaxCrossEntropy, Optimizer, np.ndarray, np.ndarray], Any]


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or infinite: the steps were too large and the weights blew up.

    ``history`` holds the figures of the epochs completed before it happened.
    """

    def __init__(self, message: str, history: History) -> None:
        super().__init__(message)
        self.history = history


@dataclass
class History:
    """The record of a training run, epoch by epoch.

    * ``train_loss``, ``train_accuracy``: measured *during* each epoch, on the
      batches as trained (dropout on, augmented images), so not comparable
      with validation figures; accuracy is NaN when a step of your own
      returns only the loss.
    * ``learning_rate``: at each epoch's last step; ``seconds``: each epoch's duration.
    * ``evaluated_at``: the epochs after which ``val_loss``/``val_accuracy``
      (and, when asked, ``clean_train_loss``/``clean_train_accuracy``: the
      training set measured like the validation set, in inference mode, on
      clean images) were measured; 0 is before training. Empty without validation.
    * ``best_epoch``: the epoch of the best validation accuracy (the later one on a tie).
    """

    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    learning_rate: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    evaluated_at: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    clean_train_loss: list[float] = field(default_factory=list)
    clean_train_accuracy: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    threads: int = 1

    @property
    def epochs(self) -> int:
        """How many epochs ran."""
        return len(self.train_loss)

    def plot(self, title: str = "Training history"):  # -> matplotlib Figure
        """Loss and accuracy per epoch, training (during each epoch) against validation."""
        import matplotlib.pyplot as plt

        epochs = np.arange(1, self.epochs + 1)
        fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.5))
        ax_loss.plot(epochs, self.train_loss, "o-", label="training")
        ax_acc.plot(epochs, 100 * np.array(self.train_accuracy), "o-", label="training")
        if self.val_loss:
            ax_loss.plot(self.evaluated_at, self.val_loss, "s-", label="validation")
            ax_acc.plot(self.evaluated_at, 100 * np.array(self.val_accuracy), "s-", label="validation")
        for ax, name in ((ax_loss, "cross-entropy loss"), (ax_acc, "accuracy (%)")):
            ax.set(xlabel="epoch", ylabel=name)
            ax.grid(alpha=0.3)
            ax.legend()
        fig.suptitle(title)
        fig.tight_layout()
        return fig


def evaluate(model: Sequential, x: np.ndarray, y: np.ndarray, batch_size: int = 4096) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``(x, y)``, in inference mode."""
    batch, labels = checked_data(model, x, y, "evaluate")
    batch_size = as_int(batch_size, "batch_size", minimum=1)
    losses, correct = 0.0, 0
    for i in range(0, len(batch), batch_size):
        logits = model.infer(batch[i : i + batch_size])
        target = labels[i : i + batch_size]
        losses -= log_softmax(logits)[np.arange(len(target)), target].sum()
        correct += int(np.sum(logits.argmax(axis=1) == target))
    return float(losses / len(batch)), correct / len(batch)


def checked_data(model: Sequential, x: np.ndarray, y: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` as a batch of the model's dtype and class ids (``mlp.nn.inputs``' one set of rules)."""
    return as_examples(
        x, y, n_features=model.n_inputs, n_classes=model.n_classes, dtype=model.dtype, what=what
    )


def train_step(
    model: Sequential,
    loss: SoftmaxCrossEntropy,
    optimizer: Optimizer,
    x: np.ndarray,
    y: np.ndarray,
    fraction_done: float = 0.0,
) -> tuple[float, np.ndarray]:
    """One step of gradient descent on the batch ``(x, y)``; returns the loss and the logits.

    ``fraction_done`` in [0, 1] is how far training has gone, for the
    optimizer's learning-rate schedule.
    """
    logits = model.forward(x)
    value = loss.forward(logits, y)
    model.backward(loss.backward(), input_grad=False)
    optimizer.step(model.parameters(), fraction_done)
    return value, logits


@dataclass(frozen=True)
class Checkpoint:
    """The weights and the optimizer's state at one point of training, to go back to.

    An optimizer keeps its state in its attributes (``mlp``'s optimizers in a
    table per parameter, a learner's own in dicts): a deep copy of them that
    shares the model's parameters instead of copying them is a snapshot that
    serves every optimizer, and putting it back makes the optimizer exactly
    what it was — no NaN left in a momentum or an Adam moment.
    """

    epoch: int  # 0: before training
    weights: list[np.ndarray]
    optimizer_state: dict[str, Any]

    @classmethod
    def take(cls, model: Sequential, optimizer: Optimizer, epoch: int) -> Checkpoint:
        return cls(epoch, copy_weights(model), _copy_sharing(vars(optimizer), model))

    def restore(self, model: Sequential, optimizer: Optimizer) -> None:
        set_weights(model, self.weights)
        state = vars(optimizer)
        state.clear()
        state.update(_copy_sharing(self.optimizer_state, model))  # a copy: the checkpoint stays usable


def _copy_sharing(state: dict[str, Any], model: Sequential) -> dict[str, Any]:
    """A deep copy of ``state`` in which the model's parameters stay the very same objects."""
    return copy.deepcopy(state, {id(p): p for p in model.parameters()})


@dataclass
class Run:
    """What the hooks see and may change: the run so far and where the loop is in it.

    ``epoch`` counts from 1 (the epoch running, or just ended); ``step`` counts
    the steps done in this epoch; ``samples`` and ``loss_sum`` are this epoch's
    so far. A hook sets ``stop`` to end training after the current epoch, and
    ``fallback`` to the checkpoint a divergence should go back to.
    """

    model: Sequential
    optimizer: Optimizer
    history: History
    callbacks: Sequence[Callback]
    epochs: int
    steps_per_epoch: int
    fallback: Checkpoint
    epoch: int = 0
    step: int = 0
    samples: int = 0
    loss_sum: float = 0.0
    stop: bool = False

    def call(self, hook: str) -> None:
        """Call the hook named ``hook`` (e.g. ``"on_epoch_end"``) of every callback, in order."""
        for callback in self.callbacks:
            getattr(callback, hook)(self)


class Callback:
    """Hooks into ``train_loop``: override the ones you need; the loop calls them in list order."""

    def on_fit_start(self, run: Run) -> None:
        """Before any step: check what you need (raise to refuse before any time is spent)."""

    def on_epoch_start(self, run: Run) -> None:
        pass

    def on_step_end(self, run: Run, loss: float) -> None:
        """After each step, with the batch's loss (called only for callbacks that override it)."""

    def on_epoch_end(self, run: Run) -> None:
        """After each epoch; its ``train_*`` figures are in ``run.history``."""

    def on_fit_end(self, run: Run) -> None:
        """After the last epoch (not after a divergence)."""


def train_loop(
    model: Sequential,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    optimizer: Optimizer,
    callbacks: Sequence[Callback] = (),
    step: Step | None = None,
    seed: int = 0,
    augment: Augment | None = None,
    threads: int | Literal["fastest"] = 1,
) -> History:
    """Train ``model`` in place on ``(x, y)`` for ``epochs`` epochs, calling ``callbacks``; return the record.

    * ``seed`` fixes the shuffling (and the augmentation's randomness);
      ``augment(batch, rng)`` may return a modified copy of each batch.
    * ``step``: your own training step, ``step(model, loss, optimizer, x, y)``
      returning the loss, or ``(loss, logits)``; default ``train_step``. Yours
      is not told how far training has gone, so it needs a constant learning rate.
    * ``threads``: BLAS threads, 1 by default. A different count splits the
      matrix products differently, which changes the last bits of the sums:
      keep it fixed when a rerun must give bit-identical weights. ``"fastest"``
      measures the fastest count first (``mlp.training.threads.best_thread_count``).

    Raises ``TrainingDivergedError`` (weights and optimizer put back, see the
    module's docstring) and, before any step, ``ValueError`` for bad input.
    """
    epochs, batch_size = as_int(epochs, "epochs", minimum=1), as_int(batch_size, "batch_size", minimum=1)
    if threads != "fastest":
        threads = _thread_count(threads)
    if step is not None and getattr(optimizer, "schedule", constant) is not constant:
        raise ValueError(
            "a step of your own is not told how far training has gone, so a learning-rate schedule "
            "would never move: give the optimizer a constant learning rate, or use mlp's train_step"
        )
    x, y = checked_data(model, x, y, "training data")
    if threads == "fastest":
        sizes = (*tuple(p.value.shape[0] for p in model.parameters() if p.value.ndim == 2), model.n_classes)
        threads = best_thread_count(sizes, batch_size, str(model.dtype))
    run = Run(
        model=model,
        optimizer=optimizer,
        history=History(threads=threads),
        callbacks=tuple(callbacks),
        epochs=epochs,
        steps_per_epoch=-(-len(x) // batch_size),
        fallback=Checkpoint.take(model, optimizer, epoch=0),
    )
    run.call("on_fit_start")
    one_step = _one_step(model, SoftmaxCrossEntropy(), optimizer, step)
    rng = np.random.default_rng(seed)
    with blas_threads(threads), model.mode(training=True):
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            run.epoch, run.step, run.samples, run.loss_sum = epoch, 0, 0, 0.0
            run.call("on_epoch_start")
            _one_epoch(run, x, y, batch_size, one_step, augment, rng)
            run.call("on_epoch_end")
            run.history.seconds.append(time.perf_counter() - start)
            if run.stop:
                break
    run.call("on_fit_end")
    return run.history


def _thread_count(threads: object) -> int:
    try:
        return as_int(threads, "threads", minimum=1)
    except ValueError as error:
        raise ValueError(f'{error} (or "fastest", to measure the fastest count)') from None


OneStep = Callable[[np.ndarray, np.ndarray, float], tuple[float, np.ndarray | None]]


def _one_step(
    model: Sequential, loss: SoftmaxCrossEntropy, optimizer: Optimizer, step: Step | None
) -> OneStep:
    """``one_step(x, y, fraction_done) -> (loss, logits or None)``: mlp's ``train_step``, or yours."""
    if step is None:
        return lambda xb, yb, fraction_done: train_step(model, loss, optimizer, xb, yb, fraction_done)
    return lambda xb, yb, fraction_done: _loss_and_logits(step(model, loss, optimizer, xb, yb))


def _one_epoch(
    run: Run,
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    one_step: OneStep,
    augment: Augment | None,
    rng: np.random.Generator,
) -> None:
    """One pass over ``(x, y)`` in shuffled batches; its figures go into ``run.history``."""
    step_hooks = [c.on_step_end for c in run.callbacks if type(c).on_step_end is not Callback.on_step_end]
    steps_before, total_steps = (run.epoch - 1) * run.steps_per_epoch, run.epochs * run.steps_per_epoch
    order = rng.permutation(len(x))
    correct: int | None = 0  # None once a step has not returned its logits
    for i in range(run.steps_per_epoch):
        idx = order[i * batch_size : (i + 1) * batch_size]
        xb = x[idx] if augment is None else augment(x[idx], rng)
        fraction_done = (steps_before + i) / total_steps
        value, logits = one_step(xb, y[idx], fraction_done)
        if not math.isfinite(value):
            where = f"epoch {run.epoch}, step {i + 1}/{run.steps_per_epoch}"
            raise _diverged(run, f"the loss became {value} at {where}")
        run.step = i + 1
        run.samples += len(idx)
        run.loss_sum += value * len(idx)
        if logits is None or correct is None:
            correct = None
        else:
            correct += int(np.sum(logits.argmax(axis=1) == y[idx]))
        for hook in step_hooks:
            hook(run, value)
    if not all(np.isfinite(p.value).all() for p in run.model.parameters()):  # the last step's update
        raise _diverged(run, f"the weights became NaN or infinite in epoch {run.epoch}")
    learning_rate = getattr(run.optimizer, "learning_rate", None)  # a learner's optimizer may only have lr
    lr = learning_rate(fraction_done) if callable(learning_rate) else getattr(run.optimizer, "lr", math.nan)
    run.history.learning_rate.append(float(lr))
    run.history.train_loss.append(run.loss_sum / len(x))
    run.history.train_accuracy.append(math.nan if correct is None else correct / len(x))


def _loss_and_logits(result: Any) -> tuple[float, np.ndarray | None]:
    """What a step of your own returned, as ``(loss, logits or None)``, or a ``TypeError`` saying what to."""
    value, logits = result if isinstance(result, tuple) and len(result) == 2 else (result, None)
    try:
        return float(value), logits
    except (TypeError, ValueError):
        raise TypeError(
            f"the training step must return the batch's loss (a float) or (loss, logits), got {result!r:.80}"
        ) from None


def _diverged(run: Run, what: str) -> TrainingDivergedError:
    """Put the weights and the optimizer's state back to ``run.fallback``; say what happened and why."""
    run.fallback.restore(run.model, run.optimizer)
    point = (
        "before training" if run.fallback.epoch == 0 else f"after epoch {run.fallback.epoch}, the best one"
    )
    return TrainingDivergedError(
        f"training diverged: {what}. The steps are too large: lower the learning rate. "
        f"(The model's weights and the optimizer's state are back to what they were {point}: "
        "the same optimizer can train on.)",
        run.history,
    )


class Validate(Callback):
    """Measure ``(x, y)`` in inference mode after every ``every`` epochs (and the last) into the history.

    ``history.best_epoch`` becomes the epoch of the best validation accuracy
    (the later one on a tie: it has trained longer, on smaller steps).
    ``training=(x, y)`` measures that set the same way (``clean_train_*``);
    ``before_training`` adds a measurement at epoch 0.
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        every: int = 1,
        training: tuple[np.ndarray, np.ndarray] | None = None,
        before_training: bool = False,
    ) -> None:
        self.data, self.training = (x, y), training
        self.every = as_int(every, "every", minimum=1)
        self.before_training = before_training
        self.best_accuracy = -1.0

    def on_fit_start(self, run: Run) -> None:
        self.best_accuracy = -1.0
        checked_data(run.model, *self.data, "validation_data")  # now, not after an epoch of training
        if self.training is not None:
            checked_data(run.model, *self.training, "Validate(training=...)")
        if self.before_training:
            self.measure(run, epoch=0)

    def on_epoch_end(self, run: Run) -> None:
        if run.epoch % self.every == 0 or run.epoch == run.epochs:
            self.measure(run, run.epoch)

    def measure(self, run: Run, epoch: int) -> None:
        history = run.history
        val_loss, val_accuracy = evaluate(run.model, *self.data)
        history.evaluated_at.append(epoch)
        history.val_loss.append(val_loss)
        history.val_accuracy.append(val_accuracy)
        if self.training is not None:
            train_loss, train_accuracy = evaluate(run.model, *self.training)
            history.clean_train_loss.append(train_loss)
            history.clean_train_accuracy.append(train_accuracy)
        if epoch > 0 and val_accuracy >= self.best_accuracy:
            self.best_accuracy, history.best_epoch = val_accuracy, epoch


class StopAtAccuracy(Callback):
    """End training once the validation accuracy reaches ``target`` (needs ``Validate`` before it)."""

    def __init__(self, target: float) -> None:
        self.target = float(target)

    def on_fit_start(self, run: Run) -> None:
        _require_validate_before(self, run)

    def on_epoch_end(self, run: Run) -> None:
        history = run.history
        if (
            history.evaluated_at
            and history.evaluated_at[-1] == run.epoch
            and history.val_accuracy[-1] >= self.target
        ):
            run.stop = True


class RestoreBest(Callback):
    """At the end, put back the weights and optimizer state of the best validation epoch.

    Needs ``Validate`` before it. The best epoch is also where a divergence
    goes back to. The test set is never the one to choose with: that would make its figure optimistic.
    """

    def __init__(self) -> None:
        self.best: Checkpoint | None = None

    def on_fit_start(self, run: Run) -> None:
        _require_validate_before(self, run)
        self.best = None

    def on_epoch_end(self, run: Run) -> None:
        if run.history.best_epoch == run.epoch:
            self.best = run.fallback = Checkpoint.take(run.model, run.optimizer, run.epoch)

    def on_fit_end(self, run: Run) -> None:
        if self.best is not None:
            self.best.restore(run.model, run.optimizer)


def _require_validate_before(callback: Callback, run: Run) -> None:
    before = run.callbacks[: run.callbacks.index(callback)]
    if not any(isinstance(c, Validate) for c in before):
        raise ValueError(
            f"{type(callback).__name__} chooses by validation accuracy: put a Validate callback "
            "before it (with fit: pass validation_data)"
        )


class ShowProgress(Callback):
    """A progress bar per epoch (``mlp.training.progress``), then one summary line that stays."""

    def __init__(self) -> None:
        self.bar: ProgressBar | None = None

    def on_epoch_start(self, run: Run) -> None:
        self.bar = ProgressBar(run.steps_per_epoch, f"epoch {run.epoch}/{run.epochs}")

    def on_step_end(self, run: Run, loss: float) -> None:
        self.bar.update(run.step, f"loss {run.loss_sum / run.samples:.4f}")

    def on_epoch_end(self, run: Run) -> None:
        history = run.history
        summary = (
            f"epoch {run.epoch}/{run.epochs}: loss {history.train_loss[-1]:.4f}, "
            f"accuracy {history.train_accuracy[-1]:.2%}"
        )
        if history.evaluated_at and history.evaluated_at[-1] == run.epoch:
            summary += (
                f" · validation loss {history.val_loss[-1]:.4f}, accuracy {history.val_accuracy[-1]:.2%}"
            )
        self.bar.close(f"{summary} · {time.perf_counter() - self.bar.start:.1f} s")


def fit(
    model: Sequential,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    optimizer: Optimizer,
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    seed: int = 0,
    augment: Augment | None = None,
    show_progress: bool = True,
    threads: int | Literal["fastest"] = 1,
    stop_at_accuracy: float | None = None,
    restore_best: bool = False,
) -> History:
    """Train ``model`` in place on ``(x, y)``, return its ``History``: ``train_loop`` with usual callbacks.

    * ``validation_data=(x_val, y_val)``: measured after every epoch (``Validate``);
      then ``stop_at_accuracy`` ends training once the validation accuracy
      reaches it (``StopAtAccuracy``), and ``restore_best`` puts back the
      weights of the epoch with the best validation accuracy (``RestoreBest``).
    * ``show_progress``: a progress bar per epoch (``ShowProgress``).
    * ``seed``, ``augment``, ``threads``: as in ``train_loop``.

    For anything else (your own step, your own callbacks), call ``train_loop``.
    """
    if (stop_at_accuracy is not None or restore_best) and validation_data is None:
        raise ValueError(
            "stop_at_accuracy and restore_best choose by validation accuracy: pass validation_data"
        )
    callbacks: list[Callback] = []
    if validation_data is not None:
        if not (isinstance(validation_data, tuple | list) and len(validation_data) == 2):
            raise ValueError("validation_data must be a pair (x_val, y_val)")
        callbacks.append(Validate(*validation_data))
    if restore_best:
        callbacks.append(RestoreBest())
    if show_progress:
        callbacks.append(ShowProgress())
    if stop_at_accuracy is not None:
        callbacks.append(StopAtAccuracy(stop_at_accuracy))
    return train_loop(
        model,
        x,
        y,
        epochs=epochs,
        batch_size=batch_size,
        optimizer=optimizer,
        callbacks=callbacks,
        seed=seed,
        augment=augment,
        threads=threads,
    )


def copy_weights(model: Sequential) -> list[np.ndarray]:
    return [p.value.copy() for p in model.parameters()]


def set_weights(model: Sequential, weights: list[np.ndarray]) -> None:
    """Write ``weights`` into the model's parameter arrays (in place: the arrays stay the same objects)."""
    for p, w in zip(model.parameters(), weights, strict=True):
        p.value[...] = w
