"""Holes found in the checkers by trying them as a learner would (issue 14 §4, §5), each closed for its class.

* A wrong answer that was accepted or misdiagnosed now gets its own, named diagnosis.
* No diagnosis can be another mistake's alone: test constants keep mistakes apart (the momentum
  checker's lr = 0.1 = 1 - mu once made the moving-average form look like "lr inside the velocity"),
  and where one case cannot tell two mistakes apart, the diagnosis names both.
* Hints come in two levels: the printed one says what to compute; the code comes from ``result.hint(2)``
  only, never in a message, not even when the learner's code raises.
"""

from __future__ import annotations

import numpy as np
import pytest

import mlp
import mlp.exercises
from mlp.exercises import (
    adam,
    analysis,
    backprop,
    check_adam_step,
    check_centre_by_mass,
    check_confusion_matrix,
    check_dense_backward,
    check_elu_backward,
    check_image_to_vector,
    check_loss_gradient,
    check_network_backward,
    check_numerical_gradient,
    check_replay_batch,
    check_saliency,
    check_sgd_momentum,
    check_softmax,
    check_train_step,
    layers,
    loop,
    loss,
    mnist,
    momentum,
    pad,
    softmax,
    yours,
)
from mlp.exercises.adam import adam_reference
from mlp.exercises.analysis import confusion_counts, saliency_reference
from mlp.exercises.checking import ExerciseResult, hint_for
from mlp.exercises.layers import ELU
from mlp.exercises.loss import loss_gradient_reference
from mlp.exercises.mnist import reference_vector
from mlp.pad.preprocess import CENTRE, FRAME, centre_by_mass

# --- right answers, one per checker ---------------------------------------------------------------


def sgd_momentum_step(w, grad, velocity, lr, mu):
    new_velocity = mu * velocity + grad
    return w - lr * new_velocity, new_velocity


def dense_backward(x, W, grad_out):
    return grad_out @ W.T, x.T @ grad_out, grad_out.sum(axis=0)


def network_backward(layers, grad_logits):
    grad = grad_logits
    for layer in reversed(layers):
        grad = layer.backward(grad)
    return grad


def train_step(model, loss, x, y, lr):
    value = loss.forward(model.forward(x), y)
    model.backward(loss.backward())
    for p in model.parameters():
        p.value -= lr * p.grad
    return value


def replay_batch(x_new, y_new, x_old, y_old, n_new, n_old, rng):
    new = rng.choice(len(x_new), n_new)
    old = rng.choice(len(x_old), n_old, replace=False)
    return np.concatenate([x_new[new], x_old[old]]), np.concatenate([y_new[new], y_old[old]])


RIGHT_ANSWERS = {
    "softmax": (check_softmax, mlp.softmax),
    "sgd_momentum_step": (check_sgd_momentum, sgd_momentum_step),
    "adam_step": (check_adam_step, adam_reference),
    "dense_backward": (check_dense_backward, dense_backward),
    "ELU.backward": (check_elu_backward, ELU),
    "network_backward": (check_network_backward, network_backward),
    "image_to_vector": (check_image_to_vector, reference_vector),
    "confusion_matrix": (check_confusion_matrix, confusion_counts),
    "saliency": (check_saliency, saliency_reference),
    "centre_by_mass": (check_centre_by_mass, lambda patch: centre_by_mass(patch, FRAME, CENTRE)),
    "train_step": (check_train_step, train_step),
    "replay_batch": (check_replay_batch, replay_batch),
    # Notebook 02's answer: mlp.numerical_gradient refuses the float32 w this exercise also hands over.
    "numerical_gradient": (check_numerical_gradient, yours.EXERCISES["numerical_gradient"].reference()),
    "loss_gradient": (check_loss_gradient, loss_gradient_reference),
}


def test_every_checker_has_a_right_answer_here():
    # check_backward_by_hand judges arrays the learner computed in a cell, not a function it runs.
    checkers = {name for name in mlp.exercises.__all__ if name.startswith("check_")} - {
        "check_backward_by_hand"
    }
    assert checkers == {check.__name__ for check, _ in RIGHT_ANSWERS.values()}


@pytest.mark.parametrize("name", list(RIGHT_ANSWERS))
def test_the_right_answers_pass(name):
    check, answer = RIGHT_ANSWERS[name]
    result = check(answer, verbose=False)
    assert result.passed, result.message


