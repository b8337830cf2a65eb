"""The checker of notebook 09's exercise: mixing old examples into each batch of new ones (replay).

* ``check_replay_batch(fn)`` — ``fn(x_new, y_new, x_old, y_old, n_new, n_old, rng) -> (x_batch, y_batch)``:
  one fine-tuning batch of ``n_new`` examples drawn from the new ones and
  ``n_old`` drawn from the old ones, every image with its own label, drawn
  with the generator ``rng`` it is given.

The new examples are drawn *with* replacement: there are usually fewer of
them than places in the batch. The old ones must be drawn *without*: a
batch's old rows are all different. That is a decision, not a matter of
taste: each old row is there to hold one piece of what the network knew, and
a repeated row wastes its place and counts one example twice. With a large
pool the waste is small (112 rows drawn with replacement from 3 000 repeat
about 2), but with a small one it is not (from 300, about 19 of 112 places),
so the checker rejects repeated old rows and names the fix, ``replace=False``.

A batch is random, so the checker does not compare it with one right answer.
It traces every row back to where it came from (each test image is unique)
and checks what makes replay work: the counts of new and old rows, each
label still belonging to its image, old examples chosen afresh at each call
(not the same first few every time) and all of them reachable, every new
example reachable, and the same ``rng`` state giving the same batch, so that
a fine-tuning run can be reproduced.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mlp.exercises.checking import ExerciseResult, Mismatch, call_learner, run_check, unpack_tuple

__all__ = ["check_replay_batch"]

FIXES = {
    name: "draw indices (rng.choice or rng.permutation) and index with them: x_new[idx] is a new array."
    for name in ("x_new", "y_new", "x_old", "y_old")
}
FIRST_HINT = (
    "choose indices, not rows: which new examples (repeats allowed) and which old ones (all different) "
    "go into the batch, drawn with the rng you are given; then take the images and the labels with "
    "the same indices, so that each label stays with its image."
)
MORE_HELP = (
    "new = rng.choice(len(x_new), n_new); old = rng.choice(len(x_old), n_old, replace=False); "
    "then concatenate x_new[new] with x_old[old], and y_new[new] with y_old[old]."
)
CALLS = 40  # batches drawn to see that the choice varies and reaches every example


def examples(n: int, first_label: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` distinct random images (N, 784) float32 and labels cycling from ``first_label``."""
    x = rng.random((n, 784), dtype=np.float32)
    y = (first_label + np.arange(n)) % 10
    return x, y.astype(np.int64)


