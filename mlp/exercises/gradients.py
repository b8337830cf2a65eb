"""Checker for notebook 02's exercise: the numerical gradient, the tool that checks every other gradient.

* ``check_numerical_gradient(fn)`` — ``fn(f, w, h) -> gradient``: ``f()`` takes no
  argument, reads the array ``w`` and returns a float; the answer is the centred
  difference ``(f(w + h e_i) - f(w - h e_i)) / (2 h)`` for every index ``i`` of
  ``w``, as a float64 array of ``w``'s shape, with ``w`` perturbed in place and
  put back exactly as it was, even when ``f`` raises.

The checker runs the learner's function on the arrays of ``gradient_cases``,
then on an ``f`` that raises halfway. It compares the answer with the exact
gradient through the relative error, which it prints, and names the mistake
when the answer is the one a typical mistake gives (a one-sided difference,
``/ h`` or ``/ 2 * h``, a loop over a copy or over whole rows); it checks that
``w`` is left exactly as it was (not restored, restored by adding ``h`` back,
not restored when ``f`` raised, overwritten by a gradient that shares its
memory) and that the gradient is float64.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from mlp.course.numbers import significant
from mlp.exercises.checking import ExerciseResult, Mismatch, NotWrittenYet, compare_arrays, run_check
from mlp.exercises.gradient_cases import (
    ANY_SHAPE,
    CASES,
    STEP,
    Case,
    Objective,
    ObjectiveFailed,
    typical_mistakes,
)
from mlp.nn.gradcheck import relative_error

__all__ = ["check_numerical_gradient"]

TOLERANCE = 1e-7  # the course's threshold for a relative error; a centred difference gets ~1e-10 here
RAISE_ON_CALL = 3  # the call of f that raises in the last case: while the second entry is perturbed
THRESHOLD, STEP_TEXT = significant(TOLERANCE, 1), significant(STEP, 1)  # "1e-7", "1e-5"


def check_numerical_gradient(
    numerical_gradient: Callable[[Callable[[], float], np.ndarray, float], Any], *, verbose: bool = True
) -> ExerciseResult:
    """Check ``numerical_gradient(f, w, h) -> gradient`` (centred differences, ``w`` restored)."""

    def check() -> str:
        worst = 0.0
        for case in CASES:
            w = case.make_w()
            objective = Objective(w, case.seed)
            worst = max(worst, _run(numerical_gradient, objective, w, case))
        _check_restored_when_f_raises(numerical_gradient)
        return (
            f"centred differences, relative error {significant(worst, 1)} at most (threshold {THRESHOLD}) "
            "for 2-D, 1-D and 3-D arrays, a transposed view and float32; w restored exactly, even when "
            "f raised."
        )

    return run_check(
        "numerical_gradient",
        check,
        first_hint="change one entry of w at a time: evaluate f() with that entry nudged up by h and "
        "nudged down by h, and the slope along it is the difference of the two over 2 h. Put the entry "
        "back as it was, even if f raises, and work for a w of any shape.",
        more_help="for index in np.ndindex(w.shape): original = w[index]; then, in a try, w[index] = "
        "original + h; f_plus = f(); w[index] = original - h; f_minus = f(); and in the `finally:` "
        "w[index] = original; the estimate is grad[index] = (f_plus - f_minus) / (2 * h).",
        verbose=verbose,
        keep=numerical_gradient,
    )


def _call(
    numerical_gradient: Callable[..., Any], objective: Objective, w: np.ndarray, description: str
) -> Any:
    """The learner's answer, or a ``Mismatch`` naming what went wrong while computing it."""
    try:
        with np.errstate(all="ignore"):  # NaN and inf get a diagnosis, not a warning
            return numerical_gradient(objective, w, STEP)
    except NotImplementedError:
        raise NotWrittenYet(
            "not written yet: replace `raise NotImplementedError` in numerical_gradient with your code."
        ) from None
    except Exception as e:  # the learner's code may raise anything
        if objective.called_with_arguments:
            raise Mismatch(
                "you called f with an argument: f takes none. It reads w, the array you perturb in place, "
                "so call f() after each change of w."
            ) from None
        first_line = next(iter(str(e).strip().splitlines()), "")
        hint = (
            f". Hint: {ANY_SHAPE}"
            if w.ndim != 2 and isinstance(e, IndexError | TypeError | ValueError)
            else ""
        )
        raise Mismatch(
            f"for {description}, your numerical_gradient raised {type(e).__name__}: {first_line}{hint}"
        ) from None