# --- §4: no two known mistakes give the same answer at the checkers' test constants ------------------


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-6, atol=1e-9, equal_nan=True))


@pytest.mark.parametrize(
    "name",
    [
        *("softmax", "sgd_momentum_step", "adam_step", "dense_backward", "ELU.backward", "network_backward"),
        *("image_to_vector", "confusion_matrix", "saliency", "centre_by_mass", "loss_gradient"),
    ],
)
def test_no_diagnosis_is_another_mistake_s_alone(name, monkeypatch):
    """Run the checker on a right answer and look at every catalogue of known mistakes it consults.

    A mistake whose answer equals another's, where the right answer differs from both, must get a
    diagnosis that names both: otherwise a learner who made one is told about the other.
    """
    catalogues = []

    def spy(got, default, *, by_value=(), by_shape=None):
        catalogues.append((np.asarray(got, dtype=np.float64), list(by_value)))
        return hint_for(got, default, by_value=by_value, by_shape=by_shape)

    for module in (softmax, momentum, adam, layers, backprop, mnist, analysis, pad, loss):
        monkeypatch.setattr(module, "hint_for", spy)
    check, answer = RIGHT_ANSWERS[name]
    assert check(answer, verbose=False).passed
    assert catalogues, "the checker consulted no catalogue of mistakes"
    for right, catalogue in catalogues:
        wrong = [(np.asarray(a, dtype=np.float64), hint) for a, hint in catalogue]
        wrong = [(a, hint) for a, hint in wrong if not same(a, right)]  # this case cannot tell them
        for i, (a, hint_a) in enumerate(wrong):
            for b, hint_b in wrong[i + 1 :]:
                if hint_a != hint_b and same(a, b):
                    said = hint_for(a, "", by_value=catalogue)
                    assert hint_a in said and hint_b in said, f"two mistakes collide:\n  {hint_a}\n  {hint_b}"


COLLISIONS_AVOIDED_BY_CONSTANTS = ["softmax", "sgd_momentum_step", "dense_backward", "ELU.backward"]


@pytest.mark.parametrize("name", COLLISIONS_AVOIDED_BY_CONSTANTS)
def test_these_checkers_constants_give_every_mistake_its_own_answer(name, monkeypatch):
    catalogues = []

    def spy(got, default, *, by_value=(), by_shape=None):
        catalogues.append((np.asarray(got, dtype=np.float64), list(by_value)))
        return hint_for(got, default, by_value=by_value, by_shape=by_shape)

    for module in (softmax, momentum, layers):
        monkeypatch.setattr(module, "hint_for", spy)
    check, answer = RIGHT_ANSWERS[name]
    assert check(answer, verbose=False).passed
    for right, catalogue in catalogues:
        wrong = [(np.asarray(a, dtype=np.float64), h) for a, h in catalogue]
        wrong = [(a, h) for a, h in wrong if not same(a, right)]
        for i, (a, hint_a) in enumerate(wrong):
            for b, hint_b in wrong[i + 1 :]:
                assert hint_a == hint_b or not same(a, b), f"two mistakes collide:\n  {hint_a}\n  {hint_b}"