def check_replay_batch(replay_batch: Callable[..., Any], *, verbose: bool = True) -> ExerciseResult:
    """Check ``replay_batch(x_new, y_new, x_old, y_old, n_new, n_old, rng) -> (x_batch, y_batch)``."""
    data_rng = np.random.default_rng(11)
    x_new, y_new = examples(5, 0, data_rng)  # 5 new drawings, fewer than the batch needs: they repeat
    x_old, y_old = examples(60, 3, data_rng)
    n_new, n_old = 8, 24
    source = {row.tobytes(): ("new", i) for i, row in enumerate(x_new)}
    source.update({row.tobytes(): ("old", i) for i, row in enumerate(x_old)})

    def draw(seed: int) -> tuple[np.ndarray, np.ndarray]:
        arguments = {
            "x_new": x_new, "y_new": y_new, "x_old": x_old, "y_old": y_old,
            "n_new": n_new, "n_old": n_old, "rng": np.random.default_rng(seed),
        }  # fmt: skip
        result = call_learner("replay_batch", replay_batch, arguments, FIRST_HINT, FIXES)
        xb, yb = unpack_tuple("replay_batch", result, ("x_batch", "y_batch"))
        return as_batch(xb, yb)

    def as_batch(xb: Any, yb: Any) -> tuple[np.ndarray, np.ndarray]:
        try:
            xb, yb = np.asarray(xb, dtype=np.float32), np.asarray(yb)
        except (TypeError, ValueError):
            raise Mismatch("x_batch and y_batch must be arrays of numbers") from None
        size = n_new + n_old
        if xb.shape != (size, 784):
            hint = ""
            if xb.shape == (n_new, 784):
                hint = " That is the new examples alone: add n_old old ones, the replay."
            elif xb.shape == (n_old, 784):
                hint = " That is the old examples alone: the batch needs the n_new new ones too."
            raise Mismatch(
                f"x_batch: expected shape ({size}, 784), n_new + n_old rows, got {xb.shape}.{hint}"
            )
        if yb.shape != (size,):
            raise Mismatch(f"y_batch: expected shape ({size},), one label per row, got {yb.shape}.")
        return xb, yb

    def trace(xb: np.ndarray, yb: np.ndarray) -> tuple[list[int], list[int]]:
        """The indices of the new and old rows of a batch, after checking every label is its image's."""
        new, old = [], []
        for row, (image, label) in enumerate(zip(xb, yb)):
            found = source.get(image.tobytes())
            if found is None:
                raise Mismatch(
                    f"row {row} of x_batch is none of the images given: return the images themselves, "
                    "unchanged (no augmentation, scaling or reshaping here)."
                )
            kind, index = found
            wanted = (y_new if kind == "new" else y_old)[index]
            if label != wanted:
                raise Mismatch(
                    f"row {row} is {kind} example {index}, labelled {wanted}, but y_batch[{row}] is {label}: "
                    "the labels no longer belong to their images. Index x and y with the same indices."
                )
            (new if kind == "new" else old).append(index)
        return new, old

    def check() -> str:
        xb, yb = draw(0)
        new, old = trace(xb, yb)
        if (len(new), len(old)) == (n_old, n_new):
            raise Mismatch(
                f"the batch has {len(new)} new and {len(old)} old rows: n_new and n_old are swapped."
            )
        if (len(new), len(old)) != (n_new, n_old):
            raise Mismatch(
                f"the batch has {len(new)} new and {len(old)} old rows, expected n_new={n_new} "
                f"and n_old={n_old}."
            )
        again = draw(0)
        if not (np.array_equal(again[0], xb) and np.array_equal(again[1], yb)):
            raise Mismatch(
                "two calls with generators in the same state gave different batches: draw with the `rng` "
                "argument (rng.choice, rng.permutation), not np.random.*, so that a run can be repeated."
            )
        seen_new, seen_old, batches = set(new), set(old), {xb.tobytes()}
        for seed in range(1, CALLS):
            xb, yb = draw(seed)
            new, old = trace(xb, yb)
            if len(set(old)) < len(old):
                raise Mismatch(
                    f"a batch repeats old examples: {len(old) - len(set(old))} of its {len(old)} old rows "
                    "are repeats. Draw the old ones without replacement (replace=False, or the first n_old "
                    "of a permutation): each repeat wastes a place that another old example would fill, "
                    "which matters when the pool of old examples is small."
                )
            seen_new.update(new)
            seen_old.update(old)
            batches.add(xb.tobytes())
        if len(batches) == 1:
            raise Mismatch(
                "every call returned the same batch: choose the examples at random with `rng`, or the "
                "network sees the same few old images at every step and forgets the others."
            )
        if len(seen_old) < len(x_old):
            raise Mismatch(
                f"in {CALLS} batches only {len(seen_old)} of the {len(x_old)} old examples ever came up: "
                "draw the old ones from all of x_old, not from its first rows."
            )
        if len(seen_new) < len(x_new):
            raise Mismatch(
                f"in {CALLS} batches only {len(seen_new)} of the {len(x_new)} new examples ever came up: "
                "draw from all of x_new (with replacement: there are fewer new examples than n_new)."
            )
        return (
            f"{n_new} new and {n_old} old rows, every label with its image, the same batch from the same "
            f"rng, and over {CALLS} batches every new and old example came up; the arguments are unchanged."
        )

    return run_check(
        "replay_batch",
        check,
        first_hint=FIRST_HINT,
        more_help=MORE_HELP,
        verbose=verbose,
        keep=replay_batch,
    )
