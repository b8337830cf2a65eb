"""The checker of notebook 05's exercise: one step of the training loop, written by the learner.

``check_train_step(fn)`` checks ``fn(model, loss, x, y, lr) -> float``: run the
batch forward, measure its loss, run backward (which fills every ``p.grad``),
move every parameter against its gradient, ``p.value -= lr * p.grad``, and
return the loss the batch had *before* the move. Unlike the optimizer
exercises, this one changes the model in place: that is what a training step
is for. It must leave ``x`` and ``y`` alone.

The reference is ``mlp.training.train_step`` with ``mlp.SGD(lr)``. Before the
learner's step runs, every ``p.grad`` is filled with a decoy (an earlier
batch's gradient, as it would be in a loop), so that a step taken before
backward shows. When the parameters come out as a known mistake leaves them
(not moved, moved uphill, by ``g`` without ``lr``, twice, by ``g / N``, with the
logits fed to backward, the biases forgotten) the diagnosis names it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlp.exercises.checking import (
    ExerciseResult,
    Mismatch,
    NotWrittenYet,
    call_learner,
    compare_arrays,
    run_check,
)
from mlp.nn.losses import SoftmaxCrossEntropy
from mlp.nn.network import MLP, Sequential
from mlp.nn.optimizers import SGD
from mlp.training.loop import train_step as reference_train_step

__all__ = ["check_train_step"]

CHAINED_STEPS = 4
# Learning rates for which no two typical mistakes move the parameters alike: lr * N, 2 lr, lr / N and 1
# all differ (with lr = 0.5, "twice the step" and "no learning rate" were the same move).
FIRST_LR, CHAINED_LR = 0.1, 0.3
DECOY = 0.125  # what every p.grad holds when the learner's step starts: a stale gradient
RECIPE = "logits = model.forward(x); value = loss.forward(logits, y); model.backward(loss.backward()); " + (
    "then p.value -= lr * p.grad for every p in model.parameters(); return value."
)
FIRST_HINT = (
    "The four steps of the section, in order: forward, loss, backward (which fills every p.grad), then "
    "move every parameter in model.parameters() against its gradient. Return the loss of the batch."
)
# When the parameters come out wrong in no recognised way: what to compare with, not the code.
UNRECOGNISED = (
    "compare each step of yours with the four of the section: which gradient does backward start "
    "from, and does every parameter, biases included, move once, by lr times its own gradient?"
)
BATCH_FIXES = {
    "x": "Only read the batch: the caller's training set is made of these images.",
    "y": "Only read the labels: they still line up with the images.",
}


@dataclass(frozen=True)
class Outcome:
    """What one correct step does, and what each typical mistake would have done instead."""

    loss: float
    loss_after: float  # the batch's loss measured again after the step
    logits: np.ndarray
    expected: list[np.ndarray]  # every parameter after the step
    mistakes: list[tuple[list[np.ndarray], str]]  # (every parameter after a wrong step, the diagnosis)


def _outcome(model: Sequential, x: np.ndarray, y: np.ndarray, lr: float) -> Outcome:
    before = [p.value.copy() for p in model.parameters()]
    exact = model.astype(model.dtype)
    value, logits = reference_train_step(exact, SoftmaxCrossEntropy(), SGD(lr), x, y, 0.0)
    grads = [p.grad.copy() for p in exact.parameters()]
    loss_after = SoftmaxCrossEntropy().forward(exact.forward(x), y)

    fed_logits = model.astype(model.dtype)  # backward given the logits instead of dL/dlogits
    fed_logits.backward(fed_logits.forward(x), input_grad=False)
    logit_grads = [p.grad for p in fed_logits.parameters()]

    def moved(by: list[np.ndarray], factor: float) -> list[np.ndarray]:
        return [w - factor * g for w, g in zip(before, by)]

    decoys = [np.full_like(w, DECOY) for w in before]
    is_bias = [p.name == "bias" for p in model.parameters()]
    n = len(x)
    mistakes = [
        (before, "the parameters did not move: after backward, move each one, p.value -= lr * p.grad."),
        (
            moved(grads, -lr),
            "sign error: the parameters moved *up* the gradient; a step goes against it: "
            "p.value -= lr * p.grad.",
        ),
        (moved(grads, 1.0), "the step forgot the learning rate: p.value -= lr * p.grad."),
        (
            moved(grads, 2 * lr),
            "the parameters moved twice as far as one step: update each one once (an optimizer step and "
            "your own update is one too many).",
        ),
        (
            moved(grads, lr / n),
            "you divided by the batch size, but the loss is already the mean over the batch, and so is "
            "its gradient: p.value -= lr * p.grad.",
        ),
        (
            moved(grads, lr * n),
            "that step is N times too long: backward was given p - onehot without the division by the "
            "batch size. Give it loss.backward(), which is (p - onehot) / N.",
        ),
        (
            moved(decoys, lr),
            "the step used stale gradients: it ran before backward, when p.grad still held an earlier "
            "batch's gradient. Run backward first: it overwrites every p.grad.",
        ),
        (
            moved(logit_grads, lr),
            "model.backward was given the logits; it takes dL/dlogits, which is what "
            "loss.backward() returns.",
        ),
        (
            [w if bias else e for w, e, bias in zip(before, moved(grads, lr), is_bias)],
            "the weights moved but the biases did not: step every parameter in model.parameters(), "
            "biases too.",
        ),
    ]
    return Outcome(value, float(loss_after), logits, moved(grads, lr), mistakes)


def _names(model: Sequential) -> list[str]:
    """``Dense 1 weight``-style names, counting the Dense layers from 1."""
    names, dense = [], 0
    for layer in model.layers:
        if layer.parameters():
            dense += 1
        names.extend(f"{type(layer).__name__} {dense} {p.name}" for p in layer.parameters())
    return names


def _check_loss(value: Any, outcome: Outcome) -> None:
    if value is None:
        raise Mismatch("train_step returned None: return the loss of the batch, the float loss.forward gave.")
    if isinstance(value, tuple | list):
        raise Mismatch(
            f"train_step returned a {type(value).__name__} of {len(value)} items; return only the loss, "
            "a float (mlp.training.train_step also returns the logits, for fit's bookkeeping; yours "
            "need not)."
        )
    if isinstance(value, np.ndarray) and value.shape == outcome.logits.shape:
        raise Mismatch(
            "train_step returned the logits; return the loss, the float loss.forward(logits, y) gave."
        )
    try:
        got = float(value)
    except (TypeError, ValueError):
        raise Mismatch(
            f"train_step should return the loss, a float; it returned a {type(value).__name__}."
        ) from None
    if np.isclose(got, outcome.loss, rtol=1e-5, atol=1e-7):
        return
    if np.isclose(got, outcome.loss_after, rtol=1e-5, atol=1e-7):
        raise Mismatch(
            f"train_step returned {got:.6g}, the loss measured again after the step; return the one this "
            f"step's forward pass measured, before the update: {outcome.loss:.6g}."
        )
    raise Mismatch(
        f"the loss: expected {outcome.loss:.6g}, got {got:.6g}. Return what loss.forward(logits, y) gave."
    )


def _check_parameters(model: Sequential, outcome: Outcome, rtol: float, atol: float) -> None:
    got = [p.value for p in model.parameters()]
    names = _names(model)

    def close(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
        return all(x.shape == y.shape and np.allclose(x, y, rtol=rtol, atol=atol) for x, y in zip(a, b))

    if close(got, outcome.expected):
        return
    for wrong, diagnosis in outcome.mistakes:
        if close(got, wrong):
            raise Mismatch(diagnosis)
    for name, value, expected in zip(names, got, outcome.expected):
        compare_arrays(name, value, expected, rtol=rtol, atol=atol, hint=UNRECOGNISED)


def _batch(rng: np.random.Generator, n: int, n_in: int, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.random((n, n_in)), rng.integers(0, n_classes, n)


def check_train_step(
    train_step: Callable[[Sequential, SoftmaxCrossEntropy, np.ndarray, np.ndarray, float], Any],
    *,
    verbose: bool = True,
) -> ExerciseResult:
    """Check ``train_step(model, loss, x, y, lr) -> float``, one step of plain SGD on ``(x, y)``.

    Shapes: ``x (N, n_in)``, ``y (N,)`` class ids; ``model`` is changed in
    place, ``x`` and ``y`` are not. Two cases: one step of a 4-5-3 network in
    float64, then several steps in a row of a float32 network against
    ``mlp.training.train_step`` with ``mlp.SGD(lr)``.
    """

    def one_step(label: str, model: Sequential, x: np.ndarray, y: np.ndarray, lr: float, tol: float) -> None:
        outcome = _outcome(model, x, y, lr)
        for p in model.parameters():
            p.grad = np.full_like(p.value, DECOY)
        arguments = {"model": model, "loss": SoftmaxCrossEntropy(), "x": x, "y": y, "lr": lr}
        try:
            value = call_learner("train_step", train_step, arguments, FIRST_HINT, BATCH_FIXES)
            _check_parameters(model, outcome, rtol=tol, atol=tol * 1e-2)
            _check_loss(value, outcome)
        except NotWrittenYet:
            raise
        except Mismatch as e:
            raise Mismatch(f"{label}: {e}") from None
        wrong_dtype = [p for p in model.parameters() if p.value.dtype != x.dtype]
        if wrong_dtype:
            raise Mismatch(
                f"{label}: the update turned {x.dtype} parameters into {wrong_dtype[0].value.dtype}: a NumPy "
                "float64 scalar times a float32 array is float64. Use a Python float lr, or update in "
                "place: p.value -= lr * p.grad."
            )

    def check() -> str:
        rng = np.random.default_rng(11)
        model = MLP([4, 5, 3], seed=11, dtype=np.float64)
        x, y = _batch(rng, 6, 4, 3)
        label = f"one step of a float64 4-5-3 network on a batch of 6, lr={FIRST_LR}"
        one_step(label, model, x, y, FIRST_LR, 1e-9)

        model = MLP([6, 8, 5, 4], seed=12)
        for step in range(1, CHAINED_STEPS + 1):
            x, y = _batch(rng, 7, 6, 4)
            label = f"step {step} of {CHAINED_STEPS} of a float32 6-8-5-4 network, lr={CHAINED_LR}"
            one_step(label, model, x.astype(np.float32), y, CHAINED_LR, 1e-5)
        return (
            f"one step in float64, then {CHAINED_STEPS} steps in a row in float32, match "
            "mlp.training.train_step with mlp.SGD; the batch is left unchanged."
        )

    return run_check(
        "train_step", check, first_hint=FIRST_HINT, more_help=RECIPE, verbose=verbose, keep=train_step
    )
