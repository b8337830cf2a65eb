"""Checkers for the exercises of notebooks 05–07: optimizer updates and looking inside a network.

* ``check_sgd_momentum(fn)``   — ``fn(w, grad, velocity, lr, mu) -> (new_w, new_velocity)`` (notebook 05)
* ``check_adam_step(fn)``      — ``fn(w, grad, m, v, t, lr, beta1, beta2, eps) -> (new_w, new_m, new_v)``
  (notebook 06)
* ``check_confusion_matrix(fn)`` — ``fn(y_true, y_pred, n_classes) -> counts (n_classes, n_classes)``
  (notebook 07)
* ``check_saliency(fn)``       — ``fn(model, image, cls) -> d logit_cls / d pixels, shape (784,)``
  (notebook 07)

Each checker first tries a case small enough to work out by hand, where a
wrong answer is easy to read, then compares with mlp's own code: several
steps of ``mlp.SGD`` or ``mlp.Adam`` chained, a confusion matrix counted
with ``np.bincount``, a saliency map from ``Sequential.backward``. When a
wrong answer equals what a known mistake produces (a sign error, the update
done in the wrong order, a missing bias correction, a transposed matrix),
the diagnosis names that mistake. Changing an argument in place is a
mistake too, even when the values returned are right: an optimizer's caller
keeps ``w`` and the state, and a plot may still need the labels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from mlp.exercises.checking import (
    ExerciseResult,
    Mismatch,
    call_learner,
    collect_mismatches,
    compare_arrays,
    hint_for,
    run_check,
    unpack_tuple,
)
from mlp.nn.layers import Parameter
from mlp.nn.network import MLP, Sequential
from mlp.nn.optimizers import SGD, Adam

__all__ = ["check_adam_step", "check_confusion_matrix", "check_saliency", "check_sgd_momentum"]

# Several steps in a row, so that state carried from one step to the next (velocity, m, v, t) matters.
CHAINED_STEPS = 5

_GRADIENT_FIX = "Only read the gradient: it belongs to the parameter."
MOMENTUM_FIXES = {
    "w": "Build a new array: new_w = w - lr * new_velocity.",
    "grad": _GRADIENT_FIX,
    "velocity": "Build a new array: new_velocity = mu * velocity + grad.",
}
ADAM_FIXES = {
    "w": "Build a new array: new_w = w - lr * m_hat / (np.sqrt(v_hat) + eps).",
    "grad": _GRADIENT_FIX,
    "m": "Build a new array: new_m = beta1 * m + (1 - beta1) * grad.",
    "v": "Build a new array: new_v = beta2 * v + (1 - beta2) * grad**2.",
}
_LABELS_FIX = "Count without reordering them: the labels still line up with the images they came from."
CONFUSION_FIXES = {"y_true": _LABELS_FIX, "y_pred": _LABELS_FIX}
SALIENCY_FIXES = {"image": "Work on a copy: image.astype(np.float64) is a new array."}


def check_sgd_momentum(
    sgd_momentum_step: Callable[[np.ndarray, np.ndarray, np.ndarray, float, float], Any],
    *,
    verbose: bool = True,
) -> ExerciseResult:
    """Check ``sgd_momentum_step(w, grad, velocity, lr, mu) -> (new_w, new_velocity)``.

    The convention is ``mlp.SGD``'s: the velocity accumulates gradients and
    the learning rate scales the step, ``v' = mu * v + grad``, ``w' = w - lr * v'``.
    """
    formula = "velocity' = mu * velocity + grad, then w' = w - lr * velocity' (as in mlp.SGD)."

    def check() -> str:
        # One step that can be done by hand: mu * v + g = [0.59, 0.25, -1.18], w - 0.1 * that.
        w = np.array([1.0, -2.0, 0.5])
        grad = np.array([0.5, 0.25, -1.0])
        velocity = np.array([0.1, 0.0, -0.2])
        lr, mu = 0.1, 0.9
        expected_v = np.array([0.59, 0.25, -1.18])
        expected_w = np.array([0.941, -2.025, 0.618])

        arguments = {"w": w, "grad": grad, "velocity": velocity, "lr": lr, "mu": mu}
        result = call_learner("sgd_momentum_step", sgd_momentum_step, arguments, formula, MOMENTUM_FIXES)
        new_w, new_v = unpack_tuple("sgd_momentum_step", result, ("new_w", "new_velocity"))
        problems = collect_mismatches(
            lambda: compare_arrays(
                "new_velocity",
                new_v,
                expected_v,
                hint=hint_for(
                    new_v,
                    formula,
                    by_value=[
                        (
                            mu * velocity + lr * grad,
                            "the learning rate belongs in the weight update, not in the velocity: "
                            "velocity' = mu * velocity + grad, w' = w - lr * velocity'.",
                        ),
                        (
                            mu * velocity - lr * grad,
                            "that is the other convention (v' = mu v - lr g, w' = w + v'); this course, "
                            "like mlp.SGD, keeps lr out of the velocity: velocity' = mu * velocity + grad.",
                        ),
                        (
                            mu * velocity - grad,
                            "the velocity adds the gradient (velocity' = mu * velocity + grad); "
                            "the minus sign comes in the weight update.",
                        ),
                        (
                            velocity,
                            "you returned the old velocity; return the updated one, "
                            "mu * velocity + grad, which the next step needs.",
                        ),
                        (grad, "the velocity must remember the past: velocity' = mu * velocity + grad."),
                        (
                            velocity + mu * grad,
                            "mu multiplies the old velocity, not the gradient: mu * velocity + grad.",
                        ),
                    ],
                ),
            ),
            lambda: compare_arrays(
                "new_w",
                new_w,
                expected_w,
                hint=hint_for(
                    new_w,
                    formula,
                    by_value=[
                        (
                            w + lr * expected_v,
                            "sign error: the step goes against the gradient, w' = w - lr * velocity'.",
                        ),
                        (
                            w - lr * velocity,
                            "wrong order: you moved w with the old velocity. Update the velocity "
                            "first, then move w with the new one.",
                        ),
                        (
                            w - lr * grad,
                            "w moved by the raw gradient (plain SGD); with momentum it moves by the "
                            "velocity: w' = w - lr * velocity'.",
                        ),
                        (w - expected_v, "multiply the velocity by the learning rate: w - lr * velocity'."),
                        (w, "w did not move: return w - lr * velocity'."),
                    ],
                ),
            ),
        )
        if problems:
            raise Mismatch(
                f"one step from w={w.tolist()}, grad={grad.tolist()}, velocity={velocity.tolist()}, "
                f"lr={lr}, mu={mu}:\n  " + "\n  ".join(problems)
            )

        # Chained steps against mlp.SGD itself, on a matrix of weights.
        rng = np.random.default_rng(7)
        lr, mu = 0.05, 0.8
        reference = Parameter("w", rng.standard_normal((4, 3)))
        optimizer = SGD(lr, momentum=mu)
        w, velocity = reference.value.copy(), np.zeros((4, 3))
        for step in range(1, CHAINED_STEPS + 1):
            reference.grad = rng.standard_normal((4, 3))
            optimizer.step([reference])
            arguments = {"w": w, "grad": reference.grad, "velocity": velocity, "lr": lr, "mu": mu}
            result = call_learner("sgd_momentum_step", sgd_momentum_step, arguments, formula, MOMENTUM_FIXES)
            w, velocity = unpack_tuple("sgd_momentum_step", result, ("new_w", "new_velocity"))
            try:
                compare_arrays("new_w", w, reference.value, rtol=1e-9, atol=1e-12, hint=formula)
            except Mismatch as e:
                raise Mismatch(
                    f"at step {step} of {CHAINED_STEPS} with mlp.SGD(lr={lr}, momentum={mu}): {e}"
                ) from None
            w, velocity = np.asarray(w, dtype=np.float64), np.asarray(velocity, dtype=np.float64)
        return (
            f"one step by hand, then {CHAINED_STEPS} steps in a row on a (4, 3) matrix match mlp.SGD "
            "with momentum; the arguments are left unchanged."
        )

    return run_check("sgd_momentum_step", check, verbose=verbose)


def adam_reference(
    w: np.ndarray,
    grad: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    t: int,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    *,
    correct_m: bool = True,
    correct_v: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Adam's update as written in the paper (Kingma & Ba, 2015), in float64.

    ``correct_m=False`` or ``correct_v=False`` drop a bias correction: what a
    learner who forgets one of them computes, so the checker can say so.
    """
    new_m = beta1 * m + (1 - beta1) * grad
    new_v = beta2 * v + (1 - beta2) * grad**2
    m_hat = new_m / (1 - beta1**t) if correct_m else new_m
    v_hat = new_v / (1 - beta2**t) if correct_v else new_v
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), new_m, new_v


