"""The exercise checkers of notebooks 02–04 accept right answers and diagnose typical wrong ones.

A checker that passed everything would be worse than none, so each wrong
answer below is a mistake learners really make, and each test asserts both
the verdict and the words of the diagnosis that point at the fix.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from mlp import gradient_check
from mlp.exercises import ExerciseResult
from mlp.exercises.layers import (
    _small_network,
    check_dense_backward,
    check_network_backward,
    check_relu_backward,
    check_softmax,
)
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


def relu_backward(x, grad_out):
    return grad_out * (x > 0)


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


def _relu_mutating_grad_out(x, grad_out):
    grad_out[x <= 0] = 0
    return grad_out


WRONG_RELU = {
    "passing the gradient where x < 0": (lambda x, g: g.copy(), ["where x < 0", "must be 0"]),
    "inverted mask": (lambda x, g: g * (x < 0), ["wrong way round"]),
    "derivative without the chain rule": (lambda x, g: (x > 0) * 1.0, ["chain rule"]),
    "masking by grad_out": (lambda x, g: np.maximum(g, 0), ["sign of the layer's input x"]),
    "multiplying by relu(x)": (lambda x, g: g * np.maximum(x, 0), ["not by relu(x)"]),
    "in-place mutation of grad_out": (_relu_mutating_grad_out, ["changed its argument `grad_out` in place"]),
    "wrong shape": (lambda x, g: (g * (x > 0)).sum(axis=1), ["expected shape (5, 6), got (5,)"]),
    "NaN": (lambda x, g: g * (x > 0) / (x > 0), ["NaN"]),
    "returning None": (lambda x, g: None, ["got None"]),
    "raising": (lambda x, g: g @ x, ["raised ValueError"]),
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
    "relu": (check_relu_backward, WRONG_RELU),
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
        (check_relu_backward, relu_backward),
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
    assert check_relu_backward(relu_backward, verbose=False)
    assert not check_relu_backward(lambda x, g: g, verbose=False)
    assert capsys.readouterr().out == ""


def test_checkers_are_deterministic():
    wrong = WRONG_NETWORK["skipping activations"][0]
    assert check_network_backward(wrong, verbose=False) == check_network_backward(wrong, verbose=False)


def test_the_network_checker_s_reference_gradients_pass_a_numerical_check():
    """The answers the network checker expects are right, not merely consistent with mlp."""
    rng = np.random.default_rng(0)
    network = _small_network()
    x = rng.standard_normal((5, network.n_inputs))
    assert gradient_check(network, x, rng.integers(0, network.n_classes, 5)) < 1e-7
