"""Checker for notebook 03's softmax: probabilities along each row, without overflow.

* ``check_softmax(fn)`` — ``fn(logits) -> probabilities``, both ``(N, C)``.

The answer is ``mlp.softmax``'s. The checker tries ordinary logits, then rows
like ``[1000, 1001, …]`` and ``[-1000, …]``, where the formula taken literally
overflows (or underflows to 0 / 0); a wrong answer that equals what a known
mistake produces (no shift, the batch's maximum instead of each row's, the
wrong axis) is named.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mlp.exercises.checking import ExerciseResult, call_learner, compare_arrays, hint_for, run_check
from mlp.nn.losses import softmax

__all__ = ["check_softmax"]


def check_softmax(softmax_fn: Callable[[np.ndarray], Any], *, verbose: bool = True) -> ExerciseResult:
    """Check ``softmax(logits) -> probabilities`` along each row, including huge logits.

    Two batches: ordinary logits ``(4, 5)``, then rows like ``[1000, 1001, …]``
    and ``[-1000, …]`` that overflow (or underflow to 0/0) unless each row's
    maximum is subtracted before ``exp``.
    """
    rows_hint = (
        "each row is one sample and must sum to 1; yours normalises each column. "
        "Sum along the classes: e.sum(axis=1, keepdims=True)."
    )

    keepdims_hint = "keepdims=True keeps the summed axis, so (N, C) / (N, 1) divides each row by its own sum."

    def check() -> str:
        ordinary = 3 * np.random.default_rng(5).standard_normal((4, 5))
        huge = np.array(
            [
                [1000.0, 1001.0, 1002.0, 999.0],
                [-1000.0, -1001.0, -1002.0, -999.0],
                [0.0, 1.0, 2.0, 3.0],
            ]
        )
        for logits in (ordinary, huge):
            with np.errstate(all="ignore"):  # a wrong answer gets a diagnosis, not a warning
                naive = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
                shifted_globally = np.exp(logits - logits.max())
                global_max = shifted_globally / shifted_globally.sum(axis=1, keepdims=True)
                whole_batch = shifted_globally / shifted_globally.sum()
                by_column = np.exp(logits - logits.max(axis=0))
                by_column /= by_column.sum(axis=0)
            got = call_learner("softmax", softmax_fn, {"logits": logits}, keepdims_hint)
            compare_arrays(
                "probabilities",
                got,
                softmax(logits),
                hint=hint_for(
                    got,
                    "p_k = exp(z_k - max(z)) / sum_j exp(z_j - max(z)), along each row.",
                    by_value=[
                        (
                            naive,
                            "exp(1000) overflows to inf, and inf / inf is NaN (and exp(-1000) underflows "
                            "to 0 / 0). Subtract each row's maximum before exp: softmax does not change "
                            "under a shift, and then every exp is of a number <= 0.",
                        ),
                        (
                            global_max,
                            "you subtracted the maximum of the whole batch; a row far below it underflows "
                            "to 0 / 0. Subtract each row's own maximum: logits.max(axis=1, keepdims=True).",
                        ),
                        (by_column, rows_hint),
                        (
                            whole_batch,
                            "you divided by the sum over the whole batch; divide each row by its own sum: "
                            "e.sum(axis=1, keepdims=True).",
                        ),
                    ],
                    by_shape={(len(logits),): "return one probability per class: shape (N, C), like logits."},
                ),
            )
        return "rows sum to 1 and match mlp.softmax, also for logits of ±1000 (no overflow, no NaN)."

    return run_check(
        "softmax",
        check,
        first_hint="exponentiate, then divide each row by its own sum (axis=1, keepdims=True); before "
        "exp, subtract each row's maximum, which changes nothing mathematically and keeps exp from "
        "overflowing.",
        verbose=verbose,
        keep=softmax_fn,
    )
