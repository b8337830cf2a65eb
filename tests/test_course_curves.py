"""mlp.course.curves measures training and validation alike, and draws what it measured."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import mlp
from mlp.course.curves import plot_curves, train_with_curves


def toy_data(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian blobs in 8 dimensions: easy to fit, a little noisy."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.standard_normal((n, 8)).astype(np.float32) + 1.5 * y[:, None].astype(np.float32)
    return x, y


def test_the_curves_are_the_figures_of_the_model_in_inference_mode():
    x, y = toy_data(0, 64)
    validation = toy_data(1, 200)
    model = mlp.MLP([8, 16, 2], dropout=0.5, seed=0)
    curves = train_with_curves(model, mlp.Adam(1e-2), x, y, validation, epochs=5, every=2, batch_size=16)
    assert curves.evaluated_at == [0, 2, 4, 5] and curves.epochs == 5
    # The last point is the trained model measured cleanly, as mlp.evaluate does it (dropout off).
    assert (curves.clean_train_loss[-1], curves.clean_train_accuracy[-1]) == mlp.evaluate(model, x, y)
    assert (curves.val_loss[-1], curves.val_accuracy[-1]) == mlp.evaluate(model, *validation)
    assert all(layer.training for layer in model.layers), "training mode is restored"
    assert curves.clean_train_loss[-1] < curves.clean_train_loss[0], "it trained"
    assert curves.best_epoch in (2, 4, 5) and curves.val_accuracy[
        curves.evaluated_at.index(curves.best_epoch)
    ] == max(curves.val_accuracy[1:])


@pytest.mark.parametrize("schedule", [mlp.constant, mlp.linear_decay], ids=["constant", "linear decay"])
def test_the_curves_come_from_one_training_run_the_same_as_fit(schedule):
    """One run of the loop, not one fit per epoch: the same weights as mlp.fit, and a schedule works."""
    x, y = toy_data(0, 64)
    validation = toy_data(1, 100)
    runs = [
        train_with_curves(
            mlp.MLP([8, 4, 2], seed=3),
            mlp.SGD(0.1, momentum=0.9, schedule=schedule),
            x,
            y,
            validation,
            epochs=3,
        )
        for _ in range(2)
    ]
    first, second = ({**vars(run), "seconds": None} for run in runs)
    assert first == second, "reproducible, all but the clock"
    model = mlp.MLP([8, 4, 2], seed=3)
    history = mlp.fit(
        model,
        x,
        y,
        epochs=3,
        batch_size=100,
        optimizer=mlp.SGD(0.1, momentum=0.9, schedule=schedule),
        show_progress=False,
        threads=1,
    )
    assert runs[0].train_loss == history.train_loss and runs[0].learning_rate == history.learning_rate
    assert mlp.evaluate(model, *validation) == (runs[0].val_loss[-1], runs[0].val_accuracy[-1])
    if schedule is mlp.linear_decay:
        assert history.learning_rate[0] > history.learning_rate[-1], "the schedule moved"


def test_bad_epochs_are_refused():
    x, y = toy_data(0, 16)
    for bad in ({"epochs": 0}, {"epochs": 2, "every": 0}):
        with pytest.raises(ValueError, match="must be an integer >= 1"):
            train_with_curves(mlp.MLP([8, 2]), mlp.Adam(), x, y, (x, y), **bad)


def test_the_plot_draws_training_dashed_and_validation_solid_for_every_run():
    curves = mlp.History(
        evaluated_at=[0, 1, 2],
        clean_train_loss=[2.0, 1.0, 0.5],
        clean_train_accuracy=[0.1, 0.8, 0.9],
        val_loss=[2.0, 1.1, 0.9],
        val_accuracy=[0.1, 0.7, 0.8],
    )
    fig = plot_curves({"a": curves, "b": curves})
    ax_loss, ax_accuracy = fig.axes
    for ax in fig.axes:
        assert [line.get_linestyle() for line in ax.get_lines()] == ["--", "-", "--", "-"]
    assert ax_loss.get_ylim() == pytest.approx((0, 1.6 * 0.9))
    assert ax_accuracy.get_ylim() == pytest.approx((72, 100.5))
    np.testing.assert_allclose(ax_accuracy.get_lines()[1].get_ydata(), [10, 70, 80])
    assert [t.get_text() for t in ax_accuracy.get_legend().get_texts()] == ["a", "b"]
    matplotlib.pyplot.close(fig)
