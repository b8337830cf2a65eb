"""Training: mini-batch gradient descent, with the figures to see it working.

One step is: take a batch, run it forward, measure the loss, run backward to
get every gradient, let the optimizer move the weights. One epoch is one pass
over the shuffled training set in such steps.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mlp.nn.inputs import as_batch, as_int
from mlp.nn.losses import SoftmaxCrossEntropy, as_class_indices, log_softmax
from mlp.nn.network import Sequential
from mlp.nn.optimizers import Optimizer
from mlp.runtime import blas_threads
from mlp.training.progress import ProgressBar
from mlp.training.threads import best_thread_count

Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or infinite: the steps were too large and the weights blew up."""


@dataclass
class History:
    """Per-epoch figures of a training run; ``val_*`` stay empty without validation data."""

    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    learning_rate: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    threads: int = 1

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    def plot(self, title: str = "Training history"):  # -> matplotlib Figure
        """Loss and accuracy per epoch, training against validation."""
        import matplotlib.pyplot as plt

        epochs = np.arange(1, self.epochs + 1)
        fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.5))
        ax_loss.plot(epochs, self.train_loss, "o-", label="training")
        ax_acc.plot(epochs, 100 * np.array(self.train_accuracy), "o-", label="training")
        if self.val_loss:
            ax_loss.plot(epochs, self.val_loss, "s-", label="validation")
            ax_acc.plot(epochs, 100 * np.array(self.val_accuracy), "s-", label="validation")
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
    """``(x, y)`` as a batch of the model's dtype and class ids, or a ``ValueError`` saying what is wrong."""
    batch, _ = as_batch(x, model.n_inputs, model.dtype)
    labels = as_class_indices(y, model.n_classes)
    if len(batch) != len(labels):
        raise ValueError(f"{what}: {len(batch)} inputs but {len(labels)} labels")
    if len(batch) == 0:
        raise ValueError(f"{what}: the data is empty (0 samples)")
    return batch, labels


