"""The training loop and its hooks: fit trains exactly as before it became a loop with callbacks,
a learner's own step drives the loop, callbacks are called in order, one thread unless asked."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import mlp
from mlp.nn.fast import FusedAdam
from mlp.training import Callback, Validate, train_loop
from mlp.training.loop import evaluate

QUIET = {"show_progress": False, "threads": 1}


@pytest.fixture(scope="module")
def small_mnist():
    (x, y), (x_test, y_test) = mlp.load_mnist()
    return (x[:2000], y[:2000]), (x_test[:500], y_test[:500])


def fit_before_the_loop(
    model,
    x,
    y,
    *,
    epochs,
    batch_size,
    optimizer,
    validation_data=None,
    seed=0,
    augment=None,
    stop_at_accuracy=None,
    restore_best=False,
):
    """The arithmetic of ``mlp.fit`` as it was before it became ``train_loop`` + callbacks (commit f977a14).

    A frozen copy, step for step: shuffle with ``default_rng(seed)``, augment
    with the same generator, forward, loss, backward, ``optimizer.step`` with
    the fraction of steps done; validation after each epoch, the best epoch
    the later one on a tie, its weights put back with ``restore_best``. No
    input checks, no progress bar, one BLAS thread. Returns the figures.
    """
    loss = mlp.SoftmaxCrossEntropy()
    steps_per_epoch = -(-len(x) // batch_size)
    total_steps = epochs * steps_per_epoch
    rng = np.random.default_rng(seed)
    figures = {
        "train_loss": [],
        "train_accuracy": [],
        "val_loss": [],
        "val_accuracy": [],
        "learning_rate": [],
    }
    best_weights, best_accuracy, best_epoch = None, -1.0, None
    with threadpool_limits(limits=1, user_api="blas"), model.mode(training=True):
        for epoch in range(epochs):
            order = rng.permutation(len(x))
            loss_sum, correct = 0.0, 0
            for step in range(steps_per_epoch):
                idx = order[step * batch_size : (step + 1) * batch_size]
                xb = x[idx] if augment is None else augment(x[idx], rng)
                done = (epoch * steps_per_epoch + step) / total_steps
                logits = model.forward(xb)
                value = loss.forward(logits, y[idx])
                model.backward(loss.backward(), input_grad=False)
                optimizer.step(model.parameters(), done)
                loss_sum += value * len(idx)
                correct += int(np.sum(logits.argmax(axis=1) == y[idx]))
            figures["learning_rate"].append(optimizer.learning_rate(done))
            figures["train_loss"].append(loss_sum / len(x))
            figures["train_accuracy"].append(correct / len(x))
            if validation_data is not None:
                val_loss, val_accuracy = evaluate(model, *validation_data)
                figures["val_loss"].append(val_loss)
                figures["val_accuracy"].append(val_accuracy)
                if val_accuracy >= best_accuracy:
                    best_accuracy, best_epoch = val_accuracy, epoch + 1
                    if restore_best:
                        best_weights = [p.value.copy() for p in model.parameters()]
            if stop_at_accuracy is not None and figures["val_accuracy"][-1] >= stop_at_accuracy:
                break
    if best_weights is not None:
        for p, w in zip(model.parameters(), best_weights):
            p.value[...] = w
    return {**figures, "best_epoch": best_epoch}


RUNS = {
    "SGD, momentum, linear decay, restore best": (
        lambda: mlp.MLP([784, 32, 10], seed=1),
        lambda: mlp.SGD(0.1, momentum=0.9, schedule=mlp.linear_decay),
        {"restore_best": True},
    ),
    "FusedAdam, weight decay, augmentation, no validation": (
        lambda: mlp.MLP([784, 32, 16, 10], seed=2),
        lambda: FusedAdam(2e-3, weight_decay=1e-4, schedule=mlp.cosine_decay),
        {"augment": mlp.random_affine, "validation_data": None},
    ),
    "Adam, dropout, stop at accuracy": (
        lambda: mlp.MLP([784, 32, 10], dropout=0.2, seed=3),
        lambda: mlp.Adam(1e-3),
        {"stop_at_accuracy": 0.7},
    ),
}


@pytest.mark.parametrize("name", RUNS)
def test_fit_gives_bit_for_bit_the_weights_of_the_fit_before_the_loop(small_mnist, name):
    """Same machine, same thread count, same batches: the refactoring may not change a single bit."""
    (x, y), val = small_mnist
    new_model, new_optimizer, options = RUNS[name]
    options = {"validation_data": val, **options}
    old_model, old_optimizer = new_model(), new_optimizer()
    expected = fit_before_the_loop(
        old_model, x, y, epochs=3, batch_size=50, optimizer=old_optimizer, seed=4, **options
    )
    model = new_model()
    history = mlp.fit(
        model, x, y, epochs=3, batch_size=50, optimizer=new_optimizer(), seed=4, **options, **QUIET
    )
    for p, q in zip(model.parameters(), old_model.parameters(), strict=True):
        np.testing.assert_array_equal(p.value, q.value)
    assert {key: getattr(history, key) for key in expected} == expected
    if options.get("stop_at_accuracy"):
        assert history.epochs < 3, "the run to compare stops early"


def learners_train_step(model, loss, optimizer, x, y):
    """What notebook 05 has a learner write: forward, loss, backward, step; return the loss."""
    logits = model.forward(x)
    value = loss.forward(logits, y)
    model.backward(loss.backward())
    optimizer.step(model.parameters())
    return value


def test_a_learners_own_train_step_drives_the_loop(small_mnist):
    (x, y), val = small_mnist
    theirs, ours = mlp.MLP([784, 16, 10], seed=0), mlp.MLP([784, 16, 10], seed=0)
    history = train_loop(
        theirs,
        x,
        y,
        epochs=2,
        batch_size=64,
        optimizer=mlp.SGD(0.1),
        step=learners_train_step,
        callbacks=[Validate(*val)],
        seed=3,
    )
    reference = mlp.fit(
        ours, x, y, epochs=2, batch_size=64, optimizer=mlp.SGD(0.1), seed=3, validation_data=val, **QUIET
    )
    for p, q in zip(theirs.parameters(), ours.parameters(), strict=True):
        np.testing.assert_array_equal(p.value, q.value)  # the same steps, on the same batches
    assert history.train_loss == reference.train_loss and history.val_accuracy == reference.val_accuracy
    assert all(math.isnan(a) for a in history.train_accuracy), "no logits returned: no training accuracy"


def test_a_step_that_returns_its_logits_gets_a_training_accuracy(small_mnist):
    (x, y), _ = small_mnist

    def step(model, loss, optimizer, xb, yb):
        return mlp.training.train_step(model, loss, optimizer, xb, yb)

    history = train_loop(
        mlp.MLP([784, 16, 10], seed=0), x, y, epochs=1, batch_size=64, optimizer=mlp.SGD(), step=step
    )
    reference = mlp.fit(
        mlp.MLP([784, 16, 10], seed=0), x, y, epochs=1, batch_size=64, optimizer=mlp.SGD(), **QUIET
    )
    assert history.train_accuracy == reference.train_accuracy and 0 < history.train_accuracy[0] <= 1


def test_a_learners_step_is_refused_with_a_schedule_it_would_never_move():
    x, y = np.zeros((4, 784), np.float32), np.arange(4)
    with pytest.raises(ValueError, match="constant learning rate"):
        train_loop(
            mlp.MLP([784, 4, 10]),
            x,
            y,
            epochs=1,
            batch_size=2,
            optimizer=mlp.SGD(schedule=mlp.linear_decay),
            step=learners_train_step,
        )


def test_a_step_that_returns_no_loss_is_told_what_to_return():
    x, y = np.zeros((4, 784), np.float32), np.arange(4)
    with pytest.raises(TypeError, match=r"must return the batch's loss \(a float\) or \(loss, logits\)"):
        train_loop(
            mlp.MLP([784, 4, 10]), x, y, epochs=1, batch_size=2, optimizer=mlp.SGD(), step=lambda *args: None
        )


class Recorder(Callback):
    def __init__(self, log, name, stop_after=None):
        self.log, self.name, self.stop_after = log, name, stop_after

    def on_fit_start(self, run):
        self.log.append((self.name, "fit start"))

    def on_epoch_start(self, run):
        self.log.append((self.name, f"epoch {run.epoch} start"))

    def on_step_end(self, run, loss):
        self.log.append((self.name, f"step {run.step}"))

    def on_epoch_end(self, run):
        self.log.append((self.name, f"epoch {run.epoch} end, {run.history.epochs} in history"))
        if run.epoch == self.stop_after:
            run.stop = True

    def on_fit_end(self, run):
        self.log.append((self.name, "fit end"))


def test_the_hooks_are_called_in_order_and_a_hook_can_stop_training():
    x, y = np.zeros((4, 784), np.float32), np.arange(4)
    log = []
    history = train_loop(
        mlp.MLP([784, 4, 10]),
        x,
        y,
        epochs=5,
        batch_size=2,
        optimizer=mlp.SGD(),
        callbacks=[Recorder(log, "a", stop_after=2), Recorder(log, "b")],
    )
    expected = [("a", "fit start"), ("b", "fit start")]
    for epoch in (1, 2):
        expected += [("a", f"epoch {epoch} start"), ("b", f"epoch {epoch} start")]
        expected += [("a", "step 1"), ("b", "step 1"), ("a", "step 2"), ("b", "step 2")]
        expected += [(n, f"epoch {epoch} end, {epoch} in history") for n in "ab"]
    expected += [("a", "fit end"), ("b", "fit end")]
    assert log == expected
    assert history.epochs == 2 and len(history.seconds) == 2


def test_choosing_by_validation_needs_a_validate_callback_before_it():
    x, y = np.zeros((4, 784), np.float32), np.arange(4)
    for chooser in (mlp.training.RestoreBest(), mlp.training.StopAtAccuracy(0.9)):
        with pytest.raises(ValueError, match="put a Validate callback before it"):
            train_loop(
                mlp.MLP([784, 4, 10]),
                x,
                y,
                epochs=1,
                batch_size=2,
                optimizer=mlp.SGD(),
                callbacks=[chooser, Validate(x, y)],
            )


def test_one_thread_unless_the_fastest_count_is_asked_for(monkeypatch):
    asked = []

    def measured(sizes, batch_size, dtype):
        asked.append((sizes, batch_size, dtype))
        return 2

    monkeypatch.setattr(mlp.training.loop, "best_thread_count", measured)
    x, y = np.zeros((4, 784), np.float32), np.arange(4)
    options = {"epochs": 1, "batch_size": 2, "optimizer": mlp.SGD(), "show_progress": False}
    assert mlp.fit(mlp.MLP([784, 8, 10]), x, y, **options).threads == 1
    assert asked == [], "nothing is measured unless asked"
    assert mlp.fit(mlp.MLP([784, 8, 10]), x, y, threads="fastest", **options).threads == 2
    assert asked == [((784, 8, 10), 2, "float32")]
    with pytest.raises(ValueError, match="threads must be an integer >= 1"):
        mlp.fit(mlp.MLP([784, 8, 10]), x, y, threads="many", **options)


def test_show_progress_ends_each_epoch_with_a_summary_line(small_mnist, capsys):
    (x, y), val = small_mnist
    mlp.fit(
        mlp.MLP([784, 8, 10]),
        x,
        y,
        epochs=2,
        batch_size=500,
        optimizer=mlp.SGD(),
        validation_data=val,
        threads=1,
    )
    lines = capsys.readouterr().err.split("\n")
    assert len(lines) == 3 and lines[-1] == "", "one line that stays per epoch"
    for epoch, line in enumerate(lines[:2], start=1):
        summary = line.rsplit("\r", 1)[-1]
        assert re.match(rf"epoch {epoch}/2: loss \d\.\d{{4}}, accuracy \d+\.\d\d% · validation loss", summary)
