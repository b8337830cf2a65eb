"""Checker for notebook 03's loss gradient: ``dL/dz = (p - onehot(y)) / N`` for the mean cross-entropy.

* ``check_loss_gradient(fn)`` — ``fn(p, labels) -> grad``: ``p (N, C)`` the softmax
  probabilities of a batch, ``labels (N,)`` the true classes, ``grad (N, C)``.

The right answer is computed here independently of ``mlp`` (a one-hot matrix
from ``np.eye``), and checked against a numerical gradient of the mean loss by
the test suite. Two batches, ``N = 5, C = 4`` and ``N = 3, C = 10`` (never
``N = C``, so that rows and columns cannot be swapped by accident), so a
gradient that forgets the ``1/N`` of the mean, or divides by the number of
classes instead, cannot match both. The usual mistakes are named: the missing
``1/N``, ``1/C``, the sign, the one-hot forgotten or subtracted from every
entry, the rows indexed by the labels, and writing into ``p``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mlp.exercises.checking import ExerciseResult, call_learner, compare_arrays, hint_for, run_check

__all__ = ["check_loss_gradient", "loss_gradient_reference"]

FIRST_HINT = (
    "differentiate L = -(1/N) sum_n log p[n, y_n] with respect to each logit z[n, k], as section 7 does "
    "for one sample: every row gets p minus its one-hot label, and the mean over the batch divides by N."
)
MORE_HELP = (
    "grad = p.copy(); grad[np.arange(len(p)), labels] -= 1 (the one-hot, subtracted row by row); "
    "return grad / len(p)."
)
FIXES = {
    "p": "start from a copy, grad = p.copy(), then subtract 1 at [np.arange(N), labels] and divide.",
    "labels": "only read the labels.",
}


def loss_gradient_reference(p: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``(p - onehot(labels)) / N``, in float64."""
    p = np.asarray(p, dtype=np.float64)
    return (p - np.eye(p.shape[1])[labels]) / len(p)


def check_loss_gradient(
    loss_gradient: Callable[[np.ndarray, np.ndarray], Any], *, verbose: bool = True
) -> ExerciseResult:
    """Check ``loss_gradient(p, labels) -> dL/dz`` of the mean softmax cross-entropy.

    Shapes: ``p (N, C)`` probabilities (rows sum to 1), ``labels (N,)`` ints,
    the answer ``(N, C)``.
    """

    def check() -> str:
        rng = np.random.default_rng(8)
        for n, c in ((5, 4), (3, 10)):
            logits = 2 * rng.standard_normal((n, c))
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            labels = rng.integers(0, c, n)
            labels[0] = labels[-1]  # a repeated class, so that per-class mistakes show
            got = call_learner("loss_gradient", loss_gradient, {"p": p, "labels": labels}, fixes=FIXES)
            expected = loss_gradient_reference(p, labels)
            onehot = np.eye(c)[labels]
            by_label_rows = p.copy()  # what p[labels] -= 1 gives, where the labels are valid row numbers
            by_label_rows[labels[labels < n]] -= 1
            compare_arrays(
                f"dL/dz (N = {n} samples, C = {c} classes)",
                got,
                expected,
                hint=hint_for(
                    got,
                    "dL/dz = (p - onehot(labels)) / N: subtract 1 at each row's true class, divide by N.",
                    by_value=[
                        (
                            p - onehot,
                            f"the 1/N is missing: L is the MEAN over the N = {n} samples, so each sample's "
                            "gradient carries a factor 1/N. Without it every step is N times too long, and "
                            "the learning rate you tune depends on the batch size.",
                        ),
                        (
                            (p - onehot) / c,
                            f"you divided by the number of classes C = {c}; the mean is over the N = {n} "
                            "samples: divide by N = len(p).",
                        ),
                        (
                            (onehot - p) / n,
                            "the sign is flipped: dL/dz = (p - onehot) / N, not (onehot - p) / N.",
                        ),
                        (
                            p / n,
                            "the one-hot label is missing: each row's true class gets p - 1, the others p.",
                        ),
                        (
                            (p - 1) / n,
                            "you subtracted 1 from every entry; only the true class's entry gets -1.",
                        ),
                        (
                            by_label_rows / n,
                            "p[labels] -= 1 picks ROWS numbered by the labels; the true class of row n is "
                            "column labels[n]: index with [np.arange(N), labels].",
                        ),
                    ],
                    by_shape={
                        (n,): "return the whole (N, C) gradient, one entry per logit, not one per sample."
                    },
                ),
            )
        return "(p - onehot) / N on batches of 5 × 4 and 3 × 10, the probabilities left untouched."

    return run_check(
        "loss_gradient",
        check,
        first_hint=FIRST_HINT,
        more_help=MORE_HELP,
        verbose=verbose,
        keep=loss_gradient,
    )
