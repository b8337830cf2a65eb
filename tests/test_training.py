"""fit: reproducible, learns, validates, and refuses bad input before spending any time."""

import io
import re

import numpy as np
import pytest

import mlp
from mlp.training.progress import ProgressBar


@pytest.fixture(scope="module")
def small_mnist():
    (x, y), (x_test, y_test) = mlp.load_mnist()
    return (x[:6000], y[:6000]), (x_test[:2000], y_test[:2000])


def train(data, seed=0, **kwargs):
    (x, y), val = data
    model = mlp.MLP([784, 32, 10], seed=seed)
    options = {
        "epochs": 2,
        "batch_size": 64,
        "optimizer": mlp.Adam(2e-3),
        "threads": 1,
        "show_progress": False,
    }
    history = mlp.fit(model, x, y, validation_data=val, seed=seed, **{**options, **kwargs})
    return model, history


def test_fit_learns_and_records_history(small_mnist):
    _model, history = train(small_mnist)
    assert history.epochs == 2 and len(history.val_accuracy) == 2 and len(history.seconds) == 2
    assert history.train_loss[1] < history.train_loss[0]
    assert history.val_accuracy[-1] > 0.85
    assert history.best_epoch in (1, 2)


def test_same_seed_same_weights(small_mnist):
    a, _ = train(small_mnist, seed=1)
    b, _ = train(small_mnist, seed=1)
    c, _ = train(small_mnist, seed=2)
    assert all(np.array_equal(p.value, q.value) for p, q in zip(a.parameters(), b.parameters()))
    assert not np.array_equal(a.parameters()[0].value, c.parameters()[0].value)


def test_stop_at_accuracy_and_restore_best(small_mnist):
    _, history = train(small_mnist, epochs=5, stop_at_accuracy=0.5)
    assert history.epochs == 1
    model, history = train(small_mnist, epochs=3, restore_best=True)
    _, val_accuracy = mlp.evaluate(model, *small_mnist[1])
    assert val_accuracy == max(history.val_accuracy)


def test_choosing_by_validation_needs_validation_data(small_mnist):
    (x, y), _ = small_mnist
    with pytest.raises(ValueError, match="validation_data"):
        mlp.fit(mlp.MLP([784, 4, 10]), x, y, epochs=1, batch_size=8, optimizer=mlp.SGD(), restore_best=True)


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        (np.zeros((10, 784), np.float32), np.zeros(9, np.int64), "10 inputs but 9 labels"),
        (
            np.zeros((0, 784), np.float32),
            np.zeros(0, np.int64),
            r"training data: no examples \(x has shape \(0, 784\)\)",
        ),
        (np.zeros((10, 784), np.float32), np.zeros((10, 1), np.int64), r"labels\.ravel\(\)"),
        (np.zeros((10, 784), np.float32), np.full((10, 10), 0.1), "soft labels"),
        (np.full((10, 784), 1e39), np.zeros(10, np.int64), "beyond the range of float32"),
        (np.full((10, 784), np.nan, np.float32), np.zeros(10, np.int64), "non-finite"),
        (np.zeros((10, 780), np.float32), np.zeros(10, np.int64), "expected input of shape"),
        (np.zeros((10, 784), np.float32), np.full(10, 12), "0..9"),
    ],
)
def test_fit_rejects_bad_data(x, y, message):
    model = mlp.MLP([784, 4, 10])
    before = [p.value.copy() for p in model.parameters()]
    with pytest.raises(ValueError, match=message):
        mlp.fit(model, x, y, epochs=1, batch_size=4, optimizer=mlp.SGD(), threads=1, show_progress=False)
    assert all(np.array_equal(a, p.value) for a, p in zip(before, model.parameters()))


def test_augmentation_keeps_shape_dtype_and_is_seeded():
    (x, _), _ = mlp.load_mnist()
    batch = x[:16]
    a = mlp.random_affine(batch, np.random.default_rng(0))
    b = mlp.random_affine(batch, np.random.default_rng(0))
    assert a.shape == batch.shape and a.dtype == batch.dtype
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, batch) and a.min() >= 0 and a.max() <= 1
    # zero motion is the identity
    same = mlp.random_affine(batch, np.random.default_rng(0), max_degrees=0, max_scale=0, max_shift=0)
    np.testing.assert_allclose(same, batch, atol=1e-6)


def test_progress_bar_redraws_one_line_and_ends_it():
    out = io.StringIO()
    bar = ProgressBar(10, "epoch 1/1", stream=out)
    bar.update(5, "loss 0.5", force=True)
    bar.close("epoch 1/1: done")
    text = out.getvalue()
    assert text.startswith("\repoch 1/1 [############............]  50% 5/10")
    assert text.endswith("\n") and text.count("\n") == 1


def test_a_tie_on_validation_keeps_the_later_epoch(small_mnist, monkeypatch):
    """With a decaying learning rate the later of two equally good epochs is the more settled one."""
    monkeypatch.setattr(mlp.training.loop, "evaluate", lambda model, x, y: (0.5, 0.9))
    _, history = train(small_mnist, epochs=3, restore_best=True)
    assert history.val_accuracy == [0.9, 0.9, 0.9] and history.best_epoch == 3


