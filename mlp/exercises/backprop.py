"""Checker for notebook 04's backward loop: backpropagation through a whole network.

* ``check_network_backward(fn)`` — ``fn(layers, grad_logits) -> grad_input``

The layers have already run forward; the learner's loop must call each one's
``backward``, last layer first, handing each the gradient the layer after it
returned. The checker compares the input gradient and every parameter's
``.grad`` with ``Sequential.backward``'s on a copy of the same network, whose
gradients the test suite checks numerically. Each ``.grad`` starts as NaN, so
a layer the loop skipped stands out, and the layers mix Dense, ReLU and Tanh,
so that a loop cannot rely on knowing which layer comes where.
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
)
from mlp.nn.layers import Dense, Layer, ReLU, Tanh
from mlp.nn.losses import SoftmaxCrossEntropy
from mlp.nn.network import Sequential

__all__ = ["check_network_backward", "small_network"]

BATCH = 5


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
        network = small_network()
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

    return run_check(
        "network_backward",
        check,
        more_help="grad = grad_logits; for layer in reversed(layers): grad = layer.backward(grad); "
        "return grad.",
        first_hint="you hold the gradient of the last layer's output; each layer's backward(grad) "
        "returns the gradient of its own input, which is the output of the layer before it. Walk the "
        "list from its end.",
        verbose=verbose,
        keep=network_backward,
    )


def small_network() -> Sequential:
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
