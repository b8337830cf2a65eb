"""The checkers of notebooks 05–07 (momentum, Adam, confusion matrix, saliency) diagnose typical mistakes.

Each wrong answer below is a mistake learners really make; each test asserts
both the verdict and the words of the diagnosis that point at the fix. The
references the checkers compare with are themselves checked: Adam's against
its bias-corrected definition written out differently, the saliency against
a numerical gradient.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mlp import MLP
from mlp.exercises import (
    ExerciseResult,
    check_adam_step,
    check_confusion_matrix,
    check_saliency,
    check_sgd_momentum,
)
from mlp.exercises.adam import adam_reference
from mlp.exercises.analysis import confusion_counts, saliency_reference
from mlp.nn.gradcheck import numerical_gradient, relative_error

# --- correct answers ---------------------------------------------------------------------------------


def sgd_momentum_step(w, grad, velocity, lr, mu):
    new_velocity = mu * velocity + grad
    return w - lr * new_velocity, new_velocity


def sgd_momentum_step_returning_lists(w, grad, velocity, lr, mu):
    new_w, new_velocity = sgd_momentum_step(w, grad, velocity, lr, mu)
    return [new_w.tolist(), new_velocity.tolist()]


def adam_step(w, grad, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def adam_step_with_folded_corrections(w, grad, m, v, t, lr, beta1, beta2, eps):
    """The same update in the paper's 'more efficient' form, as mlp.Adam computes it."""
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    lr_t = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
    return w - lr_t * m / (np.sqrt(v) + eps * np.sqrt(1 - beta2**t)), m, v


def confusion_matrix(y_true, y_pred, n_classes):
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (y_true, y_pred), 1)
    return counts


def confusion_matrix_by_loop(y_true, y_pred, n_classes):
    counts = [[0] * n_classes for _ in range(n_classes)]
    for true, pred in zip(y_true, y_pred):
        counts[true][pred] += 1
    return counts


def saliency(model, image, cls):
    exact = model.astype(np.float64)
    one_hot = np.zeros((1, model.n_classes))
    one_hot[0, cls] = 1
    with exact.mode(training=False):
        exact.forward(image.astype(np.float64)[None])
        return exact.backward(one_hot)[0]


def saliency_in_float32(model, image, cls):
    """Without the float64 copy: right to float32's precision, which is plenty for a picture."""
    one_hot = np.zeros((1, model.n_classes), dtype=model.dtype)
    one_hot[0, cls] = 1
    with model.mode(training=False):
        model.forward(image[None])
        return model.backward(one_hot)[0]


# --- typical mistakes, each with words the diagnosis must contain ------------------------------------


def _not_written_yet(*args):
    raise NotImplementedError


def _momentum_in_place(w, grad, velocity, lr, mu):
    velocity *= mu
    velocity += grad
    return w - lr * velocity, velocity


def _momentum_moving_w_in_place(w, grad, velocity, lr, mu):
    new_velocity = mu * velocity + grad
    w -= lr * new_velocity
    return w, new_velocity


def _momentum_raising(w, grad, velocity, lr, mu):
    return w @ grad[:2], velocity  # shapes (3,) and (2,) do not match