def train_step(
    model: Sequential,
    loss: SoftmaxCrossEntropy,
    optimizer: Optimizer,
    x: np.ndarray,
    y: np.ndarray,
    progress: float,
) -> tuple[float, np.ndarray]:
    """One step of gradient descent on the batch ``(x, y)``; returns the loss and the logits."""
    logits = model.forward(x)
    value = loss.forward(logits, y)
    model.backward(loss.backward(), input_grad=False)
    optimizer.step(model.parameters(), progress)
    return value, logits


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
    progress: bool = True,
    threads: int | None = None,
    stop_at_accuracy: float | None = None,
    restore_best: bool = False,
) -> History:
    """Train ``model`` in place on ``(x, y)`` and return its ``History``.

    * ``seed`` fixes the shuffling (and the augmentation's randomness).
    * ``augment(batch, rng)`` may return a modified copy of each batch.
    * ``threads``: BLAS threads; ``None`` measures which count is fastest
      (``mlp.training.threads.best_thread_count``). A different thread count splits the
      matrix products differently, which changes the last bits of the sums, so
      pass ``threads`` explicitly when a rerun must give bit-identical weights.
    * With ``validation_data``, ``stop_at_accuracy`` ends training once the
      validation accuracy reaches it, and ``restore_best`` puts back the
      weights of the epoch with the best validation accuracy (the later one
      on a tie: it has trained longer, on smaller steps). The test set is
      never the one to choose with: that would make its figure optimistic.
    """
    epochs, batch_size = as_int(epochs, "epochs", minimum=1), as_int(batch_size, "batch_size", minimum=1)
    if threads is not None:
        threads = as_int(threads, "threads", minimum=1)
    if (stop_at_accuracy is not None or restore_best) and validation_data is None:
        raise ValueError(
            "stop_at_accuracy and restore_best choose by validation accuracy: pass validation_data"
        )
    x, y = checked_data(model, x, y, "fit")
    if validation_data is not None:
        if not (isinstance(validation_data, tuple | list) and len(validation_data) == 2):
            raise ValueError("validation_data must be a pair (x_val, y_val)")
        checked_data(model, *validation_data, "validation_data")  # now, not after an epoch of training
    sizes = (*tuple(p.value.shape[0] for p in model.parameters() if p.value.ndim == 2), model.n_classes)
    history = History(threads=threads or best_thread_count(sizes, batch_size, str(model.dtype)))
    rng = np.random.default_rng(seed)
    loss = SoftmaxCrossEntropy()
    steps_per_epoch = -(-len(x) // batch_size)
    total_steps = epochs * steps_per_epoch
    best_weights, best_accuracy = None, -1.0
    weights_before = copy_weights(model)  # put back if training diverges

    with blas_threads(history.threads), model.mode(training=True):
        for epoch in range(epochs):
            start = time.perf_counter()
            bar = ProgressBar(steps_per_epoch, f"epoch {epoch + 1}/{epochs}") if progress else None
            order = rng.permutation(len(x))
            loss_sum, correct = 0.0, 0
            for step in range(steps_per_epoch):
                idx = order[step * batch_size : (step + 1) * batch_size]
                xb = x[idx] if augment is None else augment(x[idx], rng)
                done = (epoch * steps_per_epoch + step) / total_steps
                value, logits = train_step(model, loss, optimizer, xb, y[idx], done)
                if not math.isfinite(value):
                    where = f"epoch {epoch + 1}, step {step + 1}/{steps_per_epoch}"
                    raise diverged(model, weights_before, f"the loss became {value} at {where}")
                loss_sum += value * len(idx)
                correct += int(np.sum(logits.argmax(axis=1) == y[idx]))
                if bar:
                    bar.update(step + 1, f"loss {loss_sum / min(len(x), (step + 1) * batch_size):.4f}")
            if not all(np.isfinite(p.value).all() for p in model.parameters()):  # the last step's update
                raise diverged(
                    model, weights_before, f"the weights became NaN or infinite in epoch {epoch + 1}"
                )
            history.learning_rate.append(optimizer.learning_rate(done))
            history.train_loss.append(loss_sum / len(x))
            history.train_accuracy.append(correct / len(x))
            summary = (
                f"epoch {epoch + 1}/{epochs}: loss {history.train_loss[-1]:.4f}, "
                f"accuracy {history.train_accuracy[-1]:.2%}"
            )
            if validation_data is not None:
                val_loss, val_accuracy = evaluate(model, *validation_data)
                history.val_loss.append(val_loss)
                history.val_accuracy.append(val_accuracy)
                summary += f" · validation loss {val_loss:.4f}, accuracy {val_accuracy:.2%}"
                if val_accuracy >= best_accuracy:
                    best_accuracy, history.best_epoch = val_accuracy, epoch + 1
                    if restore_best:
                        best_weights = copy_weights(model)
            history.seconds.append(time.perf_counter() - start)
            if bar:
                bar.close(f"{summary} · {history.seconds[-1]:.1f} s")
            if stop_at_accuracy is not None and history.val_accuracy[-1] >= stop_at_accuracy:
                break

    if best_weights is not None:
        set_weights(model, best_weights)
    return history


def diverged(model: Sequential, weights_before: list[np.ndarray], what: str) -> TrainingDivergedError:
    """Put the weights back as ``fit`` found them, and say what happened and what to do."""
    set_weights(model, weights_before)
    return TrainingDivergedError(
        f"training diverged: {what}. The steps are too large: lower the learning rate. "
        "(The model's weights are back to what they were before fit.)"
    )


def copy_weights(model: Sequential) -> list[np.ndarray]:
    return [p.value.copy() for p in model.parameters()]


def set_weights(model: Sequential, weights: list[np.ndarray]) -> None:
    """Write ``weights`` into the model's parameter arrays (in place: optimizers keep their state)."""
    for p, w in zip(model.parameters(), weights, strict=True):
        p.value[...] = w
