"""The layer checkers of notebooks 02–04 accept right answers and diagnose typical wrong ones.

(``check_numerical_gradient`` and ``check_image_to_vector`` have their own files.)

A checker that passed everything would be worse than none, so each wrong
answer below is a mistake learners really make, and each test asserts both
the verdict and the words of the diagnosis that point at the fix.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import mlp
from mlp import gradient_check
from mlp.exercises import (
    ExerciseResult,
    check_dense_backward,
    check_elu_backward,
    check_network_backward,
    check_softmax,
)
from mlp.exercises.backprop import small_network
from mlp.exercises.layers import ELU, ELU_ALPHA
from mlp.nn.gradcheck import numerical_gradient

# --- correct answers ---------------------------------------------------------------------------------


def dense_backward(x, W, grad_out):
    return grad_out @ W.T, x.T @ grad_out, grad_out.sum(axis=0)


def dense_backward_numerically(x, W, grad_out):
    """An independent route to the answer: differentiate sum((x W + b) * grad_out) numerically."""
    x, W, b = x.copy(), W.copy(), np.zeros(W.shape[1])

    def weighted_output():
        return np.sum((x @ W + b) * grad_out)

    return tuple(numerical_gradient(weighted_output, array) for array in (x, W, b))


class LearnerELU(mlp.Layer):
    """The notebook's stub: the forward pass is given, the learner writes backward."""

    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def forward(self, x):
        self._x = x
        self._out = np.where(x > 0, x, self.alpha * np.expm1(np.minimum(x, 0)))
        return self._out

    def backward(self, grad_out):
        raise NotImplementedError


def elu_with(backward):
    """A learner's ELU class whose backward is ``backward(self, grad_out)``."""
    return type("ELU", (LearnerELU,), {"backward": backward})


ELU_FROM_OUTPUT = elu_with(lambda self, g: g * np.where(self._x > 0, 1.0, self._out + self.alpha))
ELU_FROM_INPUT = elu_with(
    lambda self, g: np.where(self._x > 0, g, g * self.alpha * np.exp(np.minimum(self._x, 0)))
)


def softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def softmax_with_python_floats(logits):
    """An independent route: the log-sum-exp, one row at a time, with exactly rounded sums."""
    rows = []
    for row in logits.tolist():
        top = max(row)
        log_total = top + math.log(math.fsum(math.exp(z - top) for z in row))
        rows.append([math.exp(z - log_total) for z in row])
    return np.array(rows)


def network_backward(layers, grad_logits):
    grad = grad_logits
    for layer in reversed(layers):
        grad = layer.backward(grad)
    return grad


# --- typical mistakes, each with words the diagnosis must contain ------------------------------------


def _dense_mutating_grad_out(x, W, grad_out):
    grad_out *= 1.0  # "harmless" in-place scaling, still a mutation
    grad_out[0, 0] += 1.0
    return grad_out @ W.T, x.T @ grad_out, grad_out.sum(axis=0)


def _raise_multiline(*args):
    raise ValueError("first line of the problem\nsecond line that must not be shown")


WRONG_DENSE = {
    "transposed dW": (
        lambda x, W, g: (g @ W.T, g.T @ x, g.sum(axis=0)),
        ["dW", "W's shape", "x.T @ grad_out"],
    ),
    "db not summed over the batch": (
        lambda x, W, g: (g @ W.T, x.T @ g, g),
        ["db", "forget to sum over the batch"],
    ),
    "db summed over the wrong axis": (lambda x, W, g: (g @ W.T, x.T @ g, g.sum(axis=1)), ["db", "axis=0"]),
    "db averaged": (lambda x, W, g: (g @ W.T, x.T @ g, g.mean(axis=0)), ["db", "averaged"]),
    "dW divided by N": (
        lambda x, W, g: (g @ W.T, x.T @ g / len(x), g.sum(axis=0)),
        ["dW", "divided by the batch"],
    ),
    "dx of the wrong shape": (lambda x, W, g: (W @ g.T, x.T @ g, g.sum(axis=0)), ["dx", "x's shape"]),
    "dx with wrong values": (lambda x, W, g: (-(g @ W.T), x.T @ g, g.sum(axis=0)), ["dx", "wrong values"]),
    "NaN in dW": (lambda x, W, g: (g @ W.T, x.T @ g * np.nan, g.sum(axis=0)), ["dW", "NaN"]),
    "in-place mutation of grad_out": (_dense_mutating_grad_out, ["changed its argument `grad_out` in place"]),
    "returning None": (lambda x, W, g: None, ["returned None"]),
    "returning two of three": (lambda x, W, g: (g @ W.T, x.T @ g), ["(dx, dW, db)", "2 items"]),
    "returning one array": (lambda x, W, g: x.T @ g, ["(dx, dW, db)", "array of shape (4, 3)"]),
    "raising": (lambda x, W, g: x @ g, ["raised ValueError", "matmul"]),
    "raising a multi-line error": (_raise_multiline, ["raised ValueError: first line of the problem"]),
}