WRONG_MOMENTUM = {
    "sign error": (lambda w, g, v, lr, mu: (w + lr * (mu * v + g), mu * v + g), ["new_w", "sign error"]),
    "wrong order": (lambda w, g, v, lr, mu: (w - lr * v, mu * v + g), ["new_w", "wrong order"]),
    "lr in the velocity": (
        lambda w, g, v, lr, mu: (w - (mu * v + lr * g), mu * v + lr * g),
        ["new_velocity", "learning rate belongs in the weight update"],
    ),
    "the other convention": (
        lambda w, g, v, lr, mu: (w + (mu * v - lr * g), mu * v - lr * g),
        ["new_velocity", "other convention"],
    ),
    "velocity subtracts the gradient": (
        lambda w, g, v, lr, mu: (w + lr * (mu * v - g), mu * v - g),
        ["new_velocity", "the minus sign comes in the weight update"],
    ),
    "old velocity returned": (lambda w, g, v, lr, mu: (w - lr * (mu * v + g), v), ["old velocity"]),
    "plain SGD": (lambda w, g, v, lr, mu: (w - lr * g, g), ["remember the past", "plain SGD"]),
    "mu on the gradient": (lambda w, g, v, lr, mu: (w - lr * (v + mu * g), v + mu * g), ["mu multiplies"]),
    "lr forgotten in w": (lambda w, g, v, lr, mu: (w - (mu * v + g), mu * v + g), ["multiply the velocity"]),
    "mutating velocity": (_momentum_in_place, ["changed its argument `velocity` in place"]),
    "mutating w": (_momentum_moving_w_in_place, ["changed its argument `w` in place"]),
    "returning only w": (lambda w, g, v, lr, mu: w - lr * (mu * v + g), ["(new_w, new_velocity)"]),
    "returning None": (lambda w, g, v, lr, mu: None, ["returned None"]),
    "not written yet": (_not_written_yet, ["not written yet", "First hint: Two lines"]),
    "wrong shape": (lambda w, g, v, lr, mu: (np.sum(w - lr * g), mu * v + g), ["new_w", "shape"]),
    "NaN": (lambda w, g, v, lr, mu: (w - lr * (mu * v + g) / 0, mu * v + g), ["NaN"]),
    "raising": (_momentum_raising, ["raised ValueError"]),
}


def _adam(**mistake):
    """adam_step with one of the reference's switches flipped (a bias correction left out)."""

    def step(w, grad, m, v, t, lr, beta1, beta2, eps):
        return adam_reference(w, grad, m, v, t, lr, beta1, beta2, eps, **mistake)

    return step


def _adam_eps_inside_sqrt(w, grad, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    return w - lr * (m / (1 - beta1**t)) / np.sqrt(v / (1 - beta2**t) + eps), m, v


def _adam_returning_corrected(w, grad, m, v, t, lr, beta1, beta2, eps):
    new_w, m, v = adam_step(w, grad, m, v, t, lr, beta1, beta2, eps)
    return new_w, m / (1 - beta1**t), v / (1 - beta2**t)


def _adam_mutating_m(w, grad, m, v, t, lr, beta1, beta2, eps):
    m *= beta1
    m += (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    return w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps), m, v


def _adam_counting_from_zero(w, grad, m, v, t, lr, beta1, beta2, eps):
    return adam_step(w, grad, m, v, t - 1, lr, beta1, beta2, eps)


def _adam_sign_error(w, grad, m, v, t, lr, beta1, beta2, eps):
    new_w, m, v = adam_step(w, grad, m, v, t, lr, beta1, beta2, eps)
    return 2 * w - new_w, m, v


def _adam_swapped(w, grad, m, v, t, lr, beta1, beta2, eps):
    new_w, m, v = adam_step(w, grad, m, v, t, lr, beta1, beta2, eps)
    return new_w, v, m


def _adam_m_not_averaged(w, grad, m, v, t, lr, beta1, beta2, eps):
    _, _, v = adam_step(w, grad, m, v, t, lr, beta1, beta2, eps)
    m = beta1 * m + grad
    return w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps), m, v


def _adam_v_not_squared(w, grad, m, v, t, lr, beta1, beta2, eps):
    new_w, m, _ = adam_step(w, grad, m, v, t, lr, beta1, beta2, eps)
    return new_w, m, beta2 * v + (1 - beta2) * grad


def _adam_summed_m(w, grad, m, v, t, lr, beta1, beta2, eps):
    new_w, m, v = adam_step(w, grad, m, v, t, lr, beta1, beta2, eps)
    return new_w, m.sum(), v


def _adam_old_state_for_the_step(w, grad, m, v, t, lr, beta1, beta2, eps):
    step = lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    _, m, v = adam_step(w, grad, m, v, t, lr, beta1, beta2, eps)
    return w - step, m, v


