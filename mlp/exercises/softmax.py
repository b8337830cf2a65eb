"""Checker for notebook 03's softmax: probabilities along each row, without overflow.

* ``check_softmax(fn)`` — ``fn(logits) -> probabilities``, both ``(N, C)``.

The answer is ``mlp.softmax``'s. The checker tries ordinary logits, then rows
like ``[1000, 1001, …]`` and ``[-1000, …]``, where the formula taken literally
overflows (or underflows to 0 / 0), and rows whose spread exceeds what
``exp`` can hold (``[0, 1000, 1000, 1000]``, ``[0, 0, 0, 1500]``), where only
subtracting each row's *maximum* keeps every exponent ``<= 0``: a shift by the
row's minimum or mean, or by anything below the maximum, overflows there.
Then the same kind of rows in float32, the network's dtype, where ``exp``
overflows past 88.7. A wrong answer that equals what a known mistake produces
(no shift, a shift by the row's minimum or mean, the batch's maximum instead
of each row's, the wrong axis) is named.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mlp.exercises.checking import ExerciseResult, call_learner, compare_arrays, hint_for, run_check
from mlp.nn.losses import softmax

__all__ = ["check_softmax"]


# Ordinary logits; then rows where the formula taken literally overflows or underflows; then rows whose
# spread is larger than exp can hold, where a shift by anything less than the row's maximum overflows
# (the minimum fails on both rows, the mean on the last only, so each mistake has its own pattern of NaN
# rows); and the same in float32, the dtype the network's logits have, where exp overflows past 88.7.
TEST_LOGITS = {
    "ordinary logits": 3 * np.random.default_rng(5).standard_normal((4, 5)),
    "rows of ±1000, and rows spread over 1000 and 1500": np.array(
        [
            [1000.0, 1001.0, 1002.0, 999.0],
            [-1000.0, -1001.0, -1002.0, -999.0],
            [0.0, 1.0, 2.0, 3.0],
            [0.0, 1000.0, 1000.0, 1000.0],
            [0.0, 0.0, 0.0, 1500.0],
        ]
    ),
    "float32 rows near 100, and spread over 150 and 200": np.array(
        [
            [0.0, 150.0, 150.0, 150.0],
            [0.0, 0.0, 0.0, 200.0],
            [100.0, 101.0, 102.0, 99.0],
            [-3.0, -1.0, 0.0, 2.0],
        ],
        dtype=np.float32,
    ),
}


def _shifted_by(logits: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Softmax after subtracting ``shift`` (N, 1): right unless an exp overflows, or all underflow."""
    e = np.exp(logits - shift)
    return e / e.sum(axis=1, keepdims=True)


def check_softmax(softmax_fn: Callable[[np.ndarray], Any], *, verbose: bool = True) -> ExerciseResult:
    """Check ``softmax(logits) -> probabilities`` along each row, including huge logits.

    Three batches (``TEST_LOGITS``): ordinary logits ``(4, 5)``; rows like
    ``[1000, 1001, …]``, ``[-1000, …]`` and ``[0, 0, 0, 1500]`` that overflow
    (or underflow to 0/0) unless each row's maximum is subtracted before
    ``exp``; and float32 rows spread over 150 and 200.
    """
    rows_hint = (
        "each row is one sample and must sum to 1; yours normalises each column. "
        "Sum along the classes: e.sum(axis=1, keepdims=True)."
    )

    keepdims_hint = "keepdims=True keeps the summed axis, so (N, C) / (N, 1) divides each row by its own sum."

    def check() -> str:
        for description, logits in TEST_LOGITS.items():
            with np.errstate(all="ignore"):  # a wrong answer gets a diagnosis, not a warning
                naive = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
                by_min = _shifted_by(logits, logits.min(axis=1, keepdims=True))
                by_mean = _shifted_by(logits, logits.mean(axis=1, keepdims=True))
                shifted_globally = np.exp(logits - logits.max())
                global_max = shifted_globally / shifted_globally.sum(axis=1, keepdims=True)
                whole_batch = shifted_globally / shifted_globally.sum()
                by_column = np.exp(logits - logits.max(axis=0))
                by_column /= by_column.sum(axis=0)
            got = call_learner("softmax", softmax_fn, {"logits": logits}, keepdims_hint)
            compare_arrays(
                f"probabilities, for {description},",
                got,
                softmax(logits.astype(np.float64)),
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
                            by_min,
                            "you subtracted each row's minimum: then the largest exponent is the row's "
                            "spread, max - min, which overflows once it passes about 709 (88.7 in "
                            "float32). Subtract each row's maximum, so that every exponent is <= 0.",
                        ),
                        (
                            by_mean,
                            "you subtracted each row's mean: then the largest exponent is max - mean, which "
                            "overflows for a row like [0, 0, 0, 1500]. Only the maximum makes every "
                            "exponent <= 0: subtract each row's maximum.",
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
        return (
            "rows sum to 1 and match mlp.softmax, also for logits of ±1000 and rows spread over 1500 "
            "(float64) or 200 (float32): no overflow, no NaN."
        )

    return run_check(
        "softmax",
        check,
        first_hint="exponentiate, then divide each row by its own sum; before exp, subtract each row's "
        "maximum, which changes nothing mathematically (softmax ignores a shift) and makes every "
        "exponent <= 0, so that exp cannot overflow.",
        more_help="shifted = logits - logits.max(axis=1, keepdims=True); e = np.exp(shifted); "
        "return e / e.sum(axis=1, keepdims=True)  (keepdims: (N, C) / (N, 1) divides each row by its sum).",
        verbose=verbose,
        keep=softmax_fn,
    )