def tiny_fit(**overrides):
    x = np.random.default_rng(0).random((40, 784), dtype=np.float32)
    y = np.arange(40) % 10
    options = {"epochs": 1, "batch_size": 8, "optimizer": mlp.SGD(0.1), "show_progress": False, "threads": 1}
    return mlp.fit(mlp.MLP([784, 4, 10]), x, y, **{**options, **overrides})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"batch_size": 0}, "batch_size must be an integer >= 1, got 0"),
        ({"batch_size": -8}, "batch_size must be an integer >= 1, got -8"),
        ({"epochs": 0}, "epochs must be an integer >= 1, got 0"),
        ({"epochs": 2.5}, "epochs must be an integer"),
        ({"threads": 0}, "threads must be an integer >= 1"),
        (
            {"validation_data": (np.zeros((0, 784), np.float32), np.zeros(0, np.int64))},
            r"validation_data: no examples \(x has shape \(0, 784\)\)",
        ),
        (
            {"validation_data": (np.zeros((3, 784), np.float32), np.zeros(2, np.int64))},
            "validation_data: 3 inputs but 2",
        ),
        ({"validation_data": np.zeros((3, 784), np.float32)}, r"a pair \(x_val, y_val\)"),
    ],
)
def test_fit_refuses_bad_arguments_before_training(overrides, message, monkeypatch):
    monkeypatch.setattr(mlp.training.loop, "train_step", pytest.fail)  # not a single step may run
    with pytest.raises(ValueError, match=message):
        tiny_fit(**overrides)


def test_a_diverging_run_stops_at_the_first_non_finite_loss_and_keeps_the_weights(small_mnist, monkeypatch):
    (x, y), _ = small_mnist
    model = mlp.MLP([784, 128, 64, 10], seed=0)
    before = [p.value.copy() for p in model.parameters()]
    losses = []
    real_step = mlp.training.loop.train_step

    def recording_step(*args):
        value, logits = real_step(*args)
        losses.append(value)
        return value, logits

    monkeypatch.setattr(mlp.training.loop, "train_step", recording_step)
    with pytest.raises(mlp.TrainingDivergedError) as info, np.errstate(over="ignore", invalid="ignore"):
        mlp.fit(model, x, y, epochs=3, batch_size=64, optimizer=mlp.SGD(1e6), show_progress=False, threads=1)
    message = str(info.value)
    step = int(re.search(r"loss became nan at epoch 1, step (\d+)/94", message).group(1))
    assert len(losses) == step and np.isnan(losses[-1]) and np.isfinite(losses[:-1]).all()  # the first one
    assert "lower the learning rate" in message
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.value, b)  # nothing lost: the weights fit was given


def test_weights_blown_up_by_the_last_step_are_caught_too():
    class BlowsUpAtTheLastStep(mlp.SGD):
        calls = 0

        def step(self, parameters, progress=0.0):
            super().step(parameters, progress)
            self.calls += 1
            if self.calls == 5:  # 40 samples in batches of 8: the epoch's last step
                parameters[0].value[0, 0] = np.inf

    with pytest.raises(mlp.TrainingDivergedError, match="weights became NaN or infinite in epoch 1"):
        tiny_fit(optimizer=BlowsUpAtTheLastStep(0.1))


@pytest.mark.parametrize(
    "make_optimizer",
    [lambda lr: mlp.SGD(lr, momentum=0.9), mlp.Adam, mlp.FusedAdam],
    ids=["SGD with momentum", "Adam", "FusedAdam"],
)
def test_after_a_divergence_the_same_optimizer_trains_on_with_a_lower_learning_rate(
    small_mnist, make_optimizer
):
    """Issue 15: the momentum or Adam's moments held the NaN, so the refit diverged again at step 2."""
    (x, y), _ = small_mnist
    x, y = x[:1000], y[:1000]
    model, optimizer = mlp.MLP([784, 32, 10], seed=0), make_optimizer(1e30)
    options = {"epochs": 1, "batch_size": 50, "show_progress": False, "threads": 1}
    with (
        pytest.raises(mlp.TrainingDivergedError, match="the same optimizer can train on"),
        np.errstate(over="ignore", invalid="ignore"),
    ):
        mlp.fit(model, x, y, optimizer=optimizer, **options)
    optimizer.lr = 1e-3
    mlp.fit(model, x, y, optimizer=optimizer, **options)  # no TrainingDivergedError
    # The optimizer is back to what it was before the diverging fit, a fresh one: so are the weights.
    fresh_model = mlp.MLP([784, 32, 10], seed=0)
    mlp.fit(fresh_model, x, y, optimizer=make_optimizer(1e-3), **options)
    for p, q in zip(model.parameters(), fresh_model.parameters(), strict=True):
        np.testing.assert_array_equal(p.value, q.value)


def test_a_divergence_after_the_best_epoch_puts_back_the_best_epoch_with_restore_best(small_mnist):
    """Issue 15: restore_best followed by a divergence put back the weights from before fit."""
    (x, y), val = small_mnist
    x, y = x[:2000], y[:2000]
    options = {
        "batch_size": 50,
        "validation_data": val,
        "restore_best": True,
        "show_progress": False,
        "threads": 1,
    }
    # Two good epochs, kept as the best of the two ...
    best = mlp.MLP([784, 32, 10], seed=0)
    good = mlp.fit(best, x, y, epochs=2, optimizer=mlp.SGD(0.1), **options)
    # ... then the same two epochs (the first half of 4: same shuffles, same steps), and a learning rate
    # that blows the weights up in the third.
    model = mlp.MLP([784, 32, 10], seed=0)
    explodes = mlp.SGD(0.1, schedule=lambda fraction_done: 1.0 if fraction_done < 0.5 else 1e30)
    with (
        pytest.raises(mlp.TrainingDivergedError, match=r"(in|at) epoch 3") as info,
        np.errstate(over="ignore", invalid="ignore"),
    ):
        mlp.fit(model, x, y, epochs=4, optimizer=explodes, **options)
    assert f"after epoch {good.best_epoch}, the best one" in str(info.value)
    assert info.value.history.val_accuracy == good.val_accuracy, "the record of the good epochs comes along"
    for p, q in zip(model.parameters(), best.parameters(), strict=True):
        np.testing.assert_array_equal(p.value, q.value)
