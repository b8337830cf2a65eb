"""Learning curves measured fairly: training and validation figures on clean images, in inference mode.

``fit``'s ``History.train_accuracy`` is measured *during* each epoch, on the
batches as trained: with dropout on and, with augmentation, on the
transformed images. That is not comparable with a validation figure. To see
overfitting, and what a regulariser does to it, notebook 06 measures both
sets the same way: before training and after every few epochs, the clean
training images and the validation images, dropout off (``mlp.evaluate``).

* ``train_with_curves(model, optimizer, x, y, validation_data, epochs=...)`` trains
  with one ``train_loop`` whose ``Validate`` callback measures both sets, and
  returns its ``History`` (``evaluated_at``, ``clean_train_*`` and ``val_*``);
* ``plot_curves({name: history})`` draws loss and accuracy, training dashed and
  validation solid, one colour per run.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mlp.nn.inputs import as_int
from mlp.nn.network import Sequential
from mlp.nn.optimizers import Optimizer
from mlp.training.loop import Augment, History, Validate, train_loop


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
) -> History:
    """Train ``model`` in place for ``epochs`` epochs, measuring both sets before and every ``every`` epochs.

    One training run (``mlp.training.loop.train_loop``, one BLAS thread), so
    the shuffles, the augmentation and a learning-rate schedule run on from
    epoch to epoch. Its ``History`` holds, at each of ``evaluated_at`` (0,
    ``every``, 2 ``every``, ..., and the last epoch), the clean training
    figures ``clean_train_loss``/``clean_train_accuracy`` and the validation
    figures ``val_loss``/``val_accuracy``.
    """
    epochs, every = as_int(epochs, "epochs", minimum=1), as_int(every, "every", minimum=1)
    measure = Validate(*validation_data, every=every, training=(x, y), before_training=True)
    return train_loop(
        model,
        x,
        y,
        epochs=epochs,
        batch_size=batch_size,
        optimizer=optimizer,
        callbacks=[measure],
        seed=seed,
        augment=augment,
        threads=1,
    )


def plot_curves(runs: Mapping[str, History], title: str = "Training (dashed) against validation (solid)"):
    """Cross-entropy and accuracy per epoch for each run; returns the matplotlib Figure.

    Both axes are linear and zoomed on where the runs end, so that a validation
    loss climbing back from its minimum is visible; training losses head for 0.
    """
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_accuracy) = plt.subplots(1, 2, figsize=(11, 4))
    for k, (name, run) in enumerate(runs.items()):
        colour, epochs = f"C{k}", run.evaluated_at
        ax_loss.plot(epochs, run.clean_train_loss, "--", color=colour, lw=1.2)
        ax_loss.plot(epochs, run.val_loss, "-", color=colour, lw=2, label=name)
        ax_accuracy.plot(epochs, 100 * np.array(run.clean_train_accuracy), "--", color=colour, lw=1.2)
        ax_accuracy.plot(epochs, 100 * np.array(run.val_accuracy), "-", color=colour, lw=2, label=name)
    highest_loss = max(run.val_loss[-1] for run in runs.values())
    lowest_accuracy = min(run.val_accuracy[-1] for run in runs.values())
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
