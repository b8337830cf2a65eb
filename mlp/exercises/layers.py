"""Checkers for the exercises that write one layer's backward pass (notebooks 02 and 03).

* ``check_dense_backward(fn)`` — ``fn(x, W, grad_out) -> (dx, dW, db)`` (notebook 02)
* ``check_elu_backward(ELU)``  — a ``Layer`` class whose ``backward`` the learner
  writes for an activation the course has not shown, ELU (notebook 03)

Each checker builds float64 inputs from a fixed seed, computes the right
answer with reference code (``mlp.Dense``; ``ELU`` below, for the layer mlp
does not ship), whose gradients the test suite checks numerically, calls the
learner's code on copies of the inputs and compares. A wrong answer gets a
diagnosis rather than a bare "wrong": which tensor, expected against got at
the worst index, and a hint that names the usual mistake when the answer
looks like one (a transposed ``dW``, ``db`` not summed over the batch, a
product whose shapes do not fit, ELU's slope for negative inputs without its
``alpha``, an ``exp`` that overflows in the branch ``np.where`` discards). Mutating an argument, or
the output a forward pass returned, is a mistake too, even when the values
are right: the caller, or the next layer, still holds that array.
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
from mlp.nn.layers import Dense, Layer

__all__ = ["ELU", "check_dense_backward", "check_elu_backward"]

# Every dimension different, so that a transposed or wrongly summed result
# cannot have the right shape by accident.
BATCH, N_IN, N_OUT = 5, 4, 3
# Not 1, so that an ELU whose backward forgets alpha (or writes 1 for it) gives a wrong answer.
ELU_ALPHA = 0.3
# When a product in dense_backward does not fit (`grad_out @ W`), the shapes lead to the answer.
DENSE_SHAPES_HINT = (
    "each gradient has the shape of its variable. dx must be (N, n_in): which of grad_out (N, n_out) "
    "and W (n_in, n_out) must be transposed so that the inner dimensions meet? The same question "
    "for dW (n_in, n_out), from x (N, n_in) and grad_out (N, n_out)."
)
OVERFLOW_DIAGNOSIS = (
    "the values are right, but np.exp overflowed (exp({x:g}) is inf): np.where computes both of its "
    "branches everywhere, so the slope alpha e^x was computed for x = {x:g} too, and thrown away. "
    "That is a RuntimeWarning at every batch with a large input, and a NaN as soon as that branch is "
    "multiplied rather than selected (inf * 0). Take exp only of numbers <= 0 (np.minimum(x, 0)), "
    "or read the slope off the kept output: alpha e^x = ELU(x) + alpha for x <= 0."
)


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
        result = call_learner("dense_backward", dense_backward, arguments, DENSE_SHAPES_HINT)
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

    return run_check(
        "dense_backward",
        check,
        more_help="dx = grad_out @ W.T  ((N, n_out) @ (n_out, n_in));  dW = x.T @ grad_out  ((n_in, N) @ "
        "(N, n_out));  db = grad_out.sum(axis=0)  (b was added to every row).",
        first_hint="each gradient has the shape of its variable: combine x (N, n_in), W (n_in, n_out) and "
        "grad_out (N, n_out) into dx (N, n_in), dW (n_in, n_out) and db (n_out,), as section 3 derives.",
        verbose=verbose,
        keep=dense_backward,
    )


class ELU(Layer):
    """The exponential linear unit (Clevert et al., 2015), the reference ``check_elu_backward`` compares with.

    ``ELU(x) = x`` for ``x > 0`` and ``alpha (e^x - 1)`` below: like ReLU for
    positive inputs, but smooth and negative down to ``-alpha`` for negative
    ones, so that units are never completely switched off. Its derivative,
    ``alpha e^x = ELU(x) + alpha`` for ``x <= 0``, comes from its own output,
    as sigmoid's and tanh's do.
    """

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = float(alpha)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._positive = x > 0
        # np.where evaluates both branches: exp of min(x, 0) cannot overflow where x is large.
        self._out = np.where(self._positive, x, self.alpha * np.expm1(np.minimum(x, 0)))
        return self._out

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        return grad_out * np.where(self._positive, 1.0, self._out + self.alpha)

    def config(self) -> dict[str, Any]:
        return {"type": "ELU", "alpha": self.alpha}


def check_elu_backward(elu_class: Callable[..., Any], *, verbose: bool = True) -> ExerciseResult:
    """Check the learner's ``ELU`` layer class: ``ELU(alpha).forward(x)``, then ``backward(grad_out)``.

    Shapes: ``x`` and ``grad_out`` ``(N, d)``, the answer ``dL/dx`` ``(N, d)``.
    First a batch of ordinary inputs of both signs, to judge the formula;
    then one with inputs of ±800, where ``exp(x)`` overflows unless the
    backward only takes it of negative inputs.
    """

    def check() -> str:
        rng = np.random.default_rng(7)
        ordinary = 2 * rng.standard_normal((BATCH, 6))  # never exactly 0, where the slope jumps
        extreme = np.array([[800.0, -800.0, 30.0, -30.0, 0.5, -0.5]])
        for x in (ordinary, extreme):
            grad_out = rng.standard_normal(x.shape)
            _check_elu_on(elu_class, x, grad_out)
        return (
            f"forward and backward match the reference ELU (alpha = {ELU_ALPHA}) on a batch {ordinary.shape} "
            "of both signs and on inputs of ±800 (no overflow); grad_out and the output are left untouched."
        )

    return run_check(
        "ELU.backward",
        check,
        more_help="slope = np.where(self._x > 0, 1.0, self._out + self.alpha), a new array (alpha e^x = "
        "ELU(x) + alpha for x <= 0, with no exp to overflow); return grad_out * slope.",
        first_hint="by the chain rule, dL/dx = grad_out * ELU'(x), entry by entry. Differentiate each "
        "branch: x for x > 0, alpha (e^x - 1) for x <= 0; forward kept what you need (self._x, self._out).",
        verbose=verbose,
        keep=elu_class,
    )


def _check_elu_on(elu_class: Callable[..., Any], x: np.ndarray, grad_out: np.ndarray) -> None:
    reference = ELU(ELU_ALPHA)
    expected_out = reference.forward(x)
    expected = reference.backward(grad_out)

    def forward_and_backward(x: np.ndarray, grad_out: np.ndarray) -> tuple[Any, Any, Any]:
        layer = elu_class(alpha=ELU_ALPHA)
        out = layer.forward(x)
        kept = np.array(out, dtype=np.float64, copy=True)
        return out, kept, layer.backward(grad_out)

    arguments = {"x": x, "grad_out": grad_out}
    fixes = {"grad_out": "compute a new array (grad_out * slope) instead of grad_out *= slope."}
    out, kept, dx = call_learner("ELU.backward", forward_and_backward, arguments, fixes=fixes)
    compare_arrays(
        "forward output",
        kept,
        expected_out,
        hint="the stub's forward was already right: restore it, ELU(x) = x for x > 0, alpha (e^x - 1) below.",
    )
    if not np.array_equal(np.asarray(out, dtype=np.float64), kept):
        raise Mismatch(
            "ELU.backward changed the array that forward returned (self._out += ..., or a slope built "
            "in place on top of it): the next layer still holds that array as its input. Compute a new "
            "array, self._out + self.alpha."
        )
    if dx is not None and np.asarray(dx).shape == x.shape and not np.all(np.isfinite(dx)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(np.asarray(dx, dtype=np.float64)))[0])
        raise Mismatch(
            f"dx: NaN or inf at index {bad}, where x = {x[bad]:g}. exp({x[bad]:g}) overflows to inf, and "
            "inf * 0 (the mask of the other branch) is NaN. Take exp only of the negative inputs: "
            "np.where(x > 0, 1.0, ...) on top of np.exp(np.minimum(x, 0)), or self._out + self.alpha."
        )
    alpha = ELU_ALPHA
    positive = x > 0
    with np.errstate(all="ignore"):  # the mistakes below take exp of every x, as a learner would
        e = np.exp(x)
    compare_arrays(
        "dx",
        dx,
        expected,
        hint=hint_for(
            dx,
            "dx = grad_out * ELU'(x), with ELU'(x) = 1 for x > 0 and alpha e^x for x <= 0.",
            by_value=[
                (
                    grad_out * positive,
                    "that is ReLU's backward: for x <= 0, ELU is alpha (e^x - 1), not 0, and its slope "
                    "there is alpha e^x.",
                ),
                (
                    np.where(positive, 1.0, expected_out + alpha),
                    "that is ELU's derivative alone; the chain rule multiplies it by the incoming "
                    "gradient: grad_out * ELU'(x).",
                ),
                (
                    np.where(positive, grad_out, grad_out * e),
                    "the slope for x <= 0 is alpha e^x: yours is e^x, which is right only for alpha = 1 "
                    f"(here alpha = {alpha}). Use self.alpha.",
                ),
                (
                    np.where(positive, grad_out, grad_out * (expected_out + 1)),
                    "the slope for x <= 0 is ELU(x) + alpha; you added 1, right only for alpha = 1 "
                    f"(here alpha = {alpha}). Use self.alpha.",
                ),
                (
                    np.where(positive, grad_out, grad_out * expected_out),
                    "for x <= 0 you multiplied by the output alpha (e^x - 1); the slope is its "
                    "derivative, alpha e^x = output + alpha.",
                ),
                (
                    np.where(positive, grad_out * alpha * e, grad_out),
                    "the two branches are the wrong way round: slope 1 where x > 0, alpha e^x where x <= 0.",
                ),
                (
                    grad_out * expected_out,
                    "multiply by ELU's derivative, not by ELU(x) itself.",
                ),
                (
                    grad_out * alpha * e,
                    "alpha e^x is the slope for x <= 0 only; where x > 0, ELU(x) = x and the slope is 1.",
                ),
                (
                    np.where(positive, grad_out, alpha * grad_out),
                    "a constant slope alpha for x <= 0 is leaky ReLU's; ELU's is alpha e^x there.",
                ),
            ],
            by_shape={(len(x),): "dx has one entry per input: the shape of x, no summing."},
        ),
    )
    # Right values can still come from an exp that overflowed in a branch np.where then discarded: the
    # notebook names that a mistake, so the checker does too (only the backward pass is judged here).
    layer = elu_class(alpha=ELU_ALPHA)
    with np.errstate(all="ignore"):  # the forward pass is the stub's, not the exercise
        layer.forward(x.copy())
    try:
        call_learner("ELU.backward", layer.backward, {"grad_out": grad_out}, fixes=fixes, overflow="raise")
    except FloatingPointError:
        raise Mismatch(f"dx: {OVERFLOW_DIAGNOSIS.format(x=float(x.max()))}") from None