def _elu_mutating_its_output(self, grad_out):
    slope = self._out
    slope += self.alpha  # also the array that forward returned, which the next layer holds
    slope[self._x > 0] = 1
    return grad_out * slope


def _elu_mutating_grad_out(self, grad_out):
    grad_out *= np.where(self._x > 0, 1.0, self._out + self.alpha)
    return grad_out


def _elu_overflowing(self, grad_out):
    positive = self._x > 0
    return grad_out * (positive + ~positive * self.alpha * np.exp(self._x))  # 0 * exp(800) is NaN


def _elu_changing_forward(self, x):
    self._x, self._out = x, np.maximum(x, 0)
    return self._out


WRONG_ELU = {
    "ReLU's backward": (elu_with(lambda s, g: g * (s._x > 0)), ["ReLU's backward", "alpha e^x"]),
    "derivative without the chain rule": (
        elu_with(lambda s, g: np.where(s._x > 0, 1.0, s._out + s.alpha)),
        ["chain rule"],
    ),
    "forgetting alpha": (
        elu_with(lambda s, g: np.where(s._x > 0, g, g * np.exp(s._x))),
        ["yours is e^x", "0.3"],
    ),
    "output + 1": (elu_with(lambda s, g: np.where(s._x > 0, g, g * (s._out + 1))), ["you added 1"]),
    "the output instead of its slope": (
        elu_with(lambda s, g: np.where(s._x > 0, g, g * s._out)),
        ["output + alpha"],
    ),
    "branches swapped": (
        elu_with(lambda s, g: np.where(s._x > 0, g * s.alpha * np.exp(s._x), g)),
        ["wrong way round"],
    ),
    "multiplying by ELU(x)": (elu_with(lambda s, g: g * s._out), ["not by ELU(x) itself"]),
    "the negative slope everywhere": (elu_with(lambda s, g: g * s.alpha * np.exp(s._x)), ["for x <= 0 only"]),
    "leaky ReLU's slope": (elu_with(lambda s, g: np.where(s._x > 0, g, s.alpha * g)), ["leaky ReLU"]),
    "overflow: 0 * exp(800)": (elu_with(_elu_overflowing), ["x = 800", "inf * 0", "NaN"]),
    "mutating the output forward returned": (
        elu_with(_elu_mutating_its_output),
        ["changed the array that forward returned"],
    ),
    "mutating grad_out": (elu_with(_elu_mutating_grad_out), ["changed its argument `grad_out` in place"]),
    "a broken forward": (
        type("ELU", (ELU_FROM_OUTPUT,), {"forward": _elu_changing_forward}),
        ["forward output", "restore it"],
    ),
    "wrong shape": (
        elu_with(lambda s, g: (g * np.where(s._x > 0, 1.0, s._out + s.alpha)).sum(axis=1)),
        ["expected shape (5, 6), got (5,)", "no summing"],
    ),
    "returning None": (elu_with(lambda s, g: None), ["got None"]),
    "raising": (elu_with(lambda s, g: g @ s._x), ["raised ValueError"]),
    "not written yet": (LearnerELU, ["not written yet", "in ELU.backward"]),
}


def _softmax_naive(z):
    return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)


def _softmax_global_max(z):
    e = np.exp(z - z.max())
    return e / e.sum(axis=1, keepdims=True)


def _softmax_columns(z):
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def _softmax_without_keepdims(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1)


def _softmax_mutating_logits(z):
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _softmax_not_implemented(z):
    raise NotImplementedError


WRONG_SOFTMAX = {
    "naive overflow": (_softmax_naive, ["NaN", "overflows", "Subtract each row's maximum"]),
    "global maximum": (_softmax_global_max, ["NaN", "each row's own maximum"]),
    "normalising the wrong axis": (_softmax_columns, ["yours normalises each column", "axis=1"]),
    "normalising the whole batch": (lambda z: np.exp(z) / np.exp(z).sum(), ["whole batch"]),
    "missing keepdims": (_softmax_without_keepdims, ["raised ValueError", "keepdims=True"]),
    "in-place mutation of logits": (_softmax_mutating_logits, ["changed its argument `logits` in place"]),
    "one number per row": (lambda z: softmax(z).max(axis=1), ["shape (N, C)"]),
    "returning None": (lambda z: None, ["got None"]),
    "not written yet": (_softmax_not_implemented, ["not written yet", "in softmax"]),
}


def _network_forward_order(layers, grad):
    for layer in layers:
        grad = layer.backward(grad)
    return grad


def _network_reversing_the_list(layers, grad):
    layers.reverse()
    return _network_forward_order(layers, grad)


def _network_skipping_activations(layers, grad):
    for layer in reversed(layers):
        if layer.parameters():
            grad = layer.backward(grad)
    return grad


def _network_skipping_first_layer(layers, grad):
    for layer in reversed(layers[1:]):
        grad = layer.backward(grad)
    return grad


