"""Automatic checks for the notebooks' "your turn" exercises.

Each checker takes the learner's function, runs it on inputs where the right
answer is known (from the reference code in ``mlp`` or a gradient check), and
prints ✓ or a precise diagnosis: which tensor, expected against got, a hint.
It never lets a raw NumPy traceback through, and it returns an
``ExerciseResult`` so that a notebook (or a test) can assert on it.

The checkers live in one module per part of the course:
``mlp.exercises.layers`` (notebooks 02–04) and ``mlp.exercises.training``
(notebooks 05–07).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ExerciseResult:
    """What a checker found: ``passed``, and the message it printed."""

    name: str
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return f"{'✓' if self.passed else '✗'} {self.name}: {self.message}"


class Mismatch(Exception):
    """A learner's answer differs from the expected one; the message says how."""


def compare_arrays(
    name: str, got: Any, expected: np.ndarray, *, rtol: float = 1e-6, atol: float = 1e-9, hint: str = ""
) -> None:
    """Raise ``Mismatch`` unless ``got`` is an array of ``expected``'s shape, finite and close to it."""
    hint = f" Hint: {hint}" if hint else ""
    if got is None:
        raise Mismatch(f"{name}: got None. Did you forget a `return`?{hint}")
    try:
        got = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        raise Mismatch(f"{name}: expected an array of numbers, got {type(got).__name__}.{hint}") from None
    if got.shape != expected.shape:
        raise Mismatch(f"{name}: expected shape {expected.shape}, got {got.shape}.{hint}")
    if not np.all(np.isfinite(got)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(got))[0])
        raise Mismatch(f"{name}: contains NaN or inf, first at index {bad}.{hint}")
    if not np.allclose(got, expected, rtol=rtol, atol=atol):
        worst = np.unravel_index(int(np.argmax(np.abs(got - expected))), got.shape)
        worst = tuple(int(i) for i in worst)
        raise Mismatch(
            f"{name}: wrong values; the largest difference is at index {worst}: "
            f"expected {expected[worst]:+.6g}, got {got[worst]:+.6g}.{hint}"
        )


def run_check(name: str, check: Callable[[], str], *, verbose: bool = True) -> ExerciseResult:
    """Run ``check()``, which returns a success message or raises ``Mismatch``.

    Any other exception from the learner's code becomes a diagnosis too: its
    type and message, without the traceback from deep inside NumPy.
    """
    try:
        result = ExerciseResult(name, True, check())
    except Mismatch as e:
        result = ExerciseResult(name, False, str(e))
    except Exception as e:  # the learner's code may raise anything
        result = ExerciseResult(name, False, f"your code raised {type(e).__name__}: {e}")
    if verbose:
        print(result)
    return result