def test_no_two_typical_training_steps_move_the_parameters_alike(monkeypatch):
    outcomes = []

    def spy(model, x, y, lr):
        outcome = original(model, x, y, lr)
        outcomes.append(outcome)
        return outcome

    original = loop._outcome
    monkeypatch.setattr(loop, "_outcome", spy)
    assert check_train_step(train_step, verbose=False).passed
    assert len(outcomes) == 1 + loop.CHAINED_STEPS

    def alike(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
        return all(np.allclose(x, y, rtol=1e-5, atol=1e-7) for x, y in zip(a, b))

    for outcome in outcomes:
        moves = [(outcome.expected, "the right step"), *outcome.mistakes]
        for i, (a, what_a) in enumerate(moves):
            for b, what_b in moves[i + 1 :]:
                assert not alike(a, b), f"two steps collide:\n  {what_a}\n  {what_b}"


def test_the_momentum_constants_keep_lr_apart_from_mu_and_one_minus_mu():
    _, _, _, lr, mu = momentum.HAND_STEP
    assert len({lr, mu, 1 - mu, 1.0}) == 4


# --- §4: the holes, one named diagnosis each ----------------------------------------------------------


def shifted_softmax(shift):
    def softmax_fn(logits):
        e = np.exp(logits - shift(logits))
        return e / e.sum(axis=1, keepdims=True)

    return softmax_fn


@pytest.mark.parametrize(
    ("shift", "words"),
    [
        (lambda z: z.min(axis=1, keepdims=True), "you subtracted each row's minimum"),
        (lambda z: z.mean(axis=1, keepdims=True), "you subtracted each row's mean"),
        (lambda z: np.median(z, axis=1, keepdims=True), "contains NaN or inf"),
        (lambda z: 0.5 * (z.max(axis=1, keepdims=True) + z.min(axis=1, keepdims=True)), "NaN or inf"),
    ],
)
def test_softmax_shifted_by_less_than_the_row_maximum_is_rejected(shift, words):
    """Only the maximum makes every exponent <= 0; any smaller shift overflows on a wide enough row."""
    result = check_softmax(shifted_softmax(shift), verbose=False)
    assert not result.passed and words in result.message, result.message
    assert "[0, 0, 0, 1500]" in result.message or "spread" in result.message or "NaN" in result.message


def test_softmax_stable_in_float64_only_is_rejected_on_float32_logits():
    """A shift of the row mean survives float64 rows spread over 1000 but not float32's exp range."""

    def mean_shift_until_float32(logits):
        shift = (
            logits.mean(axis=1, keepdims=True) if logits.dtype == np.float32 else logits.max(1, keepdims=True)
        )
        e = np.exp(logits - shift)
        return e / e.sum(axis=1, keepdims=True)

    result = check_softmax(mean_shift_until_float32, verbose=False)
    assert not result.passed and "float32 rows" in result.message, result.message


def test_momentum_in_moving_average_form_is_named_as_such():
    def ema_momentum(w, grad, velocity, lr, mu):
        new_velocity = mu * velocity + (1 - mu) * grad
        return w - lr * new_velocity, new_velocity

    result = check_sgd_momentum(ema_momentum, verbose=False)
    assert not result.passed
    assert "moving-average form" in result.message, result.message
    assert "belongs in the weight update" not in result.message


def test_dense_backward_with_untransposed_weights_gets_the_shapes_and_a_question():
    def grad_out_at_w(x, W, grad_out):
        return grad_out @ W, x.T @ grad_out, grad_out.sum(axis=0)

    result = check_dense_backward(grad_out_at_w, verbose=False)
    assert not result.passed
    for words in ("x (5, 4), W (4, 3), grad_out (5, 3)", "needs b == c", "must be transposed"):
        assert words in result.message, result.message
    assert "grad_out @ W.T" not in result.message  # the question, not the answer


def test_a_broadcast_error_gets_the_shapes_too():
    def wrong_db_shape(x, W, grad_out):
        return grad_out @ W.T, x.T @ grad_out, grad_out.sum(axis=0) + np.zeros(7)

    result = check_dense_backward(wrong_db_shape, verbose=False)
    assert "the same size on each axis" in result.message, result.message


class ELUWithExpOfEveryInput(ELU):
    """Right values, but np.where computes alpha e^x for every x, and exp(800) overflows."""

    def forward(self, x):
        self._x = x
        return super().forward(x)

    def backward(self, grad_out):
        return grad_out * np.where(self._x > 0, 1.0, self.alpha * np.exp(self._x))


def test_elu_whose_discarded_branch_overflows_is_rejected_as_the_notebook_says():
    result = check_elu_backward(ELUWithExpOfEveryInput, verbose=False)
    assert not result.passed
    assert "the values are right, but np.exp overflowed (exp(800) is inf)" in result.message, result.message


def test_elu_taking_exp_of_the_negative_part_only_passes():
    class ClippedExp(ELUWithExpOfEveryInput):
        def backward(self, grad_out):
            return grad_out * np.where(self._x > 0, 1.0, self.alpha * np.exp(np.minimum(self._x, 0)))

    assert check_elu_backward(ClippedExp, verbose=False).passed


def adam_reordered(eps_hat_scaled: bool):
    """The paper's faster ordering (end of its section 2), with eps_hat = eps or its equivalent."""

    def adam_step(w, grad, m, v, t, lr, beta1, beta2, eps):
        new_m = beta1 * m + (1 - beta1) * grad
        new_v = beta2 * v + (1 - beta2) * grad**2
        lr_t = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
        eps_hat = eps * np.sqrt(1 - beta2**t) if eps_hat_scaled else eps
        return w - lr_t * new_m / (np.sqrt(new_v) + eps_hat), new_m, new_v

    return adam_step


def test_adam_in_the_paper_s_faster_ordering_is_named():
    result = check_adam_step(adam_reordered(eps_hat_scaled=False), verbose=False)
    assert not result.passed
    assert "faster ordering the paper gives" in result.message, result.message
    assert "eps_hat = eps * sqrt(1 - beta2**t)" in result.message


def test_adam_in_the_faster_ordering_with_the_equivalent_eps_hat_passes():
    assert check_adam_step(adam_reordered(eps_hat_scaled=True), verbose=False).passed


def test_replay_drawing_old_rows_with_replacement_is_rejected_and_the_docstring_says_why():
    def old_with_replacement(x_new, y_new, x_old, y_old, n_new, n_old, rng):
        new, old = rng.choice(len(x_new), n_new), rng.choice(len(x_old), n_old)
        return np.concatenate([x_new[new], x_old[old]]), np.concatenate([y_new[new], y_old[old]])

    result = check_replay_batch(old_with_replacement, verbose=False)
    assert not result.passed and "without replacement" in result.message, result.message
    assert "without*" in mlp.exercises.teach.__doc__ and "decision" in mlp.exercises.teach.__doc__


def test_the_train_step_checker_s_learning_rates_keep_two_mistakes_apart():
    """With lr = 0.5, "twice the step" and "forgot the learning rate" were the same move."""

    def no_learning_rate(model, loss, x, y, lr):
        return train_step(model, loss, x, y, 1.0)

    def twice(model, loss, x, y, lr):
        return train_step(model, loss, x, y, 2 * lr)

    assert "forgot the learning rate" in check_train_step(no_learning_rate, verbose=False).message
    assert "moved twice" in check_train_step(twice, verbose=False).message


# --- the result is shown once -------------------------------------------------------------------------


def test_a_printed_result_is_not_displayed_again_as_its_repr(capsys):
    result = check_softmax(mlp.softmax)
    printed = capsys.readouterr().out
    assert printed.startswith("✓ softmax:")
    result._ipython_display_()  # what Jupyter calls when a cell ends with the checker's call
    assert capsys.readouterr().out == ""


def test_a_quiet_result_is_displayed_once_when_asked_for(capsys):
    result = check_softmax(mlp.softmax, verbose=False)
    assert capsys.readouterr().out == ""
    result._ipython_display_()
    assert capsys.readouterr().out.startswith("✓ softmax:")


def test_the_repr_and_equality_are_unchanged_by_the_hints():
    a = ExerciseResult("x", True, "ok", hints=("one", "two"), printed=True)
    assert a == ExerciseResult("x", True, "ok")
    assert repr(a) == "ExerciseResult(name='x', passed=True, message='ok', not_written=False)"


# --- §5: the first hint says what to compute; the code only on request --------------------------------


def stub(*args, **kwargs):
    raise NotImplementedError


def raises(*args, **kwargs):
    raise ValueError("something went wrong")


@pytest.mark.parametrize("name", list(RIGHT_ANSWERS))
def test_every_checker_has_a_conceptual_first_hint_and_code_at_level_two(name, capsys):
    check, _ = RIGHT_ANSWERS[name]
    result = check(stub, verbose=False)
    assert result.not_written
    assert len(result.hints) == 2
    first, code = result.hints
    assert f"First hint: {first}" in result.message and ".hint(2)" in result.message
    assert code not in result.message
    assert "np." not in first, f"the first hint should say what to compute, not the code: {first}"
    assert result.hint(2).endswith(code) and code in capsys.readouterr().out
    assert result.hint(1).endswith(first)


@pytest.mark.parametrize("name", list(RIGHT_ANSWERS))
def test_no_checker_prints_the_code_when_the_learner_s_code_raises(name):
    check, _ = RIGHT_ANSWERS[name]
    result = check(raises, verbose=False)
    assert not result.passed and not result.not_written
    assert "ValueError" in result.message, result.message
    code = result.hints[-1]
    assert code not in result.message
    for fragment in ("p.value -= lr * p.grad", "replace=False);", "np.add.at(counts", "grad_out @ W.T"):
        assert fragment not in result.message, result.message
