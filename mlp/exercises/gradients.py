"""Checker for notebook 02's exercise: the numerical gradient, the tool that checks every other gradient.

* ``check_numerical_gradient(fn)`` — ``fn(f, w, h) -> gradient``: ``f()`` takes no
  argument, reads the array ``w`` and returns a float; the answer is the centred
  difference ``(f(w + h e_i) - f(w - h e_i)) / (2 h)`` for every index ``i`` of
  ``w``, as a float64 array of ``w``'s shape, with ``w`` perturbed in place and
  put back exactly as it was, even when ``f`` raises.

The function differentiated is a cubic polynomial of ``w`` (summed with
``math.fsum``, so that every machine gets the same bits), whose exact gradient
is known: a centred difference is then off by ``h^2`` times a constant, a
one-sided one by ``h``, and every typical mistake has a recognisable answer.
The checker runs the learner's function on several arrays, each chosen to
expose one of them: a 2-D array, a 1-D and a 3-D one (a loop written for two
axes), a transposed view (``w.reshape(-1)`` is then a copy, which ``f`` never
reads), a float32 array (``np.zeros_like(w)`` is then float32), and an ``f``
that raises halfway (``w`` must still be restored).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlp.exercises.checking import (
    ExerciseResult,
    Mismatch,
    NotWrittenYet,
    compare_arrays,
    run_check,
)
from mlp.nn.gradcheck import relative_error

__all__ = ["check_numerical_gradient"]

STEP = 1e-5  # the h passed to the learner's function: mlp.nn.gradcheck's default
TOLERANCE = 1e-7  # the course's threshold for a relative error; a centred difference gets ~1e-10 here
RAISE_ON_CALL = 3  # the call of f that raises in the last case: while the second entry is perturbed


class ObjectiveFailed(RuntimeError):
    """What the checker's ``f`` raises on purpose, to see whether ``w`` is restored all the same."""


@dataclass
class Objective:
    """``f() = sum(a w^3 + b w^2 x + c w)``, reading ``w`` (and ``x``, which must stay untouched).

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
            f"centred differences, relative error {_short(worst)} at most (threshold {_short(TOLERANCE)}) "
            "for 2-D, 1-D and 3-D arrays, a transposed view and float32; w restored exactly, even when "
            "f raised."
        )

    return run_check(
        "numerical_gradient",
        check,
        first_hint="for each index i of w (np.ndindex(w.shape)), keep original = w[i]; set "
        "w[i] = original + h and call f(), then w[i] = original - h and call f() again; put "
        "w[i] = original back (in a `finally:`), and store (f_plus - f_minus) / (2 * h) in a float64 "
        "array of w's shape.",
        verbose=verbose,
    )


def _short(value: float, digits: int = 1) -> str:
    """``4.5e-6``, the way the course writes small numbers (Python's ``.1e`` writes ``4.5e-06``)."""
    if value == 0 or abs(value) >= 0.01:
        return f"{value:.{digits}g}"
    mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
    return f"{mantissa}e{int(exponent)}"


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
    x_before = objective.x.copy()
    # The float32 case reuses the float64 answers of the mistakes: only "all zeros" can match there.
    mistakes = _typical_mistakes(objective, w)  # computed on a copy; objective.calls is reset below
    objective.calls = 0
    got = _call(numerical_gradient, objective, w, case.description)
    where = f"for {case.description}"

    if isinstance(got, np.ndarray) and np.shares_memory(got, w):
        raise Mismatch(
            f"{where}: the gradient you returned shares memory with w (`grad = w` or `w[:]` is the same "
            "array, not a new one), so filling it overwrote w. Start from np.zeros(w.shape)."
        )
    _check_unchanged(w, before, where)
    if not np.array_equal(objective.x, x_before):
        raise Mismatch(f"{where}: f's other input x changed: only w may be perturbed, and only for a moment.")

    exact = objective.gradient(before)
    in_float64 = w.dtype == np.float64
    hint = _looks_like(got, mistakes) or case.hint
    got = _as_gradient(got, w, where, hint)
    if not in_float64:  # a float32 w + h is rounded, a step off by up to 0.3 %: the values need only be close
        compare_arrays(f"gradient ({where})", got, exact, rtol=1e-2, atol=1e-3, hint=hint)
    error = relative_error(got, exact) if in_float64 else 0.0
    if not error < TOLERANCE:
        raise Mismatch(
            f"{where}: relative error {_short(error, 2)} against the exact gradient (threshold "
            f"{_short(TOLERANCE)}). "
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
            f"{where}: w was not restored: w{list(changed)} is still off by {sign}h = {sign}{_short(STEP)}. "
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


def _typical_mistakes(objective: Objective, w: np.ndarray) -> list[tuple[np.ndarray, str]]:
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
