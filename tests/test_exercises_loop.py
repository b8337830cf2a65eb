"""The checker of notebook 05's training step accepts right answers and names the typical wrong ones.

Each wrong step below is a mistake learners make when they first write the
loop; each test asserts the verdict and the words of the diagnosis that
point at the fix.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import mlp
from mlp.exercises import check_train_step
from mlp.exercises.loop import DECOY

# --- correct answers ---------------------------------------------------------------------------------


def train_step(model, loss, x, y, lr):
    logits = model.forward(x)
    value = loss.forward(logits, y)
    model.backward(loss.backward(), input_grad=False)
    for p in model.parameters():
        p.value -= lr * p.grad
    return value


def train_step_rebinding(model, loss, x, y, lr):
    """``p.value = p.value - ...`` makes a new array; the model holds the Parameter, so it is right too."""
    value = loss.forward(model.forward(x), y)
    model.backward(loss.backward())
    for p in model.parameters():
        p.value = p.value - lr * p.grad
    return np.float64(value)


def train_step_with_mlp_sgd(model, loss, x, y, lr):
    value = loss.forward(model.forward(x), y)
    model.backward(loss.backward())
    mlp.SGD(lr).step(model.parameters())
    return value


# --- typical mistakes, each with words the diagnosis must contain ------------------------------------


def _forward_loss_backward(model, loss, x, y):
    value = loss.forward(model.forward(x), y)
    model.backward(loss.backward())
    return value


def _moving_by(factor):
    """A step that moves every parameter by ``-factor(lr, n) * p.grad``."""

    def step(model, loss, x, y, lr):
        value = _forward_loss_backward(model, loss, x, y)
        for p in model.parameters():
            p.value -= factor(lr, len(x)) * p.grad
        return value

    return step


def _no_update(model, loss, x, y, lr):
    return _forward_loss_backward(model, loss, x, y)


def _update_before_backward(model, loss, x, y, lr):
    value = loss.forward(model.forward(x), y)
    for p in model.parameters():
        p.value -= lr * p.grad
    model.backward(loss.backward())
    return value


def _backward_of_the_logits(model, loss, x, y, lr):
    logits = model.forward(x)
    value = loss.forward(logits, y)
    model.backward(logits)
    for p in model.parameters():
        p.value -= lr * p.grad
    return value


def _weights_only(model, loss, x, y, lr):
    value = _forward_loss_backward(model, loss, x, y)
    for layer in model.layers:
        if isinstance(layer, mlp.Dense):
            layer.weight.value -= lr * layer.weight.grad
    return value


def _float64_learning_rate(model, loss, x, y, lr):
    value = _forward_loss_backward(model, loss, x, y)
    for p in model.parameters():
        p.value = p.value - np.float64(lr) * p.grad
    return value


def _returning(what):
    def step(model, loss, x, y, lr):
        logits = model.forward(x)
        value = loss.forward(logits, y)
        model.backward(loss.backward())
        for p in model.parameters():
            p.value -= lr * p.grad
        return what(value, logits, model, loss, x, y)

    return step


def _loss_after_the_step(value, logits, model, loss, x, y):
    return loss.forward(model.forward(x), y)


def _normalising_x_in_place(model, loss, x, y, lr):
    x /= x.max()
    return train_step(model, loss, x, y, lr)


def _arguments_swapped(model, loss, x, y, lr):
    value = loss.forward(y, model.forward(x))  # labels where the logits go
    model.backward(loss.backward())
    return value


def _not_written_yet(model, loss, x, y, lr):
    raise NotImplementedError


WRONG_STEPS = {
    "no update": (_no_update, ["did not move"]),
    "sign error": (_moving_by(lambda lr, n: -lr), ["sign error", "*up* the gradient"]),
    "learning rate forgotten": (_moving_by(lambda lr, n: 1.0), ["forgot the learning rate"]),
    "stepped twice": (_moving_by(lambda lr, n: 2 * lr), ["moved twice"]),
    "divided by the batch size": (_moving_by(lambda lr, n: lr / n), ["divided by the batch size"]),
    "p - onehot without / N": (_moving_by(lambda lr, n: lr * n), ["N times too long", "loss.backward()"]),
    "update before backward": (_update_before_backward, ["stale gradients", "Run backward first"]),
    "backward of the logits": (_backward_of_the_logits, ["given the logits", "dL/dlogits"]),
    "biases forgotten": (_weights_only, ["biases did not"]),
    "float64 learning rate": (_float64_learning_rate, ["float32 parameters into float64", "step 1 of 4"]),
    "returning None": (_returning(lambda value, *rest: None), ["returned None"]),
    "returning (loss, logits)": (
        _returning(lambda value, logits, *rest: (value, logits)),
        ["tuple of 2 items", "only the loss"],
    ),
    "returning the logits": (_returning(lambda value, logits, *rest: logits), ["returned the logits"]),
    "loss after the step": (_returning(_loss_after_the_step), ["after the step", "before the update"]),
    "normalising x in place": (_normalising_x_in_place, ["changed its argument `x` in place"]),
    "arguments swapped": (_arguments_swapped, ["raised ValueError"]),
    "not written yet": (_not_written_yet, ["not written yet", "First hint: The four steps"]),
}


@pytest.mark.parametrize("solution", [train_step, train_step_rebinding, train_step_with_mlp_sgd])
def test_the_checker_accepts_a_correct_step(solution, capsys):
    result = check_train_step(solution)
    assert result.passed, result.message
    assert capsys.readouterr().out.startswith("✓ train_step: ")


@pytest.mark.parametrize("mistake", list(WRONG_STEPS))
def test_the_checker_names_a_typical_mistake(mistake, capsys):
    fn, expected_words = WRONG_STEPS[mistake]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = check_train_step(fn)
    assert not result.passed
    for words in expected_words:
        assert words in result.message, f"{words!r} not in the diagnosis:\n{result.message}"
    assert result.not_written == (mistake == "not written yet")
    assert capsys.readouterr().out.startswith("✎ " if result.not_written else "✗ ")


def test_the_checked_step_is_mlps_own_step():
    """What the checker accepts trains exactly as mlp.training.train_step with mlp.SGD does."""
    rng = np.random.default_rng(0)
    x, y = rng.random((32, 20)).astype(np.float32), rng.integers(0, 5, 32)
    ours, theirs = mlp.MLP([20, 16, 5], seed=1), mlp.MLP([20, 16, 5], seed=1)
    loss, optimizer = mlp.SoftmaxCrossEntropy(), mlp.SGD(0.2)
    for _ in range(3):
        value = train_step(ours, loss, x, y, 0.2)
        expected, _ = mlp.training.train_step(theirs, loss, optimizer, x, y, 0.0)
        assert value == expected
    for a, b in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_array_equal(a.value, b.value)


def test_the_decoy_gradient_is_not_a_real_one():
    """The stale-gradient diagnosis relies on the decoy differing from every real gradient."""
    assert DECOY not in (0.0, 1.0)
    assert (
        check_train_step(_update_before_backward, verbose=False).message
        != check_train_step(_no_update, verbose=False).message
    )