def check_adam_step(
    adam_step: Callable[..., Any],
    *,
    verbose: bool = True,
) -> ExerciseResult:
    """Check ``adam_step(w, grad, m, v, t, lr, beta1, beta2, eps) -> (new_w, new_m, new_v)``.

    ``t`` is the number of the step being taken, 1 for the first. Three
    cases: the first step (where Adam moves each weight by about ``lr``), a
    step in the middle of training with tiny gradients (where ``eps`` matters),
    and ``CHAINED_STEPS`` steps in a row against ``mlp.Adam``.
    """
    formula = (
        "m' = b1 m + (1 - b1) g;  v' = b2 v + (1 - b2) g**2;  m_hat = m' / (1 - b1**t);  "
        "v_hat = v' / (1 - b2**t);  w' = w - lr * m_hat / (sqrt(v_hat) + eps)."
    )
    bias_hint = (
        "missing bias correction: m and v start at 0, so for the first steps they are too small by "
        "a factor (1 - beta**t). Divide by it before the step: m_hat = m' / (1 - beta1**t) and "
        "v_hat = v' / (1 - beta2**t)."
    )

    def step_case(label: str, arguments: dict[str, Any]) -> None:
        w, grad, m, v, t = (arguments[name] for name in ("w", "grad", "m", "v", "t"))
        beta1, beta2, lr, eps = (arguments[name] for name in ("beta1", "beta2", "lr", "eps"))
        result = call_learner("adam_step", adam_step, arguments, formula, ADAM_FIXES)
        new_w, new_m, new_v = unpack_tuple("adam_step", result, ("new_w", "new_m", "new_v"))
        expected_w, expected_m, expected_v = adam_reference(**arguments)

        def w_with(**mistake: Any) -> np.ndarray:
            """The new weights as computed with one thing done wrong."""
            with np.errstate(all="ignore"):
                return adam_reference(**{**arguments, **mistake})[0]

        m_hat = expected_m / (1 - beta1**t)
        v_hat = expected_v / (1 - beta2**t)
        swapped = "you returned (new_w, new_v, new_m); return them in the order (new_w, new_m, new_v)."
        problems = collect_mismatches(
            lambda: compare_arrays(
                "new_m",
                new_m,
                expected_m,
                hint=hint_for(
                    new_m,
                    "m' = beta1 * m + (1 - beta1) * grad.",
                    by_value=[
                        (expected_v, swapped),
                        (
                            m_hat,
                            "return the running average m' = beta1 * m + (1 - beta1) * grad itself, "
                            "not the bias-corrected m_hat: the next step continues from m'.",
                        ),
                        (m, "you returned the old m; return the updated average, which the next step needs."),
                        (
                            beta1 * m + grad,
                            "the average weighs the new gradient by (1 - beta1): "
                            "beta1 * m + (1 - beta1) * grad.",
                        ),
                    ],
                ),
            ),
            lambda: compare_arrays(
                "new_v",
                new_v,
                expected_v,
                hint=hint_for(
                    new_v,
                    "v' = beta2 * v + (1 - beta2) * grad**2, the average of the squared gradient.",
                    by_value=[
                        (expected_m, swapped),
                        (
                            v_hat,
                            "return the running average v' = beta2 * v + (1 - beta2) * grad**2 itself, "
                            "not the bias-corrected v_hat: the next step continues from v'.",
                        ),
                        (v, "you returned the old v; return the updated average, which the next step needs."),
                        (
                            beta2 * v + (1 - beta2) * grad,
                            "v averages the *squared* gradient: beta2 * v + (1 - beta2) * grad**2.",
                        ),
                    ],
                ),
            ),
            lambda: compare_arrays(
                "new_w",
                new_w,
                expected_w,
                hint=hint_for(
                    new_w,
                    formula,
                    by_value=[
                        (w_with(correct_m=False, correct_v=False), bias_hint),
                        (w_with(correct_m=False), f"{bias_hint} (You corrected v but not m.)"),
                        (w_with(correct_v=False), f"{bias_hint} (You corrected m but not v.)"),
                        (w_with(t=t + 1), "t is the number of this step (1 for the first); you used t + 1."),
                        (
                            w_with(t=t - 1),
                            "t counts from 1 at the first step; you used t - 1. At t = 0 the bias "
                            "correction divides by 1 - beta**0 = 0.",
                        ),
                        (
                            2 * w - expected_w,
                            "sign error: the step goes against the gradient, w' = w - lr * m_hat / ...",
                        ),
                        (
                            w - lr * m_hat / np.sqrt(v_hat + eps),
                            "eps goes outside the square root: sqrt(v_hat) + eps. Inside, it changes "
                            "the step whenever gradients are small.",
                        ),
                        (
                            w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps),
                            "wrong order: you stepped with the old m and v. Update the averages "
                            "first, then step with the new ones.",
                        ),
                    ],
                ),
            ),
        )
        if problems:
            raise Mismatch(f"{label}:\n  " + "\n  ".join(problems))

    def check() -> str:
        # The first step, by hand: m' = 0.1 g, v' = 0.001 g**2, m_hat = g, v_hat = g**2, so
        # w' = w - 0.1 * g / (|g| + eps), about w - 0.1 * sign(g) = [0.9, -0.9, 0.5].
        w = np.array([1.0, -1.0, 0.5])
        grad = np.array([0.5, -2.0, 0.0])
        zeros = np.zeros(3)
        step_case(
            f"the first step (t=1) from w={w.tolist()}, grad={grad.tolist()}, m=v=0, lr=0.1",
            dict(w=w, grad=grad, m=zeros, v=zeros, t=1, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8),
        )

        # A step in the middle of training, with gradients so small that eps matters.
        rng = np.random.default_rng(8)
        shape = (4, 3)
        w = rng.standard_normal(shape)
        grad = 1e-7 * rng.standard_normal(shape)
        m = 1e-7 * rng.standard_normal(shape)
        v = 1e-14 * rng.random(shape)
        step_case(
            "step t=3 of a (4, 3) matrix with gradients of about 1e-7, where eps=1e-8 matters",
            dict(w=w, grad=grad, m=m, v=v, t=3, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8),
        )

        # Chained steps against mlp.Adam, threading m, v and t through the learner's function.
        lr, beta1, beta2, eps = 0.01, 0.8, 0.99, 1e-8
        reference = Parameter("w", rng.standard_normal(shape))
        optimizer = Adam(lr, beta1, beta2, eps)
        w, m, v = reference.value.copy(), np.zeros(shape), np.zeros(shape)
        for t in range(1, CHAINED_STEPS + 1):
            reference.grad = rng.standard_normal(shape)
            optimizer.step([reference])
            arguments = dict(
                w=w, grad=reference.grad, m=m, v=v, t=t, lr=lr, beta1=beta1, beta2=beta2, eps=eps
            )
            result = call_learner("adam_step", adam_step, arguments, formula, ADAM_FIXES)
            w, m, v = unpack_tuple("adam_step", result, ("new_w", "new_m", "new_v"))
            try:
                compare_arrays("new_w", w, reference.value, rtol=1e-9, atol=1e-12, hint=formula)
            except Mismatch as e:
                raise Mismatch(
                    f"at step t={t} of {CHAINED_STEPS} with mlp.Adam(lr={lr}, beta1={beta1}, "
                    f"beta2={beta2}): {e}"
                ) from None
            w, m, v = (np.asarray(a, dtype=np.float64) for a in (w, m, v))
        return (
            f"the first step by hand, a step with tiny gradients, and {CHAINED_STEPS} steps in a row "
            "match mlp.Adam; the arguments are left unchanged."
        )

    return run_check("adam_step", check, verbose=verbose)


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

    return run_check("confusion_matrix", check, verbose=verbose)


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

    return run_check("saliency", check, verbose=verbose)
