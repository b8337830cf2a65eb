"""Learning curves measured fairly: training and validation figures on clean images, in inference mode.

``fit``'s ``History.train_accuracy`` is measured *during* each epoch, on the
batches as trained: with dropout on and, with augmentation, on the
transformed images. That is not comparable with a validation figure. To see
overfitting, and what a regulariser does to it, notebook 06 measures both
sets the same way: after every few epochs, the clean training images and the
validation images, dropout off (``mlp.evaluate``).

* ``train_with_curves(model, optimizer, x, y, validation_data, epochs=...)`` trains
  and returns the ``Curves``;
* ``plot_curves({name: curves})`` draws loss and accuracy, training dashed and
  validation solid, one colour per run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from mlp.nn.network import Sequential
from mlp.nn.optimizers import Optimizer, constant
from mlp.training.loop import Augment, evaluate, fit


@dataclass
class Curves:
    """Loss and accuracy on the training and validation sets, measured after each of ``epochs``."""

    epochs: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)

    def measure(
        self,
        epoch: int,
        model: Sequential,
        train: tuple[np.ndarray, np.ndarray],
        validation: tuple[np.ndarray, np.ndarray],
    ) -> None:
        """Append the figures of ``model`` after ``epoch`` epochs (inference mode, clean images)."""
        train_loss, train_accuracy = evaluate(model, *train)
        val_loss, val_accuracy = evaluate(model, *validation)
        self.epochs.append(epoch)
        self.train_loss.append(train_loss)
        self.train_accuracy.append(train_accuracy)
        self.val_loss.append(val_loss)
        self.val_accuracy.append(val_accuracy)

    @property
    def best_val_accuracy(self) -> float:
        return max(self.val_accuracy)


def train_with_curves(
    model: Sequential,
    optimizer: Optimizer,
    x: np.ndarray,
    y: np.ndarray,
    validation_data: tuple[np.ndarray, np.ndarray],
    *,
    epochs: int,
    every: int = 1,
    batch_size: int = 100,
    augment: Augment | None = None,
    seed: int = 0,
) -> Curves:
    """Train ``model`` in place for ``epochs`` epochs, measuring both sets before and every ``every`` epochs.

    Each epoch is one call of ``mlp.fit`` (seeded ``seed + epoch``: a new
    shuffle, new augmentations), so the optimizer's state carries on from one
    epoch to the next. A learning-rate schedule would restart at every call,
    so only the constant schedule is accepted.
    """
    if optimizer.schedule is not constant:
        raise ValueError("train_with_curves trains one epoch per fit call: use a constant learning rate")
    if epochs < 1 or every < 1:
        raise ValueError(f"need epochs >= 1 and every >= 1, got {epochs} and {every}")
    curves = Curves()
    curves.measure(0, model, (x, y), validation_data)
    for epoch in range(1, epochs + 1):
        fit(
            model,
            x,
            y,
            epochs=1,
            batch_size=batch_size,
            optimizer=optimizer,
            seed=seed + epoch,
            augment=augment,
            progress=False,
            threads=1,
        )
        if epoch % every == 0 or epoch == epochs:
            curves.measure(epoch, model, (x, y), validation_data)
    return curves


def plot_curves(runs: Mapping[str, Curves], title: str = "Training (dashed) against validation (solid)"):
    """Cross-entropy and accuracy per epoch for each run; returns the matplotlib Figure.

    Both axes are linear and zoomed on where the runs end, so that a validation
    loss climbing back from its minimum is visible; training losses head for 0.
    """
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_accuracy) = plt.subplots(1, 2, figsize=(11, 4))
    for k, (name, curves) in enumerate(runs.items()):
        colour = f"C{k}"
        ax_loss.plot(curves.epochs, curves.train_loss, "--", color=colour, lw=1.2)
        ax_loss.plot(curves.epochs, curves.val_loss, "-", color=colour, lw=2, label=name)
        ax_accuracy.plot(curves.epochs, 100 * np.array(curves.train_accuracy), "--", color=colour, lw=1.2)
        ax_accuracy.plot(
            curves.epochs, 100 * np.array(curves.val_accuracy), "-", color=colour, lw=2, label=name
        )
    highest_loss = max(curves.val_loss[-1] for curves in runs.values())
    lowest_accuracy = min(curves.val_accuracy[-1] for curves in runs.values())
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", ylim=(0, 1.6 * highest_loss), title="loss")
    ax_accuracy.set(
        xlabel="epoch", ylabel="accuracy (%)", ylim=(100 * lowest_accuracy - 8, 100.5), title="accuracy"
    )
    for ax in (ax_loss, ax_accuracy):
        ax.grid(alpha=0.3)
    ax_accuracy.legend(fontsize=8, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
