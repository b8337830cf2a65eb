"""What ``check_numerical_gradient`` differentiates, and the answers that typical mistakes give.

The function is a cubic polynomial of ``w`` whose exact gradient is known,
summed with ``math.fsum`` so that every machine gets the same bits: a
centred difference is then off by ``h^2`` times a constant, a one-sided one
by ``h``, and each typical mistake gives an answer of its own, which
``typical_mistakes`` computes by making that mistake on a copy of ``w``. The
arrays are chosen to expose the mistakes that depend on ``w`` itself: a 1-D
and a 3-D array (a loop written for two axes), a transposed view (whose
``reshape(-1)`` is a copy that ``f`` never reads), and a float32 array
(whose ``np.zeros_like`` is float32).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["ANY_SHAPE", "CASES", "STEP", "Case", "Objective", "ObjectiveFailed", "typical_mistakes"]

STEP = 1e-5  # the h passed to the learner's function: mlp.nn.gradcheck's default


class ObjectiveFailed(RuntimeError):
    """What the checker's ``f`` raises on purpose, to see whether ``w`` is restored all the same."""


@dataclass
class Objective:
    """``f() = sum(a w^3 + b w^2 x + c w)``: like a layer, it reads ``w`` and another input, ``x``.

    Counts its calls, notices a call with arguments (``f(w)`` instead of
    ``f()``), and raises ``ObjectiveFailed`` on call ``raise_on`` if given.
    """

    w: np.ndarray
    seed: int
    raise_on: int | None = None
    calls: int = 0
    called_with_arguments: bool = False
    coefficients: tuple[np.ndarray, ...] = field(init=False)
    x: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        a, b, c = (rng.uniform(0.5, 1.5, self.w.shape) * rng.choice([-1, 1], self.w.shape) for _ in range(3))
        self.coefficients = (a, b, c)
        self.x = rng.standard_normal(self.w.shape)

    def __call__(self, *args: Any, **kwargs: Any) -> float:
        if args or kwargs:
            self.called_with_arguments = True
            raise TypeError("f() takes no arguments")
        self.calls += 1
        if self.calls == self.raise_on:
            raise ObjectiveFailed(f"f raised on purpose, on its call number {self.calls}")
        a, b, c = self.coefficients
        w = self.w.astype(np.float64)  # a float32 w is read in float64, as gradient checks do
        return math.fsum((a * w * w * w + b * w * w * self.x + c * w).ravel().tolist())

    def gradient(self, w: np.ndarray) -> np.ndarray:
        """The exact gradient at ``w``: ``3 a w^2 + 2 b w x + c``."""
        a, b, c = self.coefficients
        w = w.astype(np.float64)
        return 3 * a * w * w + 2 * b * w * self.x + c


@dataclass(frozen=True)
class Case:
    description: str
    make_w: Callable[[], np.ndarray]
    seed: int
    hint: str = "use the centred difference (f(w + h) - f(w - h)) / (2 h) for each entry."


def _transposed_view() -> np.ndarray:
    parent = np.random.default_rng(13).standard_normal((3, 4))
    return parent.T  # (4, 3), a view whose rows are not contiguous: its reshape(-1) is a copy


ANY_SHAPE = "loop over every index of any shape, `for i in np.ndindex(w.shape):`, so that w[i] is one entry."
CASES = (
    Case("w of shape (3, 4)", lambda: np.random.default_rng(10).standard_normal((3, 4)), 20),
    Case("a 1-D w of shape (5,)", lambda: np.random.default_rng(11).standard_normal(5), 21, ANY_SHAPE),
    Case(
        "a 3-D w of shape (2, 3, 2)",
        lambda: np.random.default_rng(12).standard_normal((2, 3, 2)),
        22,
        ANY_SHAPE,
    ),
    Case("a transposed view w = parent.T of shape (4, 3)", _transposed_view, 23),
    Case(
        "a float32 w of shape (3, 4)",
        lambda: np.random.default_rng(14).standard_normal((3, 4)).astype(np.float32),
        24,
    ),
)
NEVER_SAW = (
    "your gradient is all 0: f never saw your perturbation. f reads w itself, so write into w "
    "(w[i] = ...); w.flatten(), w.astype(...), w.copy() and `w = w + ...` make new arrays that f "
    "never reads, and so do w.reshape(-1) and w.ravel() when w is a view that is not contiguous, "
    "such as a transpose."
)


def typical_mistakes(objective: Objective, w: np.ndarray) -> list[tuple[np.ndarray, str]]:
    """The answers that typical mistakes give for this ``objective`` and ``w``, with what to say."""
    h = STEP
    work = w.astype(np.float64)
    saved = objective.w
    objective.w = work  # evaluate on a copy: the learner's w stays untouched
    try:

        def f_at(index: tuple | int, step: float) -> float:
            original = work[index].copy()
            work[index] = original + step
            try:
                return objective()
            finally:
                work[index] = original

        f0 = objective()
        plus = np.array([f_at(i, h) for i in np.ndindex(work.shape)]).reshape(work.shape)
        minus = np.array([f_at(i, -h) for i in np.ndindex(work.shape)]).reshape(work.shape)
        rows = np.zeros_like(work)
        if work.ndim >= 2:
            for i in range(len(work)):  # w[i] with an integer i: a whole row at once
                rows[i] = (f_at(i, h) - f_at(i, -h)) / (2 * h)
    finally:
        objective.w = saved
    centred = (plus - minus) / (2 * h)
    mistakes = [
        (np.zeros_like(work), NEVER_SAW),
        (
            (plus - f0) / h,
            "that is the one-sided difference (f(w + h) - f(w)) / h, whose error is proportional to h "
            "(here about 1e-5); the centred (f(w + h) - f(w - h)) / (2 h) has an error proportional to h^2.",
        ),
        (
            (f0 - minus) / h,
            "that is the one-sided difference (f(w) - f(w - h)) / h, whose error is proportional to h; "
            "use the centred (f(w + h) - f(w - h)) / (2 h).",
        ),
        (
            (plus - minus) / h,
            "your answer is twice the gradient: the two evaluations are 2 h apart, so divide by "
            "2 * h, not h.",
        ),
        (
            (plus - minus) / 2 * h,
            "`/ 2 * h` divides by 2 and then multiplies by h (left to right): write / (2 * h).",
        ),
        (-centred, "the sign is flipped: it is f(w + h) - f(w - h), plus minus minus."),
        (
            (plus - f0) / (2 * h),
            "your answer is about half the gradient: f_minus was evaluated at w, not at w - h. Set "
            "w[i] = original - h (from the saved original) before the second call.",
        ),
    ]
    if work.ndim >= 2:
        mistakes.append(
            (
                rows,
                "with an integer i, w[i] is a whole row of a 2-D w, so you perturbed all of it at once: "
                + ANY_SHAPE,
            )
        )
    return mistakes
