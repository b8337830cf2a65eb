"""The checker of notebook 05's momentum exercise: one step of SGD with momentum, as ``mlp.SGD`` takes it.

``check_sgd_momentum(fn)`` checks ``fn(w, grad, velocity, lr, mu) -> (new_w, new_velocity)``.

It first tries a step small enough to work out by hand, where a wrong answer
is easy to read, then chains several steps against ``mlp.SGD`` itself, so
that a velocity carried wrongly from one step to the next shows. When a
wrong answer equals what a known mistake produces (a sign error, the two
updates in the wrong order, the learning rate inside the velocity, the
other textbook conventions), the diagnosis names that mistake; the test
constants are chosen so that no two mistakes give the same answer. Changing an
argument in place is a mistake too, even when the values returned are
right: an optimizer's caller keeps ``w`` and the velocity.
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
from mlp.nn.layers import Parameter
from mlp.nn.optimizers import SGD

__all__ = ["check_sgd_momentum"]

# Several steps in a row, so that the velocity carried from one step to the next matters.
CHAINED_STEPS = 5
# The step worked out by hand: (w, grad, velocity, lr, mu). lr is none of mu, 1 - mu and 1, so that
# every typical mistake gives a different answer and its diagnosis cannot be another's (with lr = 0.1
# = 1 - mu, the moving-average form was taken for "lr inside the velocity"); a test asserts that.
HAND_STEP = (np.array([1.0, -2.0, 0.5]), np.array([0.5, 0.25, -1.0]), np.array([0.1, 0.0, -0.2]), 0.5, 0.9)

GRADIENT_FIX = "Only read the gradient: it belongs to the parameter."
MOMENTUM_FIXES = {
    "w": "Build a new array: new_w = w - lr * new_velocity.",
    "grad": GRADIENT_FIX,
    "velocity": "Build a new array: new_velocity = mu * velocity + grad.",
}
FIRST_HINT = (
    "Two lines, in this order: the new velocity, from the old one and the gradient; then the new "
    "weights, from the new velocity. Build new arrays (`a = b + c`), don't write into the arguments."
)
MORE_HELP = (
    "new_velocity = mu * velocity + grad;  new_w = w - lr * new_velocity;  return new_w, new_velocity."
)


def check_sgd_momentum(
    sgd_momentum_step: Callable[[np.ndarray, np.ndarray, np.ndarray, float, float], Any],
    *,
    verbose: bool = True,
) -> ExerciseResult:
    """Check ``sgd_momentum_step(w, grad, velocity, lr, mu) -> (new_w, new_velocity)``.

    The convention is ``mlp.SGD``'s: the velocity accumulates gradients and
    the learning rate scales the step, ``v' = mu * v + grad``, ``w' = w - lr * v'``.
    """
    formula = "velocity' = mu * velocity + grad, then w' = w - lr * velocity' (as in mlp.SGD)."

    def check() -> str:
        # One step that can be done by hand: mu * v + g = [0.59, 0.25, -1.18], w - 0.5 * that.
        w, grad, velocity, lr, mu = HAND_STEP
        expected_v = np.array([0.59, 0.25, -1.18])
        expected_w = np.array([0.705, -2.125, 1.09])

        arguments = {"w": w, "grad": grad, "velocity": velocity, "lr": lr, "mu": mu}
        result = call_learner("sgd_momentum_step", sgd_momentum_step, arguments, FIRST_HINT, MOMENTUM_FIXES)
        new_w, new_v = unpack_tuple("sgd_momentum_step", result, ("new_w", "new_velocity"))
        problems = collect_mismatches(
            lambda: compare_arrays(
                "new_velocity",
                new_v,
                expected_v,
                hint=hint_for(
                    new_v,
                    formula,
                    by_value=[
                        (
                            mu * velocity + (1 - mu) * grad,
                            "that is the moving-average form of momentum, velocity' = mu * velocity + "
                            "(1 - mu) * grad: momentum too, but its steps are (1 - mu) times as long for "
                            "the same lr, so lr means something else. This course, like mlp.SGD (and "
                            "PyTorch), adds the raw gradient: velocity' = mu * velocity + grad.",
                        ),
                        (
                            mu * velocity + lr * grad,
                            "the learning rate belongs in the weight update, not in the velocity: "
                            "velocity' = mu * velocity + grad, w' = w - lr * velocity'.",
                        ),
                        (
                            mu * velocity - lr * grad,
                            "that is the other convention (v' = mu v - lr g, w' = w + v'); this course, "
                            "like mlp.SGD, keeps lr out of the velocity: velocity' = mu * velocity + grad.",
                        ),
                        (
                            mu * velocity - grad,
                            "the velocity adds the gradient (velocity' = mu * velocity + grad); "
                            "the minus sign comes in the weight update.",
                        ),
                        (
                            velocity,
                            "you returned the old velocity; return the updated one, "
                            "mu * velocity + grad, which the next step needs.",
                        ),
                        (grad, "the velocity must remember the past: velocity' = mu * velocity + grad."),
                        (
                            velocity + mu * grad,
                            "mu multiplies the old velocity, not the gradient: mu * velocity + grad.",
                        ),
                    ],
                ),
            ),
            lambda: compare_arrays(
                "new_w",
                new_w,
                expected_w,
                hint=hint_for(
                    new_w,
                    formula,
                    by_value=[
                        (
                            w + lr * expected_v,
                            "sign error: the step goes against the gradient, w' = w - lr * velocity'.",
                        ),
                        (
                            w - lr * velocity,
                            "wrong order: you moved w with the old velocity. Update the velocity "
                            "first, then move w with the new one.",
                        ),
                        (
                            w - lr * grad,
                            "w moved by the raw gradient (plain SGD); with momentum it moves by the "
                            "velocity: w' = w - lr * velocity'.",
                        ),
                        (w - expected_v, "multiply the velocity by the learning rate: w - lr * velocity'."),
                        (w, "w did not move: return w - lr * velocity'."),
                    ],
                ),
            ),
        )
        if problems:
            raise Mismatch(
                f"one step from w={w.tolist()}, grad={grad.tolist()}, velocity={velocity.tolist()}, "
                f"lr={lr}, mu={mu}:\n  " + "\n  ".join(problems)
            )

        # Chained steps against mlp.SGD itself, on a matrix of weights.
        rng = np.random.default_rng(7)
        lr, mu = 0.05, 0.8
        reference = Parameter("w", rng.standard_normal((4, 3)))
        optimizer = SGD(lr, momentum=mu)
        w, velocity = reference.value.copy(), np.zeros((4, 3))
        for step in range(1, CHAINED_STEPS + 1):
            reference.grad = rng.standard_normal((4, 3))
            optimizer.step([reference])
            arguments = {"w": w, "grad": reference.grad, "velocity": velocity, "lr": lr, "mu": mu}
            result = call_learner(
                "sgd_momentum_step", sgd_momentum_step, arguments, FIRST_HINT, MOMENTUM_FIXES
            )
            w, velocity = unpack_tuple("sgd_momentum_step", result, ("new_w", "new_velocity"))
            try:
                compare_arrays("new_w", w, reference.value, rtol=1e-9, atol=1e-12, hint=formula)
            except Mismatch as e:
                raise Mismatch(
                    f"at step {step} of {CHAINED_STEPS} with mlp.SGD(lr={lr}, momentum={mu}): {e}"
                ) from None
            w, velocity = np.asarray(w, dtype=np.float64), np.asarray(velocity, dtype=np.float64)
        return (
            f"one step by hand, then {CHAINED_STEPS} steps in a row on a (4, 3) matrix match mlp.SGD "
            "with momentum; the arguments are left unchanged."
        )

    return run_check(
        "sgd_momentum_step",
        check,
        first_hint=FIRST_HINT,
        more_help=MORE_HELP,
        verbose=verbose,
        keep=sgd_momentum_step,
    )
