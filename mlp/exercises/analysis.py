"""The checkers of notebook 07's exercises: counting a model's mistakes, and the gradient of a class score.

* ``check_confusion_matrix(fn)`` — ``fn(y_true, y_pred, n_classes) -> counts (n_classes, n_classes)``
* ``check_saliency(fn)`` — ``fn(model, image, cls) -> d logit_cls / d pixels, shape (784,)``

Each compares with a reference written another way (a confusion matrix
counted with ``np.bincount``, a saliency map from ``Sequential.backward`` in
float64, itself pinned to a numerical gradient by the tests), and names the
typical mistake a wrong answer looks like: fancy-index ``+=`` that counts a
repeated pair once, a transposed matrix, the gradient of the probability or
of the loss instead of the score, dropout left on. Changing an argument in
place is a mistake too: a plot may still need the labels, the image, the model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mlp.exercises.checking import (
    ExerciseResult,
    Mismatch,
    call_learner,
    compare_arrays,
    hint_for,
    run_check,
)
from mlp.nn.network import MLP, Sequential

__all__ = ["check_confusion_matrix", "check_saliency", "confusion_counts", "saliency_reference"]

LABELS_FIX = "Count without reordering them: the labels still line up with the images they came from."
CONFUSION_FIXES = {"y_true": LABELS_FIX, "y_pred": LABELS_FIX}
SALIENCY_FIXES = {"image": "Work on a copy: image.astype(np.float64) is a new array."}
CONFUSION_HINT = (
    "Start from a zero (n_classes, n_classes) integer array and add 1 at [true, predicted] for each "
    "sample, every sample counted, even when two samples share the same (true, predicted) pair."
)
CONFUSION_MORE_HELP = (
    "counts = np.zeros((n_classes, n_classes), dtype=np.int64); np.add.at(counts, (y_true, y_pred), 1) "
    "(or a loop: for t, p in zip(y_true, y_pred): counts[t, p] += 1); return counts."
)
SALIENCY_MORE_HELP = (
    "exact = model.astype(np.float64); one_hot = np.zeros((1, model.n_classes)); one_hot[0, cls] = 1; "
    "with exact.mode(training=False): exact.forward(image.reshape(1, -1)) then "
    "exact.backward(one_hot, input_grad=True)[0]."
)
SALIENCY_HINT = (
    "Backward takes any dL/dlogits: feed it a one-hot row for cls, as if the loss were the score "
    "z_cls itself, in inference mode, with input_grad=True, on a float64 copy of the model."
)


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """The reference: ``counts[i, j]`` = how many samples of class ``i`` were predicted ``j``."""
    pairs = n_classes * np.asarray(y_true) + np.asarray(y_pred)
    return np.bincount(pairs, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def check_confusion_matrix(
    confusion_matrix: Callable[[np.ndarray, np.ndarray, int], Any], *, verbose: bool = True
) -> ExerciseResult:
    """Check ``confusion_matrix(y_true, y_pred, n_classes) -> counts``, rows true, columns predicted."""
    formula = "counts[i, j] = number of samples whose true class is i and predicted class is j."

    def case(label: str, y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> None:
        expected = confusion_counts(y_true, y_pred, n_classes)
        arguments = {"y_true": y_true, "y_pred": y_pred, "n_classes": n_classes}
        got = call_learner("confusion_matrix", confusion_matrix, arguments, formula, CONFUSION_FIXES)
        once_per_pair = np.zeros((n_classes, n_classes))
        once_per_pair[y_true, y_pred] = 1
        seen = np.unique(np.concatenate([y_true, y_pred]))
        try:
            compare_arrays(
                "counts",
                got,
                expected.astype(np.float64),
                rtol=0,
                atol=1e-9,
                hint=hint_for(
                    got,
                    formula,
                    by_value=[
                        (
                            expected.T,
                            "transposed: rows are the true classes and columns the predictions, "
                            "counts[y_true, y_pred].",
                        ),
                        (
                            once_per_pair,
                            "`counts[y_true, y_pred] += 1` counts each (true, predicted) pair once, "
                            "however often it repeats (NumPy's fancy indexing does not accumulate). "
                            "Use np.add.at(counts, (y_true, y_pred), 1), or a loop.",
                        ),
                        (
                            expected / np.maximum(expected.sum(axis=1, keepdims=True), 1),
                            "count, don't normalise: each entry is a number of samples.",
                        ),
                    ],
                    by_shape={
                        (len(seen), len(seen)): "the matrix is n_classes × n_classes, even when a class "
                        "never appears in the labels you were given.",
                    },
                ),
            )
        except Mismatch as e:
            raise Mismatch(f"{label}: {e}") from None

    def check() -> str:
        # By hand: the pair (2, 2) occurs twice, class 1 is never mistaken, one 2 is read as 0.
        y_true = np.array([0, 0, 1, 2, 2, 2])
        y_pred = np.array([0, 1, 1, 2, 0, 2])
        case(f"y_true={y_true.tolist()}, y_pred={y_pred.tolist()}, n_classes=3", y_true, y_pred, 3)
        case("n_classes=5 with classes 3 and 4 absent", y_true, y_pred, 5)
        rng = np.random.default_rng(9)
        y_true = rng.integers(0, 10, 1000)
        y_pred = np.where(rng.random(1000) < 0.8, y_true, rng.integers(0, 10, 1000))
        case("1000 random labels of 10 classes", y_true, y_pred, 10)
        return "matches np.bincount's counts on a hand example, with absent classes, and on 1000 labels."

    return run_check(
        "confusion_matrix",
        check,
        first_hint=CONFUSION_HINT,
        more_help=CONFUSION_MORE_HELP,
        verbose=verbose,
        keep=confusion_matrix,
    )


def saliency_reference(model: Sequential, image: np.ndarray, cls: int) -> np.ndarray:
    """``d logit[cls] / d image`` through backprop, in float64 and inference mode, shape ``(784,)``."""
    exact = model.astype(np.float64)
    one_hot = np.zeros((1, model.n_classes))
    one_hot[0, cls] = 1.0
    with exact.mode(training=False):
        exact.forward(np.asarray(image, dtype=np.float64).reshape(1, -1))
        return exact.backward(one_hot, input_grad=True)[0]


def check_saliency(
    saliency: Callable[[Sequential, np.ndarray, int], Any], *, verbose: bool = True
) -> ExerciseResult:
    """Check ``saliency(model, image, cls) -> d logit_cls / d pixels`` of shape ``(784,)``.

    The model has dropout, so an answer computed in training mode comes out
    random; it must be left as it was given (weights and mode).
    """
    recipe = (
        "run forward in inference mode (`with model.mode(training=False):`), then "
        "model.backward(one_hot, input_grad=True) with one_hot of shape (1, n_classes) holding a 1 "
        "at column cls, and return row 0 of the result."
    )

    def check() -> str:
        model = MLP([784, 24, 16, 10], dropout=0.25, seed=5)
        rng = np.random.default_rng(10)
        weights = [p.value.copy() for p in model.parameters()]
        for cls in (3, 8):
            image = rng.random(784).astype(np.float32)
            expected = saliency_reference(model, image, cls)
            exact = model.astype(np.float64)
            one_hot = np.eye(model.n_classes)[cls]
            with exact.mode(training=False):  # what two typical wrong answers would return
                proba = exact.predict_proba(image.astype(np.float64))
                exact.forward(image.astype(np.float64)[None])
                of_probability = exact.backward((proba[cls] * (one_hot - proba))[None])[0]
                exact.forward(image.astype(np.float64)[None])
                of_loss = exact.backward((proba - one_hot)[None])[0]
            arguments = {"model": model, "image": image, "cls": cls}
            got = call_learner("saliency", saliency, arguments, recipe, SALIENCY_FIXES)
            for p_now, p_before in zip(model.parameters(), weights):
                if not np.array_equal(p_now.value, p_before):
                    raise Mismatch(
                        "saliency changed the model's weights. Compute on a copy "
                        "(model.astype(np.float64)) and never call an optimizer here."
                    )
            if any(not layer.training for layer in model.layers):
                raise Mismatch(
                    "saliency left the model in inference mode; use `with model.mode(training=False):`, "
                    "which restores the mode on the way out."
                )
            scale = float(np.abs(expected).max())
            try:
                compare_arrays(
                    "saliency",
                    got,
                    expected,
                    rtol=1e-4,
                    atol=1e-5 * scale,
                    hint=hint_for(
                        got,
                        recipe,
                        by_value=[
                            (-expected, "sign error: the gradient of the class score, not of minus it."),
                            (
                                of_probability,
                                "that is the gradient of the probability softmax(z)[cls]; the class "
                                "score is the logit z[cls], before softmax: backward a one-hot row.",
                            ),
                            (
                                of_loss,
                                "that is the gradient of the loss -log p[cls]; we want the class score "
                                "z[cls] itself: backward a one-hot row, not p - one_hot.",
                            ),
                        ],
                        by_shape={
                            (1, 784): "return a vector of shape (784,): drop the batch axis with [0].",
                            (28, 28): "return a vector of shape (784,), like the input image.",
                        },
                    ),
                )
            except Mismatch as e:
                raise Mismatch(f"for class {cls} of a 784-24-16-10 network with dropout: {e}") from None
        return "matches backprop in float64 for two classes, in inference mode; the model is left unchanged."

    return run_check(
        "saliency",
        check,
        first_hint=SALIENCY_HINT,
        more_help=SALIENCY_MORE_HELP,
        verbose=verbose,
        keep=saliency,
    )
