"""The checker of notebook 06's exercise: one step of Adam, written as in the paper (Kingma & Ba, 2015).

``check_adam_step(fn)`` checks ``fn(w, grad, m, v, t, lr, beta1, beta2, eps) -> (new_w, new_m, new_v)``.

Three cases: the first step, worked out by hand (Adam moves each weight by
about ``lr``); a step in the middle of training with gradients so small that
``eps`` matters; and several steps in a row against ``mlp.Adam``, threading
``m``, ``v`` and ``t`` through the learner's function. A wrong answer that
equals a known mistake (a missing bias correction, ``eps`` inside the square
root, the paper's faster ordering with its ``eps_hat`` taken as ``eps``, ``t``
counted from 0, the averages returned bias-corrected or in the wrong order,
an argument changed in place) gets that mistake's name.
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
from mlp.exercises.momentum import CHAINED_STEPS, GRADIENT_FIX
from mlp.nn.layers import Parameter
from mlp.nn.optimizers import Adam

__all__ = ["adam_reference", "check_adam_step"]

ADAM_FIXES = {
    "w": "Build a new array: new_w = w - lr * m_hat / (np.sqrt(v_hat) + eps).",
    "grad": GRADIENT_FIX,
    "m": "Build a new array: new_m = beta1 * m + (1 - beta1) * grad.",
    "v": "Build a new array: new_v = beta2 * v + (1 - beta2) * grad**2.",
}
FIRST_HINT = (
    "Follow the paper line by line: new_m and new_v are running averages of grad and of grad**2; "
    "dividing them by (1 - beta**t) gives m_hat and v_hat; the step is lr * m_hat / (sqrt(v_hat) + eps)."
)
MORE_HELP = (
    "new_m = beta1 * m + (1 - beta1) * grad;  new_v = beta2 * v + (1 - beta2) * grad**2;  "
    "m_hat = new_m / (1 - beta1**t);  v_hat = ...;  new_w = w - lr * m_hat / (np.sqrt(v_hat) + eps);  "
    "return new_w, new_m, new_v  (new arrays: no `m *= ...`, which would change the caller's m)."
)


def adam_reference(
    w: np.ndarray,
    grad: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    t: int,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    *,
    correct_m: bool = True,
    correct_v: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Adam's update as written in the paper (Kingma & Ba, 2015), in float64.

    ``correct_m=False`` or ``correct_v=False`` drop a bias correction: what a
    learner who forgets one of them computes, so the checker can say so.
    """
    new_m = beta1 * m + (1 - beta1) * grad
    new_v = beta2 * v + (1 - beta2) * grad**2
    m_hat = new_m / (1 - beta1**t) if correct_m else new_m
    v_hat = new_v / (1 - beta2**t) if correct_v else new_v
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), new_m, new_v


