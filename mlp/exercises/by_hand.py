"""Checker for notebook 04's fill-in: the whole backward pass of a 3-layer network, by hand.

* ``check_backward_by_hand(network, x, y, gradients)`` — ``network`` a float64
  ``Dense, ReLU, Dense, ReLU, Dense`` network that the learner's lines use the
  weights of, ``(x, y)`` the batch, ``gradients`` the learner's arrays by name
  (``d3``, ``dW3``, ``db3``, ``da2``, ``d2``, ... ``dx``), ``None`` where a line
  is not filled in yet.

The reference runs the network's own layers backward one at a time, keeping
the gradient between each pair of layers, so every intermediate the learner
writes has its expected value. Each gradient gets its own line: ✓, ✎ (not
filled in yet) or ✗ with what is wrong (shape, transpose, the missing ``1/N``,
the ReLU mask on the wrong side); the result passes when all of them do.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlp.exercises.checking import ExerciseResult, Mismatch, compare_arrays, hint_for
from mlp.nn.layers import Dense, ReLU
from mlp.nn.losses import SoftmaxCrossEntropy
from mlp.nn.network import Sequential

__all__ = ["GRADIENT_NAMES", "check_backward_by_hand"]

# In the order the backward pass computes them, with what each is.
GRADIENT_NAMES = {
    "d3": "dL/dz3, the loss gradient",
    "dW3": "dL/dW3",
    "db3": "dL/db3",
    "da2": "dL/da2",
    "d2": "dL/dz2, through the ReLU",
    "dW2": "dL/dW2",
    "db2": "dL/db2",
    "da1": "dL/da1",
    "d1": "dL/dz1, through the ReLU",
    "dW1": "dL/dW1",
    "db1": "dL/db1",
    "dx": "dL/dx",
}


def _expected(network: Sequential, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    kinds = [type(layer) for layer in network.layers]
    if kinds != [Dense, ReLU, Dense, ReLU, Dense]:
        raise ValueError("check_backward_by_hand expects a Dense, ReLU, Dense, ReLU, Dense network")
    exact = network.astype(np.float64)
    loss = SoftmaxCrossEntropy()
    loss.forward(exact.forward(np.asarray(x, dtype=np.float64)), y)
    grad = loss.backward()
    between = [grad]  # the gradient after each layer's backward, from the last layer down
    for layer in reversed(exact.layers):
        grad = layer.backward(grad)
        between.append(grad)
    dense = [layer for layer in exact.layers if isinstance(layer, Dense)]
    d3, da2, d2, da1, d1, dx = between
    expected = {"d3": d3, "da2": da2, "d2": d2, "da1": da1, "d1": d1, "dx": dx}
    for i, layer in enumerate(dense, start=1):
        expected[f"dW{i}"], expected[f"db{i}"] = layer.weight.grad, layer.bias.grad
    return expected


def _hint(name: str, got: Any, expected: np.ndarray, n: int) -> str:
    by_value = [(expected * n, "that is N times too large: the loss is a mean, so d3 = (P - Y) / N.")]
    by_shape = {}
    if expected.ndim == 2:
        by_shape[expected.T.shape] = f"{name} should have shape {expected.shape}: you computed its transpose."
    if name.startswith("db"):
        by_shape[(n, len(expected))] = "sum over the batch (axis=0): b was added to every row."
    if name in ("d2", "d1"):
        layer = name[1]
        default = (
            f"{name} = da{layer} * (z{layer} > 0): the ReLU passes the gradient where its input was positive."
        )
    elif name.startswith("dW"):
        default = "dW = (the layer's input).T @ (the gradient of its output)."
    elif name.startswith("da") or name == "dx":
        default = "the input gradient is (the gradient of the layer's output) @ W.T."
    else:
        default = "see the formula of section 2 for this line."
    return hint_for(got, default, by_value=by_value if name == "d3" else [], by_shape=by_shape)


def check_backward_by_hand(
    network: Sequential, x: np.ndarray, y: np.ndarray, gradients: dict[str, Any], *, verbose: bool = True
) -> ExerciseResult:
    """Compare each of the learner's gradients with the network's own backward pass; print one line each."""
    expected = _expected(network, x, y)
    lines, right, missing = [], 0, 0
    for name, what in GRADIENT_NAMES.items():
        got = gradients.get(name)
        if got is None:
            missing += 1
            lines.append(f"  ✎ {name:4} {what}: not filled in yet")
            continue
        try:
            compare_arrays(
                name,
                got,
                expected[name],
                rtol=1e-9,
                atol=1e-12,
                hint=_hint(name, got, expected[name], len(x)),
            )
        except Mismatch as e:
            lines.append(f"  ✗ {e}")
            continue
        right += 1
        lines.append(f"  ✓ {name:4} {what}, shape {expected[name].shape}")
    total = len(GRADIENT_NAMES)
    summary = f"{right} of {total} gradients match the network's own backward pass"
    if missing:
        summary += f"; {missing} not filled in yet"
    result = ExerciseResult(
        "backward by hand", right == total, summary + ":\n" + "\n".join(lines), missing == total
    )
    if verbose:
        print(result)
    return result
