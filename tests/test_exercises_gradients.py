"""``check_numerical_gradient`` (notebook 02) accepts right answers and names each typical mistake.

Each wrong ``numerical_gradient`` below is one learners really write; each test
asserts the verdict and the words of the diagnosis that point at the fix.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import mlp
from mlp.exercises import check_numerical_gradient
from mlp.exercises.gradient_cases import STEP, Objective

# --- correct answers ---------------------------------------------------------------------------------


def centred(f, w, h=1e-5):
    grad = np.zeros(w.shape)
    for i in np.ndindex(w.shape):
        original = w[i]
        try:
            w[i] = original + h
            f_plus = f()
            w[i] = original - h
            f_minus = f()
        finally:
            w[i] = original
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def centred_with_flat(f, w, h=1e-5):
    """Another right answer: ``w.flat`` writes through to any array, contiguous or not."""
    grad = np.zeros(w.size)
    for k in range(w.size):
        original = w.flat[k]
        try:
            w.flat[k] = original + h
            f_plus = f()
            w.flat[k] = original - h
            f_minus = f()
        finally:
            w.flat[k] = original
        grad[k] = (f_plus - f_minus) / (2 * h)
    return grad.reshape(w.shape)


# --- typical mistakes --------------------------------------------------------------------------------


def one_sided(f, w, h=1e-5):
    grad, f_here = np.zeros(w.shape), f()
    for i in np.ndindex(w.shape):
        original = w[i]
        try:
            w[i] = original + h
            grad[i] = (f() - f_here) / h
        finally:
            w[i] = original
    return grad


def not_restoring(f, w, h=1e-5):
    grad = np.zeros(w.shape)
    for i in np.ndindex(w.shape):
        original = w[i]
        w[i] = original - h
        f_minus = f()
        w[i] = original + h
        grad[i] = (f() - f_minus) / (2 * h)
    return grad


def restoring_by_arithmetic(f, w, h=1e-5):
    grad = np.zeros(w.shape)
    for i in np.ndindex(w.shape):
        w[i] += h
        f_plus = f()
        w[i] -= 2 * h
        f_minus = f()
        w[i] += h  # rounded: not always the original
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def restoring_without_finally(f, w, h=1e-5):
    grad = np.zeros(w.shape)
    for i in np.ndindex(w.shape):
        original = w[i]
        w[i] = original + h
        f_plus = f()
        w[i] = original - h
        f_minus = f()
        w[i] = original
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def swallowing_the_error(f, w, h=1e-5):
    grad = np.zeros(w.shape)
    for i in np.ndindex(w.shape):
        original = w[i]
        try:
            w[i] = original + h
            f_plus = f()
            w[i] = original - h
            f_minus = f()
        except Exception:
            f_plus = f_minus = 0.0
        finally:
            w[i] = original
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def dividing_by_h(f, w, h=1e-5):
    return centred(f, w, h) * 2


def dividing_by_2_times_h(f, w, h=1e-5):
    grad = np.zeros(w.shape)
    for i in np.ndindex(w.shape):
        original = w[i]
        try:
            w[i] = original + h
            f_plus = f()
            w[i] = original - h
            f_minus = f()
        finally:
            w[i] = original
        grad[i] = (f_plus - f_minus) / 2 * h
    return grad


def looping_over_a_flattened_copy(f, w, h=1e-5):
    flat = w.flatten()  # a copy: f never sees what is written into it
    grad = np.zeros(w.size)
    for k in range(w.size):
        original = flat[k]
        try:
            flat[k] = original + h
            f_plus = f()
            flat[k] = original - h
            f_minus = f()
        finally:
            flat[k] = original
        grad[k] = (f_plus - f_minus) / (2 * h)
    return grad.reshape(w.shape)


def looping_over_reshape(f, w, h=1e-5):
    """Right for a contiguous w, whose reshape(-1) is a view; a transpose's is a copy."""
    flat = w.reshape(-1)
    grad = np.zeros(w.size)
    for k in range(w.size):
        original = flat[k]
        try:
            flat[k] = original + h
            f_plus = f()
            flat[k] = original - h
            f_minus = f()
        finally:
            flat[k] = original
        grad[k] = (f_plus - f_minus) / (2 * h)
    return grad.reshape(w.shape)


def converting_w_first(f, w, h=1e-5):
    return centred(f, w.astype(np.float64), h)  # astype copies, even float64 -> float64


def returning_float32(f, w, h=1e-5):
    grad = np.zeros_like(w)  # a float32 w gives a float32 gradient
    grad[...] = centred(f, w, h)
    return grad


def calling_f_with_w(f, w, h=1e-5):
    return centred(lambda: f(w), w, h)


def two_axes_only(f, w, h=1e-5):
    grad = np.zeros(w.shape)
    for i in range(w.shape[0]):
        for j in range(w.shape[1]):
            original = w[i, j]
            try:
                w[i, j] = original + h
                f_plus = f()
                w[i, j] = original - h
                f_minus = f()
            finally:
                w[i, j] = original
            grad[i, j] = (f_plus - f_minus) / (2 * h)
    return grad


