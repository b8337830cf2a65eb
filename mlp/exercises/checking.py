"""The machinery every exercise checker shares: run the learner's code safely, compare, diagnose.

Each checker takes the learner's function, runs it on inputs where the right
answer is known (from the reference code in ``mlp`` or a gradient check), and
prints ✓ or a precise diagnosis: which tensor, expected against got, a hint.
It never lets a raw NumPy traceback through, and it returns an
``ExerciseResult`` so that a notebook (or a test) can assert on it.

An exercise ships as a stub that raises ``NotImplementedError``; until the
learner replaces it, the checker says so (✎ ... not written yet) with a
first hint, instead of calling it wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ExerciseResult:
    """What a checker found: ``passed``, ``not_written`` (still the stub), and the message it printed."""

    name: str
    passed: bool
    message: str
    not_written: bool = False

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        mark = "✓" if self.passed else "✎" if self.not_written else "✗"
        return f"{mark} {self.name}: {self.message}"


class Mismatch(Exception):
    """A learner's answer differs from the expected one; the message says how."""


class NotWrittenYet(Mismatch):
    """The learner's function is still the stub: it raises ``NotImplementedError``."""


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


def run_check(
    name: str,
    check: Callable[[], str],
    *,
    first_hint: str = "",
    verbose: bool = True,
    keep: Any = None,
) -> ExerciseResult:
    """Run ``check()``, which returns a success message or raises ``Mismatch``.

    Any other exception from the learner's code becomes a diagnosis too: its
    type and message, without the traceback from deep inside NumPy. A stub
    that is not written yet gets ``first_hint``, to start from. On ✓, ``keep``
    (the learner's function or class) is kept by ``mlp.exercises.yours`` for
    the notebooks after this one, which build the learner's network from it.
    """
    try:
        result = ExerciseResult(name, True, check())
    except NotWrittenYet as e:
        hint = f" First hint: {first_hint}" if first_hint else ""
        result = ExerciseResult(name, False, f"{e}{hint}", not_written=True)
    except Mismatch as e:
        result = ExerciseResult(name, False, str(e))
    except Exception as e:  # the learner's code may raise anything
        result = ExerciseResult(name, False, f"your code raised {type(e).__name__}: {e}")
    if verbose:
        print(result)
    if result.passed and keep is not None:
        from mlp.exercises.yours import keep as keep_answer  # here: yours imports the checkers lazily

        keep_answer(name, keep)
    return result


def call_learner(
    function_name: str,
    fn: Callable[..., Any],
    arguments: dict[str, Any],
    hint: str = "",
    fixes: dict[str, str] | None = None,
) -> Any:
    """Call the learner's ``fn`` on copies of ``arguments``, then check it left them unchanged.

    An exception from the learner's code becomes a one-line ``Mismatch``: the
    traceback from deep inside NumPy would say where, not what is wrong.
    ``fixes`` says, per argument, how to compute without writing into it.
    """
    copies = {name: v.copy() if isinstance(v, np.ndarray) else v for name, v in arguments.items()}
    try:
        with np.errstate(all="ignore"):  # NaN and inf in the answer get a diagnosis, not a warning
            result = fn(*copies.values())
    except NotImplementedError:
        raise NotWrittenYet(
            f"not written yet: replace `raise NotImplementedError` in {function_name} with your code."
        ) from None
    except Exception as e:  # the learner's code may raise anything
        first_line = next(iter(str(e).strip().splitlines()), "").rstrip(".")
        raise Mismatch(
            f"your {function_name} raised {type(e).__name__}: {first_line}."
            + (f" Hint: {hint}" if hint else "")
        ) from None
    for name, original in arguments.items():
        if isinstance(original, np.ndarray) and not np.array_equal(copies[name], original, equal_nan=True):
            fix = (fixes or {}).get(name, f"compute a new array (`{name} * 2`) instead of `{name} *= 2`.")
            raise Mismatch(
                f"{function_name} changed its argument `{name}` in place (`{name} *= ...`, `{name} -= ...` "
                f"or `{name}[...] = ...`); the caller still holds that array: {fix}"
            )
    return result


def unpack_tuple(function_name: str, result: Any, names: Sequence[str]) -> tuple[Any, ...]:
    """The learner's ``return a, b, c`` as a tuple, or a Mismatch saying what came back instead."""
    wanted = f"({', '.join(names)})"
    if result is None:
        raise Mismatch(f"{function_name} returned None. Did you forget `return {', '.join(names)}`?")
    if not isinstance(result, tuple | list) or len(result) != len(names):
        raise Mismatch(f"{function_name} should return the tuple {wanted}, but returned {_describe(result)}.")
    return tuple(result)


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, tuple | list):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"


def collect_mismatches(*checks: Callable[[], None]) -> list[str]:
    """Run each comparison; return the messages of those that failed, so all are reported at once."""
    problems = []
    for check in checks:
        try:
            check()
        except Mismatch as e:
            problems.append(str(e))
    return problems


def hint_for(
    got: Any,
    default: str,
    *,
    by_value: Sequence[tuple[np.ndarray, str]] = (),
    by_shape: dict[tuple[int, ...], str] | None = None,
) -> str:
    """The hint for a typical mistake that ``got`` looks like, else ``default``.

    ``by_value`` pairs the answer a known mistake produces with what to say
    about it (NaN matching NaN, so that an overflow's pattern is recognised);
    ``by_shape`` does the same for a wrong shape.
    """
    if got is None:
        return ""  # compare_arrays already asks about the missing `return`
    try:
        array = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return default
    for wrong, hint in by_value:
        if array.shape == wrong.shape and np.allclose(array, wrong, rtol=1e-6, atol=1e-9, equal_nan=True):
            return hint
    return (by_shape or {}).get(array.shape, default)
