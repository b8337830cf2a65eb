"""The machinery every exercise checker shares: run the learner's code safely, compare, diagnose.

Each checker takes the learner's function, runs it on inputs where the right
answer is known (from the reference code in ``mlp`` or a gradient check), and
prints ✓ or a precise diagnosis: which tensor, expected against got, a hint.
It never lets a raw NumPy traceback through, and it returns an
``ExerciseResult`` so that a notebook (or a test) can assert on it.

An exercise ships as a stub that raises ``NotImplementedError``; until the
learner replaces it, the checker says so (✎ ... not written yet) with a
first hint, instead of calling it wrong.

Hints come in two levels. The first, printed by the checker, is conceptual:
what to compute and why, never the code. The second, with code, comes only
when asked for: ``result.hint(2)`` on the ``ExerciseResult`` a checker returned.
No message prints a complete solution, not even when the learner's code raises.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ExerciseResult:
    """What a checker found: ``passed``, ``not_written`` (still the stub), and the message it printed.

    ``hints`` are the exercise's hints, conceptual first, code last: ``hint(2)``
    shows the second. ``printed`` says whether the checker already printed the
    result, so that a notebook cell ending with the checker's call does not
    show it a second time (as the result's repr).
    """

    name: str
    passed: bool
    message: str
    not_written: bool = False
    hints: tuple[str, ...] = field(default=(), repr=False, compare=False)
    printed: bool = field(default=False, repr=False, compare=False)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        mark = "✓" if self.passed else "✎" if self.not_written else "✗"
        return f"{mark} {self.name}: {self.message}"

    def hint(self, level: int = 1) -> str:
        """Print and return hint number ``level``: 1 says what to compute, 2 shows code for it."""
        if not self.hints:
            text = f"{self.name}: this exercise has no hints."
        else:
            level = min(max(int(level), 1), len(self.hints))
            text = f"{self.name}, hint {level} of {len(self.hints)}: {self.hints[level - 1]}"
        print(text)
        return text

    def _ipython_display_(self) -> None:
        # A cell ending with `check_x(x)` would otherwise echo the result's repr under what was printed.
        if not self.printed:
            print(self)


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


MORE_HELP = "More help, with code: .hint(2) on the result this checker returned."


def run_check(
    name: str,
    check: Callable[[], str],
    *,
    first_hint: str = "",
    more_help: str = "",
    verbose: bool = True,
    keep: Any = None,
) -> ExerciseResult:
    """Run ``check()``, which returns a success message or raises ``Mismatch``.

    Any other exception from the learner's code becomes a diagnosis too: its
    type and message, without the traceback from deep inside NumPy. A stub
    that is not written yet gets ``first_hint``, to start from: what to
    compute, not the code. ``more_help``, the code, is kept in the result for
    ``result.hint(2)``. On ✓, ``keep`` (the learner's function or class) is
    kept by ``mlp.exercises.yours`` for the notebooks after this one, which
    build the learner's network from it.
    """
    hints = tuple(h for h in (first_hint, more_help) if h)
    try:
        passed, message, not_written = True, check(), False
    except NotWrittenYet as e:
        hint = f" First hint: {first_hint}" if first_hint else ""
        pointer = f" {MORE_HELP}" if more_help else ""
        passed, message, not_written = False, f"{e}{hint}{pointer}", True
    except Mismatch as e:
        passed, message, not_written = False, str(e), False
    except Exception as e:  # the learner's code may raise anything
        passed, message, not_written = False, f"your code raised {type(e).__name__}: {e}", False
    result = ExerciseResult(name, passed, message, not_written, hints=hints, printed=verbose)
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
    overflow: str = "ignore",
) -> Any:
    """Call the learner's ``fn`` on copies of ``arguments``, then check it left them unchanged.

    An exception from the learner's code becomes a one-line ``Mismatch``: the
    traceback from deep inside NumPy would say where, not what is wrong; a
    shape error adds the shapes at hand. ``hint`` must not be the solution:
    it says what to compute. ``fixes`` says, per argument, how to compute
    without writing into it. ``overflow="raise"`` lets an overflow inside the
    learner's code through as ``FloatingPointError``, for the checkers where
    an overflow is a mistake even when the answer comes out right.
    """
    copies = {name: v.copy() if isinstance(v, np.ndarray) else v for name, v in arguments.items()}
    try:
        with np.errstate(all="ignore", over=overflow):  # NaN and inf get a diagnosis, not a warning
            result = fn(*copies.values())
    except NotImplementedError:
        raise NotWrittenYet(
            f"not written yet: replace `raise NotImplementedError` in {function_name} with your code."
        ) from None
    except Exception as e:  # the learner's code may raise anything
        if isinstance(e, FloatingPointError) and overflow == "raise":
            raise  # the caller asked for it: it names the overflow
        first_line = next(iter(str(e).strip().splitlines()), "").rstrip(".")
        raise Mismatch(
            f"your {function_name} raised {type(e).__name__}: {first_line}."
            + _shapes_hint(e, arguments)
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


def _shapes_hint(error: Exception, arguments: dict[str, Any]) -> str:
    """For NumPy's shape errors (a matrix product or a broadcast that does not fit), the shapes at hand."""
    text = str(error)
    if not isinstance(error, ValueError) or not any(
        word in text for word in ("matmul", "broadcast", "shapes", "aligned", "core dimension")
    ):
        return ""
    shapes = ", ".join(f"{name} {v.shape}" for name, v in arguments.items() if isinstance(v, np.ndarray))
    if any(word in text for word in ("matmul", "aligned", "core dimension")):
        rule = "a product (a, b) @ (c, d) needs b == c"
    else:
        rule = (
            "arrays combined entry by entry, or a slice assigned to, need the same size on each axis (or 1)"
        )
    return f" The shapes did not fit: the arrays given are {shapes}, and {rule}."


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
    ``by_shape`` does the same for a wrong shape. A checker chooses its test
    constants so that different mistakes give different answers; where a case
    cannot tell two apart (Adam's first step, from m = 0, makes the
    bias-corrected m_hat equal to the gradient), every mistake the answer
    matches is named, so that no diagnosis is another mistake's alone.
    """
    if got is None:
        return ""  # compare_arrays already asks about the missing `return`
    try:
        array = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return default
    matching: list[str] = []
    for wrong, hint in by_value:
        same = array.shape == wrong.shape and np.allclose(array, wrong, rtol=1e-6, atol=1e-9, equal_nan=True)
        if same and hint not in matching:
            matching.append(hint)
    if len(matching) == 1:
        return matching[0]
    if matching:
        return "this answer is what more than one mistake gives here. " + " Or: ".join(matching)
    return (by_shape or {}).get(array.shape, default)