WRONG_ADAM = {
    "no bias correction": (_adam(correct_m=False, correct_v=False), ["new_w", "missing bias correction"]),
    "no bias correction of m": (_adam(correct_m=False), ["missing bias correction", "not m"]),
    "no bias correction of v": (_adam(correct_v=False), ["missing bias correction", "not v"]),
    "eps inside the square root": (_adam_eps_inside_sqrt, ["eps=1e-8 matters", "outside the square root"]),
    "returning m_hat and v_hat": (_adam_returning_corrected, ["new_m", "new_v", "not the bias-corrected"]),
    "mutating m": (_adam_mutating_m, ["changed its argument `m` in place"]),
    "t counted from 0": (_adam_counting_from_zero, ["new_w", "NaN or inf", "t counts from 1"]),
    "sign error": (_adam_sign_error, ["new_w", "sign error"]),
    "swapped m and v": (_adam_swapped, ["order (new_w, new_m, new_v)"]),
    "m without (1 - beta1)": (_adam_m_not_averaged, ["new_m", "(1 - beta1)"]),
    "v of the gradient, not its square": (_adam_v_not_squared, ["new_v", "*squared* gradient"]),
    "m summed to a scalar": (_adam_summed_m, ["new_m", "expected shape (3,), got ()"]),
    "stepping with the old averages": (_adam_old_state_for_the_step, ["wrong order"]),
    "returning two of three": (lambda w, g, m, v, t, *rest: (w, m), ["(new_w, new_m, new_v)", "2 items"]),
    "returning None": (lambda *args: None, ["returned None"]),
    "not written yet": (
        _not_written_yet,
        ["not written yet", "in adam_step", "First hint: Follow the paper"],
    ),
}


def _confusion_by_fancy_index(y_true, y_pred, n_classes):
    counts = np.zeros((n_classes, n_classes))
    counts[y_true, y_pred] += 1
    return counts


def _confusion_transposed(y_true, y_pred, n_classes):
    return confusion_matrix(y_pred, y_true, n_classes)


def _confusion_sized_by_the_labels(y_true, y_pred, n_classes):
    return confusion_matrix(y_true, y_pred, max(y_true.max(), y_pred.max()) + 1)


def _confusion_normalised(y_true, y_pred, n_classes):
    counts = confusion_matrix(y_true, y_pred, n_classes)
    return counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)


def _confusion_sorting_in_place(y_true, y_pred, n_classes):
    order = np.argsort(y_true)
    y_true.sort()
    return confusion_matrix(y_true, y_pred[order], n_classes)


WRONG_CONFUSION = {
    "fancy-index +=": (_confusion_by_fancy_index, ["counts each (true, predicted) pair once", "np.add.at"]),
    "transposed": (_confusion_transposed, ["transposed", "counts[y_true, y_pred]"]),
    "sized by the labels seen": (
        _confusion_sized_by_the_labels,
        ["classes 3 and 4 absent", "expected shape (5, 5), got (3, 3)", "n_classes × n_classes"],
    ),
    "normalised": (_confusion_normalised, ["don't normalise"]),
    "sorting y_true in place": (_confusion_sorting_in_place, ["changed its argument `y_true` in place"]),
    "returning None": (lambda *args: None, ["got None"]),
    "raising": (lambda y_true, y_pred, n: np.zeros(n)[y_true, y_pred], ["raised IndexError"]),
    "not written yet": (_not_written_yet, ["not written yet", "First hint: Start from a zero"]),
}


def _saliency_of_probability(model, image, cls):
    exact = model.astype(np.float64)
    with exact.mode(training=False):
        p = exact.predict_proba(image.astype(np.float64))
        exact.forward(image.astype(np.float64)[None])
        return exact.backward((p[cls] * (np.eye(model.n_classes)[cls] - p))[None])[0]