def perturbing_whole_rows(f, w, h=1e-5):
    grad = np.zeros(w.shape)
    for i in range(len(w)):
        original = w[i].copy()
        try:
            w[i] = original + h
            f_plus = f()
            w[i] = original - h
            f_minus = f()
        finally:
            w[i] = original
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def filling_w_itself(f, w, h=1e-5):
    grad = w  # the same array: each entry written over w
    for i in np.ndindex(w.shape):
        original = w[i]
        try:
            w[i] = original + h
            f_plus = f()
            w[i] = original - h
            f_minus = f()
        finally:
            w[i] = original
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def f_minus_at_w(f, w, h=1e-5):
    grad = np.zeros(w.shape)
    for i in np.ndindex(w.shape):
        original = w[i]
        try:
            w[i] = original + h
            f_plus = f()
            w[i] = original  # forgot the - h
            f_minus = f()
        finally:
            w[i] = original
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def not_written(f, w, h=1e-5):
    raise NotImplementedError


MISTAKES = {
    "one-sided difference": (one_sided, ["relative error 4.5e-6", "threshold 1e-7", "one-sided"]),
    "not restoring w": (not_restoring, ["w was not restored", "+h = +1e-5"]),
    "restoring by arithmetic": (restoring_by_arithmetic, ["not exactly as it was", "save"]),
    "not restoring when f raises": (
        restoring_without_finally,
        ["when f raised", "left perturbed", "finally"],
    ),
    "swallowing f's exception": (swallowing_the_error, ["when f raised", "do not catch"]),
    "dividing by h": (dividing_by_h, ["relative error 0.33", "twice", "2 * h"]),
    "writing / 2 * h": (dividing_by_2_times_h, ["relative error 1", "/ (2 * h)"]),
    "looping over a flattened copy": (looping_over_a_flattened_copy, ["all 0", "never saw", "w.flatten()"]),
    "reshape(-1) of a transposed view": (looping_over_reshape, ["transposed view", "all 0", "w.reshape(-1)"]),
    "perturbing a converted copy": (converting_w_first, ["all 0", "w.astype(...)"]),
    "returning float32": (returning_float32, ["float32 w", "np.zeros_like(w) copies", "float64"]),
    "calling f(w)": (calling_f_with_w, ["f takes none", "call f()"]),
    "a loop for 2-D arrays only": (two_axes_only, ["1-D w", "IndexError", "np.ndindex(w.shape)"]),
    "perturbing whole rows": (perturbing_whole_rows, ["whole row", "np.ndindex(w.shape)"]),
    "filling w with the gradient": (filling_w_itself, ["shares memory with w", "np.zeros(w.shape)"]),
    "f_minus evaluated at w": (f_minus_at_w, ["half the gradient", "original - h"]),
    "sign flipped": (lambda f, w, h=1e-5: -centred(f, w, h), ["relative error 1", "sign"]),
    "flattened answer": (lambda f, w, h=1e-5: centred(f, w, h).ravel(), ["(3, 4), got (12,)", "w's shape"]),
    "returning None": (lambda f, w, h=1e-5: None, ["returned None", "return grad"]),
    "not written yet": (
        not_written,
        ["not written yet", "First hint:", "one entry of w at a time", ".hint(2)"],
    ),
}


# (mlp.numerical_gradient is not among them: it refuses the float32 w this exercise also hands over.)
@pytest.mark.parametrize("solution", [centred, centred_with_flat])
def test_a_centred_difference_passes_and_shows_its_relative_error(solution, capsys):
    result = check_numerical_gradient(solution)
    assert result.passed, result.message
    assert "relative error 2e-11 at most (threshold 1e-7)" in result.message
    assert capsys.readouterr().out.startswith("✓ numerical_gradient: ")


@pytest.mark.parametrize("mistake", MISTAKES, ids=list(MISTAKES))
def test_a_typical_mistake_gets_a_precise_diagnosis(mistake, capsys):
    wrong, expected_words = MISTAKES[mistake]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a diagnosis, never a RuntimeWarning
        result = check_numerical_gradient(wrong)
    assert not result.passed
    assert result.not_written == (mistake == "not written yet")
    for words in expected_words:
        assert words in result.message, f"{words!r} not in the diagnosis:\n{result.message}"
    assert capsys.readouterr().out.startswith("✎ " if result.not_written else "✗ ")


def test_the_objective_s_exact_gradient_is_right():
    """The checker's answer key, against mlp's own centred differences."""
    w = np.random.default_rng(3).standard_normal((3, 4))
    objective = Objective(w, seed=4)
    np.testing.assert_allclose(mlp.numerical_gradient(objective, w, STEP), objective.gradient(w), rtol=1e-8)


def test_the_objective_notices_a_call_with_arguments_and_can_raise_on_purpose():
    w = np.zeros(2)
    objective = Objective(w, seed=0, raise_on=2)
    with pytest.raises(TypeError):
        objective(w)
    assert objective.called_with_arguments and objective.calls == 0
    objective()
    with pytest.raises(RuntimeError, match="on purpose"):
        objective()


def test_the_checker_leaves_no_trace_and_is_deterministic():
    first = check_numerical_gradient(one_sided, verbose=False)
    assert first == check_numerical_gradient(one_sided, verbose=False)