def _run(numerical_gradient: Callable[..., Any], objective: Objective, w: np.ndarray, case: Case) -> float:
    """Run one case; return the relative error in float64 (0 in float32), or raise ``Mismatch``."""
    before = w.copy()
    # The float32 case reuses the float64 answers of the mistakes: only "all zeros" can match there.
    mistakes = typical_mistakes(objective, w)  # computed on a copy; objective.calls is reset below
    objective.calls = 0
    got = _call(numerical_gradient, objective, w, case.description)
    where = f"for {case.description}"

    if isinstance(got, np.ndarray) and np.shares_memory(got, w):
        raise Mismatch(
            f"{where}: the gradient you returned shares memory with w (`grad = w` or `w[:]` is the same "
            "array, not a new one), so filling it overwrote w. Start from np.zeros(w.shape)."
        )
    _check_unchanged(w, before, where)

    exact = objective.gradient(before)
    in_float64 = w.dtype == np.float64
    hint = _looks_like(got, mistakes) or case.hint
    got = _as_gradient(got, w, where, hint)
    if not in_float64:  # a float32 w + h is rounded, a step off by up to 0.3 %: the values need only be close
        compare_arrays(f"gradient ({where})", got, exact, rtol=1e-2, atol=1e-3, hint=hint)
    error = relative_error(got, exact) if in_float64 else 0.0
    if not error < TOLERANCE:
        raise Mismatch(
            f"{where}: relative error {significant(error)} against the exact gradient (threshold "
            f"{THRESHOLD}). "
            f"Hint: {hint}"
        )
    if got.dtype != np.float64:
        raise Mismatch(
            f"{where}: the values are right but the gradient is {got.dtype}. Return float64 "
            "(np.zeros(w.shape), or np.zeros_like(w, dtype=np.float64)): np.zeros_like(w) copies a float32 "
            "w's dtype, and float32 keeps 7 digits, so every relative error you computed from it would sit "
            "near 1e-7, the very threshold of a gradient check."
        )
    return error


def _as_gradient(got: Any, w: np.ndarray, where: str, hint: str) -> np.ndarray:
    """``got`` as an array of ``w``'s shape with finite numbers, or a ``Mismatch`` saying what it is."""
    if got is None:
        raise Mismatch(f"{where}: numerical_gradient returned None. Did you forget `return grad`?")
    array = np.asarray(got)
    if array.dtype.kind not in "fiu":
        raise Mismatch(f"{where}: expected an array of numbers, got {type(got).__name__}.")
    if array.shape != w.shape:
        wanted = " Hint: return an array of w's shape." if array.size == w.size else f" Hint: {hint}"
        raise Mismatch(f"{where}: expected a gradient of w's shape {w.shape}, got {array.shape}.{wanted}")
    if not np.all(np.isfinite(array)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise Mismatch(f"{where}: the gradient contains NaN or inf, first at index {bad}. Hint: {hint}")
    return array


def _looks_like(got: Any, mistakes: list[tuple[np.ndarray, str]]) -> str:
    """What to say if ``got`` is the answer of one of the ``mistakes``, else ``""``.

    Relative closeness only: a mistake's answer can be a million times
    smaller than the gradient (``/ 2 * h``), and must not pass for zero.
    """
    try:
        array = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return ""
    for wrong, hint in mistakes:
        if array.shape == wrong.shape and np.allclose(array, wrong, rtol=1e-6, atol=0):
            return hint
    return ""


def _check_unchanged(w: np.ndarray, before: np.ndarray, where: str) -> None:
    if np.array_equal(w, before):
        return
    changed = tuple(int(i) for i in np.argwhere(w != before)[0])
    shift = float(w[changed]) - float(before[changed])
    if math.isclose(abs(shift), STEP, rel_tol=1e-3):
        sign = "+" if shift > 0 else "-"
        raise Mismatch(
            f"{where}: w was not restored: w{list(changed)} is still off by {sign}h = {sign}{STEP_TEXT}. "
            "After the two evaluations put the original value back (w[i] = original), or the next "
            "entries, and whoever reads w after you, see a perturbed array."
        )
    if abs(shift) < 1e-9 * max(1.0, abs(float(before[changed]))):
        raise Mismatch(
            f"{where}: w is not exactly as it was: w{list(changed)} moved by {shift:+.1e}. Adding h and "
            "taking it away again is rounded (in float64, 0.1 + 1e-5 - 2e-5 + 1e-5 is not 0.1): save "
            "original = w[i] before perturbing it, and assign it back."
        )
    raise Mismatch(
        f"{where}: numerical_gradient changed w: w{list(changed)} is {float(w[changed]):+.6g} instead of "
        f"{float(before[changed]):+.6g}. Perturb one entry at a time and put it back."
    )


def _check_restored_when_f_raises(numerical_gradient: Callable[..., Any]) -> None:
    w = np.random.default_rng(15).standard_normal((3, 4))
    before = w.copy()
    objective = Objective(w, 25, raise_on=RAISE_ON_CALL)
    perturbed = np.unravel_index(1, w.shape)  # f's third call is the second entry's f(w + h)
    where = f"when f raised (on its call number {RAISE_ON_CALL}, with w{list(map(int, perturbed))} perturbed)"
    try:
        with np.errstate(all="ignore"):
            numerical_gradient(objective, w, STEP)
    except ObjectiveFailed:
        pass
    except Exception as e:  # the learner's code may raise anything
        raise Mismatch(
            f"{where}, your numerical_gradient raised {type(e).__name__} instead of f's error."
        ) from None
    else:
        raise Mismatch(
            f"{where}, your numerical_gradient returned as if nothing happened: do not catch f's exception "
            "(a gradient made of guesses is worse than an error). Let it propagate, and restore w[i] in "
            "`finally:`."
        )
    if not np.array_equal(w, before):
        raise Mismatch(
            f"{where}: w was left perturbed. Put the two evaluations in `try:` and the restore "
            "`w[i] = original` in `finally:`, which runs even when f raises."
        )