def _network_returning_logit_gradient(layers, grad_logits):
    network_backward(layers, grad_logits)
    return grad_logits


def _network_without_return(layers, grad_logits):
    network_backward(layers, grad_logits)


def _network_mutating_grad_logits(layers, grad_logits):
    grad_logits *= 2
    return network_backward(layers, grad_logits)


WRONG_NETWORK = {
    "forward order": (_network_forward_order, ["raised ValueError", "reversed(layers)"]),
    "reversing the list in place": (_network_reversing_the_list, ["changed the list `layers` in place"]),
    "skipping activations": (_network_skipping_activations, ["layers[0].weight.grad: wrong values"]),
    "skipping the first layer": (_network_skipping_first_layer, ["layers[0].weight.grad was never computed"]),
    "returning grad_logits": (_network_returning_logit_gradient, ["not grad_logits"]),
    "returning None": (_network_without_return, ["returned None"]),
    "mutating grad_logits": (_network_mutating_grad_logits, ["changed its argument `grad_logits`"]),
}

CHECKERS = {
    "dense": (check_dense_backward, WRONG_DENSE),
    "elu": (check_elu_backward, WRONG_ELU),
    "softmax": (check_softmax, WRONG_SOFTMAX),
    "network": (check_network_backward, WRONG_NETWORK),
}
CASES = [(checker, name) for checker, (_, wrong) in CHECKERS.items() for name in wrong]


# --- tests -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "solution"),
    [
        (check_dense_backward, dense_backward),
        (check_dense_backward, dense_backward_numerically),
        (check_elu_backward, ELU_FROM_OUTPUT),
        (check_elu_backward, ELU_FROM_INPUT),
        (check_elu_backward, ELU),
        (check_softmax, softmax),
        (check_softmax, softmax_with_python_floats),
        (check_network_backward, network_backward),
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
        warnings.simplefilter("error")  # an overflowing answer gets a diagnosis, not a RuntimeWarning
        result = check(fn)
    assert not result.passed
    assert not result, "an ExerciseResult must be falsy when it failed"
    for words in expected_words:
        assert words in result.message, f"{words!r} not in the diagnosis:\n{result.message}"
    printed = capsys.readouterr().out
    assert result.not_written == ("not written yet" in mistake)
    assert printed.startswith("✎ " if result.not_written else "✗ ") and result.message in printed


def test_an_exception_is_shown_as_one_line():
    result = check_dense_backward(_raise_multiline, verbose=False)
    assert "\n" not in result.message
    assert "second line" not in result.message


def test_every_failing_tensor_is_reported_at_once():
    result = check_dense_backward(lambda x, W, g: (g @ W.T, g.T @ x, g), verbose=False)
    assert "dW:" in result.message and "db:" in result.message and "dx:" not in result.message


def test_quiet_checkers_print_nothing(capsys):
    assert check_elu_backward(ELU_FROM_OUTPUT, verbose=False)
    assert not check_elu_backward(LearnerELU, verbose=False)
    assert capsys.readouterr().out == ""


def test_checkers_are_deterministic():
    wrong = WRONG_NETWORK["skipping activations"][0]
    assert check_network_backward(wrong, verbose=False) == check_network_backward(wrong, verbose=False)


def test_the_network_checker_s_reference_gradients_pass_a_numerical_check():
    """The answers the network checker expects are right, not merely consistent with mlp."""
    rng = np.random.default_rng(0)
    network = small_network()
    x = rng.standard_normal((5, network.n_inputs))
    assert gradient_check(network, x, rng.integers(0, network.n_classes, 5)) < 1e-7


@pytest.mark.parametrize("alpha", [ELU_ALPHA, 1.0, 2.5])
def test_the_reference_elu_passes_a_numerical_gradient_check(alpha):
    """The ELU the checker compares with is right, not merely consistent with itself."""
    x = 2 * np.random.default_rng(1).standard_normal((6, 7))  # both signs, far from the kink at 0
    assert mlp.gradient_check(ELU(alpha), x) < 1e-7


def test_the_reference_elu_does_not_overflow_and_keeps_float32():
    with np.errstate(all="raise"):
        layer = ELU(0.5)
        out = layer.forward(np.array([[800.0, -800.0]], dtype=np.float32))
        grad = layer.backward(np.ones((1, 2), dtype=np.float32))
    assert out.dtype == grad.dtype == np.float32
    np.testing.assert_allclose(out, [[800.0, -0.5]])
    np.testing.assert_allclose(grad, [[1.0, 0.0]], atol=1e-6)  # alpha e^-800 underflows to 0


def test_the_checker_gives_each_not_written_stub_a_first_hint():
    def not_written(*args):
        raise NotImplementedError

    for check in (check_dense_backward, check_softmax, check_network_backward):
        result = check(not_written, verbose=False)
        assert result.not_written and "First hint:" in result.message
    assert "First hint:" in check_elu_backward(LearnerELU, verbose=False).message
