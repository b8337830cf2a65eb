"""Checkers for the exercises of notebooks 02–04: the layers and backpropagation.

* ``check_dense_backward(fn)``   — ``fn(x, W, grad_out) -> (dx, dW, db)`` (notebook 02)
* ``check_relu_backward(fn)``    — ``fn(x, grad_out) -> dx`` (notebook 03)
* ``check_softmax(fn)``          — ``fn(logits) -> probabilities`` (notebook 03)
* ``check_network_backward(fn)`` — ``fn(layers, grad_logits) -> grad_input`` (notebook 04)

Every checker builds float64 inputs from a fixed seed, computes the right
answer with mlp's reference code (itself verified against numerical gradients
by the test suite), calls the learner's function on copies of the inputs and
compares. A wrong answer gets a diagnosis rather than a bare "wrong": which
tensor, expected against got at the worst index, and a hint that names the
usual mistake when the answer looks like one (a transposed ``dW``, ``db``
not summed over the batch, a softmax that overflows or normalises the wrong
axis). Mutating an argument is a mistake too, even when the returned values
are right: the caller, or another layer, may still need that array.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mlp.exercises.checking import (
    ExerciseResult,
    Mismatch,
    call_learner,
    collect_mismatches,
    compare_arrays,
    hint_for,
    run_check,
    unpack_tuple,
)
from mlp.nn.layers import Dense, Layer, ReLU, Tanh
from mlp.nn.losses import SoftmaxCrossEntropy, softmax
from mlp.nn.network import Sequential

__all__ = ["check_dense_backward", "check_network_backward", "check_relu_backward", "check_softmax"]

# Every dimension different, so that a transposed or wrongly summed result
# cannot have the right shape by accident.
BATCH, N_IN, N_OUT = 5, 4, 3


def check_dense_backward(
    dense_backward: Callable[[np.ndarray, np.ndarray, np.ndarray], Any], *, verbose: bool = True
) -> ExerciseResult:
    """Check ``dense_backward(x, W, grad_out) -> (dx, dW, db)`` against ``mlp.Dense``.

    Shapes: ``x (N, n_in)``, ``W (n_in, n_out)``, ``grad_out (N, n_out)``;
    the answer must be ``dx (N, n_in)``, ``dW (n_in, n_out)``, ``db (n_out,)``.
    """

    def check() -> str:
        rng = np.random.default_rng(2)
        x = rng.standard_normal((BATCH, N_IN))
        grad_out = rng.standard_normal((BATCH, N_OUT))
        reference = Dense(N_IN, N_OUT, seed=3, dtype=np.float64)
        weight = reference.weight.value.copy()
        reference.forward(x)
        expected_dx = reference.backward(grad_out)
        expected_dw, expected_db = reference.weight.grad, reference.bias.grad

        arguments = {"x": x, "W": weight, "grad_out": grad_out}
        result = call_learner("dense_backward", dense_backward, arguments)
        dx, dw, db = unpack_tuple("dense_backward", result, ("dx", "dW", "db"))

        shapes = f"x {x.shape}, W {weight.shape}, grad_out {grad_out.shape}"
        problems = collect_mismatches(
            lambda: compare_arrays(
                "dx",
                dx,
                expected_dx,
                hint=hint_for(
                    dx,
                    "dx = grad_out @ W.T: (N, n_out) @ (n_out, n_in) -> (N, n_in).",
                    by_shape={(N_IN, BATCH): "dx should have x's shape (N, n_in): grad_out @ W.T."},
                ),
            ),
            lambda: compare_arrays(
                "dW",
                dw,
                expected_dw,
                hint=hint_for(
                    dw,
                    "dW = x.T @ grad_out: (n_in, N) @ (N, n_out) -> (n_in, n_out).",
                    by_value=[
                        (
                            expected_dw / BATCH,
                            "you divided by the batch size; the loss's gradient is already a mean, "
                            "so dW just sums over the batch: x.T @ grad_out.",
                        )
                    ],
                    by_shape={
                        (N_OUT, N_IN): "dW should have W's shape (n_in, n_out): x.T @ grad_out "
                        "(you computed its transpose)."
                    },
                ),
            ),
            lambda: compare_arrays(
                "db",
                db,
                expected_db,
                hint=hint_for(
                    db,
                    "db = grad_out.sum(axis=0): b was added to every row, so its gradient "
                    "adds up the rows' gradients.",
                    by_value=[
                        (
                            grad_out.mean(axis=0),
                            "you averaged over the batch; db sums over it: grad_out.sum(axis=0).",
                        )
                    ],
                    by_shape={
                        (BATCH, N_OUT): "did you forget to sum over the batch for db? b was added to "
                        "every row, so db = grad_out.sum(axis=0), shape (n_out,).",
                        (BATCH,): "you summed over the features (axis=1); db sums over the batch: "
                        "grad_out.sum(axis=0).",
                    },
                ),
            ),
        )
        if problems:
            raise Mismatch(f"with {shapes}:\n  " + "\n  ".join(problems))
        return f"dx, dW and db all match mlp.Dense's backward (checked with {shapes})."

    return run_check("dense_backward", check, verbose=verbose)


def check_relu_backward(
    relu_backward: Callable[[np.ndarray, np.ndarray], Any], *, verbose: bool = True
) -> ExerciseResult:
    """Check ``relu_backward(x, grad_out) -> dx``, where ``x`` is the input ReLU saw in forward."""

    def check() -> str:
        rng = np.random.default_rng(4)
        # Normal samples are never exactly 0, where the derivative is a convention.
        x = rng.standard_normal((BATCH, 6))
        grad_out = rng.standard_normal((BATCH, 6))
        reference = ReLU()
        reference.forward(x)
        expected = reference.backward(grad_out)

        dx = call_learner("relu_backward", relu_backward, {"x": x, "grad_out": grad_out})
        compare_arrays(
            "dx",
            dx,
            expected,
            hint=hint_for(
                dx,
                "dx = grad_out * (x > 0): the gradient passes where the input was positive.",
                by_value=[
                    (
                        grad_out,
                        "ReLU passes the gradient only where x > 0; where x < 0 it is flat, "
                        "so dx must be 0 there: grad_out * (x > 0).",
                    ),
                    (
                        grad_out * (x < 0),
                        "the mask is the wrong way round: keep the gradient where x > 0, "
                        "block it where x < 0.",
                    ),
                    (
                        (x > 0).astype(np.float64),
                        "that is ReLU's derivative alone; the chain rule multiplies it by the "
                        "incoming gradient: grad_out * (x > 0).",
                    ),
                    (
                        np.maximum(grad_out, 0),
                        "mask by the sign of the layer's input x, not of grad_out: grad_out * (x > 0).",
                    ),
                    (
                        grad_out * np.maximum(x, 0),
                        "multiply by ReLU's derivative, the mask (x > 0), not by relu(x) itself.",
                    ),
                ],
                by_shape={(BATCH,): "dx has one entry per input: the same shape as x, no summing."},
            ),
        )
        return f"dx matches mlp.ReLU's backward on a batch {x.shape} with both signs of x."

    return run_check("relu_backward", check, verbose=verbose)


def check_softmax(softmax_fn: Callable[[np.ndarray], Any], *, verbose: bool = True) -> ExerciseResult:
    """Check ``softmax(logits) -> probabilities`` along each row, including huge logits.

    Two batches: ordinary logits ``(4, 5)``, then rows like ``[1000, 1001, …]``
    and ``[-1000, …]`` that overflow (or underflow to 0/0) unless each row's
    maximum is subtracted before ``exp``.
    """
    rows_hint = (
        "each row is one sample and must sum to 1; yours normalises each column. "
        "Sum along the classes: e.sum(axis=1, keepdims=True)."
    )

    keepdims_hint = "keepdims=True keeps the summed axis, so (N, C) / (N, 1) divides each row by its own sum."

    def check() -> str:
        ordinary = 3 * np.random.default_rng(5).standard_normal((4, 5))
        huge = np.array(
            [
                [1000.0, 1001.0, 1002.0, 999.0],
                [-1000.0, -1001.0, -1002.0, -999.0],
                [0.0, 1.0, 2.0, 3.0],
            ]
        )
        for logits in (ordinary, huge):
            with np.errstate(all="ignore"):  # a wrong answer gets a diagnosis, not a warning
                naive = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
                shifted_globally = np.exp(logits - logits.max())
                global_max = shifted_globally / shifted_globally.sum(axis=1, keepdims=True)
                whole_batch = shifted_globally / shifted_globally.sum()
                by_column = np.exp(logits - logits.max(axis=0))
                by_column /= by_column.sum(axis=0)
            got = call_learner("softmax", softmax_fn, {"logits": logits}, keepdims_hint)
            compare_arrays(
                "probabilities",
                got,
                softmax(logits),
                hint=hint_for(
                    got,
                    "p_k = exp(z_k - max(z)) / sum_j exp(z_j - max(z)), along each row.",
                    by_value=[
                        (
                            naive,
                            "exp(1000) overflows to inf, and inf / inf is NaN (and exp(-1000) underflows "
                            "to 0 / 0). Subtract each row's maximum before exp: softmax does not change "
                            "under a shift, and then every exp is of a number <= 0.",
                        ),
                        (
                            global_max,
                            "you subtracted the maximum of the whole batch; a row far below it underflows "
                            "to 0 / 0. Subtract each row's own maximum: logits.max(axis=1, keepdims=True).",
                        ),
                        (by_column, rows_hint),
                        (
                            whole_batch,
                            "you divided by the sum over the whole batch; divide each row by its own sum: "
                            "e.sum(axis=1, keepdims=True).",
                        ),
                    ],
                    by_shape={(len(logits),): "return one probability per class: shape (N, C), like logits."},
                ),
            )
        return "rows sum to 1 and match mlp.softmax, also for logits of ±1000 (no overflow, no NaN)."

    return run_check("softmax", check, verbose=verbose)


def check_network_backward(
    network_backward: Callable[[list[Layer], np.ndarray], Any], *, verbose: bool = True
) -> ExerciseResult:
    """Check ``network_backward(layers, grad_logits) -> grad_input`` on a small network.

    The layers have already run forward; the learner's function must call
    each one's ``backward``, last layer first, so that every parameter's
    ``.grad`` is filled, and return the gradient with respect to the input.
    The network mixes Dense, ReLU and Tanh layers so that the loop cannot
    rely on knowing which layer comes where.
    """
    loop_hint = (
        "Go through the layers from last to first (for layer in reversed(layers)), giving each "
        "layer's backward the gradient returned by the layer after it, activations included."
    )

    def check() -> str:
        network = _small_network()
        rng = np.random.default_rng(6)
        x = rng.standard_normal((BATCH, network.n_inputs))
        labels = rng.integers(0, network.n_classes, BATCH)

        reference = network.astype(np.float64)  # a copy: the learner gets another one
        loss = SoftmaxCrossEntropy()
        loss.forward(reference.forward(x), labels)
        grad_logits = loss.backward()
        expected_input = reference.backward(grad_logits)

        learner = network.astype(np.float64)
        learner.forward(x)
        for parameter in learner.parameters():
            parameter.grad[...] = np.nan  # so that a layer the loop skipped stands out
        layers = learner.layers
        order = list(layers)
        grad_input = call_learner(
            "network_backward", network_backward, {"layers": layers, "grad_logits": grad_logits}, loop_hint
        )
        if len(layers) != len(order) or any(a is not b for a, b in zip(layers, order)):
            raise Mismatch(
                "network_backward changed the list `layers` in place (layers.reverse()?); "
                "iterate over reversed(layers) instead, which leaves the list as it was."
            )

        if grad_input is None:
            raise Mismatch(
                "network_backward returned None. Did you forget to `return` the gradient that the "
                "first layer's backward gives back?"
            )
        problems = []
        for i, (mine, theirs) in enumerate(zip(reference.layers, learner.layers)):
            for expected, got in zip(mine.parameters(), theirs.parameters()):
                name = f"layers[{i}].{got.name}.grad"
                if np.all(np.isnan(got.grad)):
                    problems.append(f"{name} was never computed: the loop skipped layers[{i}].")
                    continue
                problems += collect_mismatches(
                    lambda n=name, g=got.grad, e=expected.grad: compare_arrays(n, g, e)
                )
        problems += collect_mismatches(
            lambda: compare_arrays(
                "grad_input",
                grad_input,
                expected_input,
                hint=hint_for(
                    grad_input,
                    "",  # the hint about the loop follows the list
                    by_shape={
                        grad_logits.shape: "return the gradient with respect to the network's input, "
                        "shape (N, n_inputs): what the first layer's backward returns, not grad_logits."
                    },
                ),
            )
        )
        if problems:
            n_tensors = len(learner.parameters()) + 1
            raise Mismatch(
                f"{len(problems)} of {n_tensors} gradients are wrong:\n  "
                + "\n  ".join(problems)
                + f"\n  Hint: {loop_hint}"
            )
        chain = " -> ".join(type(layer).__name__ for layer in layers)
        n_params = len(learner.parameters())
        return f"the input gradient and all {n_params} parameter gradients match, through {chain}."

    return run_check("network_backward", check, verbose=verbose)


def _small_network() -> Sequential:
    """7 -> 6 -> 5 -> 4, with a ReLU and a Tanh between the Dense layers, in float64."""
    return Sequential(
        [
            Dense(7, 6, seed=10, dtype=np.float64),
            ReLU(),
            Dense(6, 5, seed=11, init="xavier", dtype=np.float64),
            Tanh(),
            Dense(5, 4, seed=12, dtype=np.float64),
        ]
    )