def _saliency_of_loss(model, image, cls):
    exact = model.astype(np.float64)
    with exact.mode(training=False):
        p = exact.predict_proba(image.astype(np.float64))
        exact.forward(image.astype(np.float64)[None])
        return exact.backward((p - np.eye(model.n_classes)[cls])[None])[0]


def _saliency_in_training_mode(model, image, cls):
    exact = model.astype(np.float64)
    exact.forward(image.astype(np.float64)[None])
    return exact.backward(np.eye(model.n_classes)[cls][None])[0]


def _saliency_leaving_inference_mode(model, image, cls):
    for layer in model.layers:
        layer.training = False
    return saliency(model, image, cls)


def _saliency_changing_weights(model, image, cls):
    model.parameters()[0].value[0, 0] += 1.0
    return saliency(model, image, cls)


def _saliency_mutating_the_image(model, image, cls):
    image[image < 0.1] = 0  # "cleaning up" the background of the caller's image
    return saliency(model, image, cls)


WRONG_SALIENCY = {
    "sign error": (lambda model, image, cls: -saliency(model, image, cls), ["sign error"]),
    "gradient of the probability": (_saliency_of_probability, ["gradient of the probability"]),
    "gradient of the loss": (_saliency_of_loss, ["gradient of the loss"]),
    "dropout left on": (_saliency_in_training_mode, ["wrong values", "inference mode"]),
    "keeping the batch axis": (
        lambda model, image, cls: saliency(model, image, cls)[None],
        ["(1, 784)", "drop the batch axis"],
    ),
    "returning an image": (lambda m, image, cls: saliency(m, image, cls).reshape(28, 28), ["shape (784,)"]),
    "leaving the model in inference mode": (
        _saliency_leaving_inference_mode,
        ["left the model in inference"],
    ),
    "changing the weights": (_saliency_changing_weights, ["changed the model's weights"]),
    "mutating the image": (_saliency_mutating_the_image, ["changed its argument `image` in place"]),
    "returning None": (lambda *args: None, ["got None"]),
    "not written yet": (_not_written_yet, ["not written yet", "First hint: Backward takes any dL/dlogits"]),
}

CHECKERS = {
    "momentum": (check_sgd_momentum, WRONG_MOMENTUM),
    "adam": (check_adam_step, WRONG_ADAM),
    "confusion": (check_confusion_matrix, WRONG_CONFUSION),
    "saliency": (check_saliency, WRONG_SALIENCY),
}
CASES = [(checker, name) for checker, (_, wrong) in CHECKERS.items() for name in wrong]


# --- tests -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "solution"),
    [
        (check_sgd_momentum, sgd_momentum_step),
        (check_sgd_momentum, sgd_momentum_step_returning_lists),
        (check_adam_step, adam_step),
        (check_adam_step, adam_step_with_folded_corrections),
        (check_confusion_matrix, confusion_matrix),
        (check_confusion_matrix, confusion_matrix_by_loop),
        (check_saliency, saliency),
        (check_saliency, saliency_in_float32),
    ],
)
def test_checker_accepts_a_correct_solution(check, solution, capsys):
    result = check(solution)
    assert isinstance(result, ExerciseResult)
    assert result.passed, result.message
    assert capsys.readouterr().out.startswith("✓ ")


@pytest.mark.parametrize(("checker", "mistake"), CASES, ids=[f"{c}: {m}" for c, m in CASES])
def test_checker_rejects_a_typical_mistake_with_a_precise_diagnosis(checker, mistake, capsys):
    check, wrong = CHECKERS[checker]
    fn, expected_words = wrong[mistake]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a dividing-by-zero answer gets a diagnosis, not a RuntimeWarning
        result = check(fn)
    assert not result.passed
    for words in expected_words:
        assert words in result.message, f"{words!r} not in the diagnosis:\n{result.message}"
    printed = capsys.readouterr().out
    assert result.not_written == ("not written yet" in mistake)
    assert printed.startswith("✎ " if result.not_written else "✗ ") and result.message in printed