def check_adam_step(
    adam_step: Callable[..., Any],
    *,
    verbose: bool = True,
) -> ExerciseResult:
    """Check ``adam_step(w, grad, m, v, t, lr, beta1, beta2, eps) -> (new_w, new_m, new_v)``.

    ``t`` is the number of the step being taken, 1 for the first. Three
    cases: the first step (where Adam moves each weight by about ``lr``), a
    step in the middle of training with tiny gradients (where ``eps`` matters),
    and ``CHAINED_STEPS`` steps in a row against ``mlp.Adam``.
    """
    formula = (
        "m' = b1 m + (1 - b1) g;  v' = b2 v + (1 - b2) g**2;  m_hat = m' / (1 - b1**t);  "
        "v_hat = v' / (1 - b2**t);  w' = w - lr * m_hat / (sqrt(v_hat) + eps)."
    )
    bias_hint = (
        "missing bias correction: m and v start at 0, so for the first steps they are too small by "
        "a factor (1 - beta**t). Divide by it before the step: m_hat = m' / (1 - beta1**t) and "
        "v_hat = v' / (1 - beta2**t)."
    )

    def step_case(label: str, arguments: dict[str, Any]) -> None:
        w, grad, m, v, t = (arguments[name] for name in ("w", "grad", "m", "v", "t"))
        beta1, beta2, lr, eps = (arguments[name] for name in ("beta1", "beta2", "lr", "eps"))
        result = call_learner("adam_step", adam_step, arguments, FIRST_HINT, ADAM_FIXES)
        new_w, new_m, new_v = unpack_tuple("adam_step", result, ("new_w", "new_m", "new_v"))
        expected_w, expected_m, expected_v = adam_reference(**arguments)

        def w_with(**mistake: Any) -> np.ndarray:
            """The new weights as computed with one thing done wrong."""
            with np.errstate(all="ignore"):
                return adam_reference(**{**arguments, **mistake})[0]

        m_hat = expected_m / (1 - beta1**t)
        v_hat = expected_v / (1 - beta2**t)
        swapped = "you returned (new_w, new_v, new_m); return them in the order (new_w, new_m, new_v)."
        problems = collect_mismatches(
            lambda: compare_arrays(
                "new_m",
                new_m,
                expected_m,
                hint=hint_for(
                    new_m,
                    "m' = beta1 * m + (1 - beta1) * grad.",
                    by_value=[
                        (expected_v, swapped),
                        (
                            m_hat,
                            "return the running average m' = beta1 * m + (1 - beta1) * grad itself, "
                            "not the bias-corrected m_hat: the next step continues from m'.",
                        ),
                        (m, "you returned the old m; return the updated average, which the next step needs."),
                        (
                            beta1 * m + grad,
                            "the average weighs the new gradient by (1 - beta1): "
                            "beta1 * m + (1 - beta1) * grad.",
                        ),
                    ],
                ),
            ),
            lambda: compare_arrays(
                "new_v",
                new_v,
                expected_v,
                hint=hint_for(
                    new_v,
                    "v' = beta2 * v + (1 - beta2) * grad**2, the average of the squared gradient.",
                    by_value=[
                        (expected_m, swapped),
                        (
                            v_hat,
                            "return the running average v' = beta2 * v + (1 - beta2) * grad**2 itself, "
                            "not the bias-corrected v_hat: the next step continues from v'.",
                        ),
                        (v, "you returned the old v; return the updated average, which the next step needs."),
                        (
                            beta2 * v + (1 - beta2) * grad,
                            "v averages the *squared* gradient: beta2 * v + (1 - beta2) * grad**2.",
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
                        (w_with(correct_m=False, correct_v=False), bias_hint),
                        (w_with(correct_m=False), f"{bias_hint} (You corrected v but not m.)"),
                        (w_with(correct_v=False), f"{bias_hint} (You corrected m but not v.)"),
                        (w_with(t=t + 1), "t is the number of this step (1 for the first); you used t + 1."),
                        (
                            w_with(t=t - 1),
                            "t counts from 1 at the first step; you used t - 1. At t = 0 the bias "
                            "correction divides by 1 - beta**0 = 0.",
                        ),
                        (
                            2 * w - expected_w,
                            "sign error: the step goes against the gradient, w' = w - lr * m_hat / ...",
                        ),
                        (
                            w - lr * m_hat / np.sqrt(v_hat + eps),
                            "eps goes outside the square root: sqrt(v_hat) + eps. Inside, it changes "
                            "the step whenever gradients are small.",
                        ),
                        (
                            w
                            - lr
                            * np.sqrt(1 - beta2**t)
                            / (1 - beta1**t)
                            * expected_m
                            / (np.sqrt(expected_v) + eps),
                            "that is the faster ordering the paper gives after Algorithm 1 (section 2): "
                            "lr_t = lr * sqrt(1 - beta2**t) / (1 - beta1**t), then w' = w - lr_t * m' / "
                            "(sqrt(v') + eps_hat). It equals Algorithm 1 only with eps_hat = eps * "
                            "sqrt(1 - beta2**t); with eps_hat = eps, eps weighs 1 / sqrt(1 - beta2**t) times "
                            "more, which shows where gradients are tiny. This exercise, like mlp.Adam, is "
                            "Algorithm 1: w' = w - lr * m_hat / (sqrt(v_hat) + eps).",
                        ),
                        (
                            w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps),
                            "wrong order: you stepped with the old m and v. Update the averages "
                            "first, then step with the new ones.",
                        ),
                    ],
                ),
            ),
        )
        if problems:
            raise Mismatch(f"{label}:\n  " + "\n  ".join(problems))

    def check() -> str:
        # The first step, by hand: m' = 0.1 g, v' = 0.001 g**2, m_hat = g, v_hat = g**2, so
        # w' = w - 0.1 * g / (|g| + eps), about w - 0.1 * sign(g) = [0.9, -0.9, 0.5].
        w = np.array([1.0, -1.0, 0.5])
        grad = np.array([0.5, -2.0, 0.0])
        zeros = np.zeros(3)
        step_case(
            f"the first step (t=1) from w={w.tolist()}, grad={grad.tolist()}, m=v=0, lr=0.1",
            dict(w=w, grad=grad, m=zeros, v=zeros, t=1, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8),
        )

        # A step in the middle of training, with gradients so small that eps matters.
        rng = np.random.default_rng(8)
        shape = (4, 3)
        w = rng.standard_normal(shape)
        grad = 1e-7 * rng.standard_normal(shape)
        m = 1e-7 * rng.standard_normal(shape)
        v = 1e-14 * rng.random(shape)
        step_case(
            "step t=3 of a (4, 3) matrix with gradients of about 1e-7, where eps=1e-8 matters",
            dict(w=w, grad=grad, m=m, v=v, t=3, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8),
        )

        # Chained steps against mlp.Adam, threading m, v and t through the learner's function.
        lr, beta1, beta2, eps = 0.01, 0.8, 0.99, 1e-8
        reference = Parameter("w", rng.standard_normal(shape))
        optimizer = Adam(lr, beta1, beta2, eps)
        w, m, v = reference.value.copy(), np.zeros(shape), np.zeros(shape)
        for t in range(1, CHAINED_STEPS + 1):
            reference.grad = rng.standard_normal(shape)
            optimizer.step([reference])
            arguments = dict(
                w=w, grad=reference.grad, m=m, v=v, t=t, lr=lr, beta1=beta1, beta2=beta2, eps=eps
            )
            result = call_learner("adam_step", adam_step, arguments, FIRST_HINT, ADAM_FIXES)
            w, m, v = unpack_tuple("adam_step", result, ("new_w", "new_m", "new_v"))
            try:
                compare_arrays("new_w", w, reference.value, rtol=1e-9, atol=1e-12, hint=formula)
            except Mismatch as e:
                raise Mismatch(
                    f"at step t={t} of {CHAINED_STEPS} with mlp.Adam(lr={lr}, beta1={beta1}, "
                    f"beta2={beta2}): {e}"
                ) from None
            w, m, v = (np.asarray(a, dtype=np.float64) for a in (w, m, v))
        return (
            f"the first step by hand, a step with tiny gradients, and {CHAINED_STEPS} steps in a row "
            "match mlp.Adam; the arguments are left unchanged."
        )

    return run_check(
        "adam_step", check, first_hint=FIRST_HINT, more_help=MORE_HELP, verbose=verbose, keep=adam_step
    )