def test_the_first_adam_step_moves_each_weight_by_about_lr():
    """The hand-computed case the Adam checker starts with, worked out independently."""
    w, grad = np.array([1.0, -1.0, 0.5]), np.array([0.5, -2.0, 0.0])
    new_w, m, v = adam_reference(w, grad, np.zeros(3), np.zeros(3), 1, 0.1, 0.9, 0.999, 1e-8)
    np.testing.assert_allclose(new_w, [0.9, -0.9, 0.5], rtol=1e-7)
    np.testing.assert_allclose(m, [0.05, -0.2, 0.0])
    np.testing.assert_allclose(v, [0.00025, 0.004, 0.0])


def test_the_adam_reference_agrees_with_the_folded_form_over_many_steps():
    rng = np.random.default_rng(0)
    state_a = state_b = (rng.standard_normal(6), np.zeros(6), np.zeros(6))
    for t in range(1, 50):
        grad = rng.standard_normal(6)
        state_a = adam_reference(state_a[0], grad, *state_a[1:], t, 0.01, 0.9, 0.999, 1e-8)
        state_b = adam_step_with_folded_corrections(state_b[0], grad, *state_b[1:], t, 0.01, 0.9, 0.999, 1e-8)
    for a, b in zip(state_a, state_b):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_the_confusion_reference_counts_every_sample_once():
    rng = np.random.default_rng(1)
    y_true, y_pred = rng.integers(0, 7, 500), rng.integers(0, 7, 500)
    counts = confusion_counts(y_true, y_pred, 7)
    assert counts.sum() == 500
    np.testing.assert_array_equal(counts.sum(axis=1), np.bincount(y_true, minlength=7))
    np.testing.assert_array_equal(counts.sum(axis=0), np.bincount(y_pred, minlength=7))
    np.testing.assert_array_equal(counts, confusion_matrix_by_loop(y_true, y_pred, 7))


def test_the_saliency_reference_is_the_numerical_gradient_of_the_logit():
    """Backprop's input gradient equals the centred difference of the class score, pixel by pixel."""
    model = MLP([784, 12, 10], dropout=0.3, seed=4).astype(np.float64)
    image = np.random.default_rng(2).random(784)
    expected = saliency_reference(model, image, 6)

    def logit() -> float:
        with model.mode(training=False):
            return float(model.forward(image[None])[0, 6])

    numeric = numerical_gradient(logit, image)
    assert relative_error(expected, numeric) < 1e-7


def test_an_exception_is_shown_as_one_line():
    def raise_multiline(*args):
        raise ValueError("first line of the problem\nsecond line that must not be shown")

    for check in (check_sgd_momentum, check_adam_step, check_confusion_matrix, check_saliency):
        result = check(raise_multiline, verbose=False)
        assert not result.passed
        assert "raised ValueError: first line of the problem" in result.message
        assert "second line" not in result.message


def test_a_mistake_that_shows_only_after_several_steps_names_the_step():
    calls = 0

    def loses_the_velocity_once(w, grad, velocity, lr, mu):
        nonlocal calls
        calls += 1
        if calls == 3:  # call 1 is the hand case, calls 2 to 6 the chained steps
            velocity = np.zeros_like(velocity)
        return sgd_momentum_step(w, grad, velocity, lr, mu)

    result = check_sgd_momentum(loses_the_velocity_once, verbose=False)
    assert not result.passed
    assert result.message.startswith("at step 2 of 5 with mlp.SGD(lr=0.05, momentum=0.8): new_w")


def test_quiet_checkers_print_nothing(capsys):
    assert check_confusion_matrix(confusion_matrix, verbose=False)
    assert not check_confusion_matrix(_confusion_transposed, verbose=False)
    assert capsys.readouterr().out == ""


def test_checkers_are_deterministic():
    wrong = WRONG_ADAM["no bias correction"][0]
    assert check_adam_step(wrong, verbose=False) == check_adam_step(wrong, verbose=False)
