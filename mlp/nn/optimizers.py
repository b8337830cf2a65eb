"""Optimizers: turn each parameter's gradient into a step that lowers the loss.

Every optimizer changes the weights in place (``w -= ...``): the network holds
the very arrays it is given. SGD goes further and writes every intermediate
into arrays allocated once, at its first step (``out=`` and augmented
assignment), because a network this small spends as much time allocating
temporaries as computing. ``Adam`` is written as the paper's lines, which
allocate a few temporaries per step; ``mlp.nn.fast.FusedAdam`` is its
allocation-free twin.

An optimizer keeps, for each parameter it has stepped, that parameter's own
state: its step count ``t`` and the arrays of its method (SGD's velocity,
Adam's moments). A parameter it has never seen starts from scratch, exactly
as with a fresh optimizer, so rebuilding a model and reusing the optimizer is
safe.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mlp.nn.layers import Parameter

Schedule = Callable[[float], float]
State = dict[str, Any]  # "t": the parameter's step count; the other entries: arrays shaped like it


def hyperparameter(
    name: str,
    value: float,
    *,
    above: float | None = None,
    at_least: float | None = None,
    below: float | None = None,
) -> float:
    """``value`` as a float, or a ``ValueError`` naming it unless it is finite and within the bounds.

    NaN fails every comparison, so ``lr <= 0`` alone would let ``lr=nan`` through: check finiteness.
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    rules = []
    if above is not None:
        rules.append((number > above, f"> {above:g}"))
    if at_least is not None:
        rules.append((number >= at_least, f">= {at_least:g}"))
    if below is not None:
        rules.append((number < below, f"< {below:g}"))
    if not (math.isfinite(number) and all(ok for ok, _ in rules)):
        wanted = " and ".join(text for _, text in rules)
        raise ValueError(f"{name} must be a finite number {wanted}, got {value!r}")
    return number


def constant(progress: float) -> float:
    """Keep the learning rate as given. Inputs: ``progress`` in [0, 1]. Returns: the factor 1."""
    return 1.0


def linear_decay(progress: float) -> float:
    """Decay the learning rate linearly from its full value to 0 at the end of training.

    Inputs: ``progress`` in [0, 1], how far training has gone. Returns: the factor ``1 - progress``.

    Large steps early cover ground; small steps late settle into a minimum
    instead of bouncing around it.
    """
    return max(0.0, 1.0 - progress)


def cosine_decay(progress: float) -> float:
    """Half a cosine from 1 to 0: flat at the start and the end, steepest in the middle.

    Inputs: ``progress`` in [0, 1]. Returns: the factor ``(1 + cos(π progress)) / 2``.
    """
    return 0.5 * (1.0 + math.cos(math.pi * min(max(progress, 0.0), 1.0)))


class Optimizer:
    """Shared parts: learning rate with its schedule, weight decay, per-parameter state.

    ``step(parameters, progress)`` updates each ``p.value`` from ``p.grad``;
    ``progress`` in [0, 1] is how far training has gone, for the schedule.
    ``weight_decay`` adds ``weight_decay * w`` to the gradient of each weight
    (L2 regularisation), pulling weights towards 0 unless the data insists;
    ``_decay``, run before each update, is where a subclass decays otherwise
    (``AdamW``). Subclasses write ``_update(w, g, state, lr)``, which changes
    ``w`` in place.
    """

    def __init__(self, lr: float, weight_decay: float = 0.0, schedule: Schedule = constant) -> None:
        self.lr = hyperparameter("lr", lr, above=0)
        self.weight_decay = hyperparameter("weight_decay", weight_decay, at_least=0)
        if not callable(schedule):
            raise TypeError(f"schedule must be a function of the progress in [0, 1], got {schedule!r}")
        self.schedule = schedule
        # Keyed by the Parameter itself, weakly: a rebuilt model's parameters never inherit the
        # state of the old ones (as an id() key could, once CPython reuses a freed address), and
        # the state of a model that is gone goes with it.
        self._state: weakref.WeakKeyDictionary[Parameter, State] = weakref.WeakKeyDictionary()

    def learning_rate(self, progress: float) -> float:
        # A Python float, never a NumPy float64 scalar: ``w32 *= np.float64(x)``
        # makes NumPy compute the whole float32 array in float64, 7 times slower.
        return float(self.lr * self.schedule(progress))

    def step(self, parameters: Sequence[Parameter], progress: float = 0.0) -> None:
        """Update each ``p.value`` (any shape) from ``p.grad``, in place.

        Inputs: ``parameters``; ``progress`` in [0, 1], how far training has gone (for the schedule).
        """
        lr = self.learning_rate(progress)
        for p in parameters:
            state = self._state.get(p)
            if state is None:
                state = self._state[p] = self._new_state(p)
            state["t"] += 1  # this parameter's step count: 1 at its first step
            grad = p.grad
            if self.weight_decay and p.decay:
                grad = self._decay(p, state, lr)
            self._update(p.value, grad, state, lr)

    def _decay(self, p: Parameter, state: State, lr: float) -> np.ndarray:
        """Weight decay, before the update: here L2, the gradient of ``λ/2 ||w||²`` added to ``p.grad``.

        Returns the gradient the update should use (``p.grad`` itself is never
        written: the caller may still read it). ``AdamW`` overrides this.
        """
        grad = state["scratch"]
        np.multiply(p.value, p.value.dtype.type(self.weight_decay), out=grad)
        grad += p.grad
        return grad

    def _new_state(self, p: Parameter) -> State:
        return {"t": 0, "scratch": np.empty_like(p.value)}

    def _update(self, w: np.ndarray, g: np.ndarray, state: State, lr: float) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent, with optional (Nesterov) momentum.

    Plain: ``w -= lr * g``. With momentum ``mu`` a velocity accumulates
    gradients, ``v = mu * v + g`` and ``w -= lr * v``, so steps grow along
    directions that agree from batch to batch and cancel along ones that
    oscillate. Nesterov looks ahead: ``w -= lr * (g + mu * v)``.
    """

    def __init__(
        self,
        lr: float = 0.1,
        momentum: float = 0.0,
        *,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        schedule: Schedule = constant,
    ) -> None:
        super().__init__(lr, weight_decay, schedule)
        self.momentum = hyperparameter("momentum", momentum, at_least=0, below=1)
        if nesterov and self.momentum == 0:
            raise ValueError("Nesterov momentum needs momentum > 0")
        self.nesterov = nesterov

    def _new_state(self, p: Parameter) -> State:
        return {**super()._new_state(p), "velocity": np.zeros_like(p.value), "delta": np.empty_like(p.value)}

    def _update(self, w: np.ndarray, g: np.ndarray, state: State, lr: float) -> None:
        delta = state["delta"]
        if self.momentum == 0:
            np.multiply(g, w.dtype.type(lr), out=delta)
        else:
            v = state["velocity"]
            v *= self.momentum
            v += g
            if self.nesterov:
                np.multiply(v, w.dtype.type(self.momentum), out=delta)
                delta += g
                delta *= lr
            else:
                np.multiply(v, w.dtype.type(lr), out=delta)
        w -= delta


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015): momentum on the gradient, scaled per weight by its recent size.

    ``m`` is a running average of the gradients, ``v`` of their squares. Both
    start at zero, which biases them towards zero early on; dividing by
    ``1 - beta^t`` undoes that (``m_hat``, ``v_hat``). The step
    ``lr * m_hat / (sqrt(v_hat) + eps)`` is about ``lr`` in size whatever the
    scale of the gradient, which makes one learning rate work for every layer.

    This is the paper's algorithm, line for line. ``mlp.nn.fast.FusedAdam``
    computes the same update in fewer passes over memory, for speed.
    """

    def __init__(
        self,
        lr: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        *,
        weight_decay: float = 0.0,
        schedule: Schedule = constant,
    ) -> None:
        super().__init__(lr, weight_decay, schedule)
        # beta = 1 would never forget the zero start (and divide by 1 - 1^t = 0); eps = 0 divides by 0.
        self.beta1 = hyperparameter("beta1", beta1, at_least=0, below=1)
        self.beta2 = hyperparameter("beta2", beta2, at_least=0, below=1)
        self.eps = hyperparameter("eps", eps, above=0)

    def _new_state(self, p: Parameter) -> State:
        return {**super()._new_state(p), "m": np.zeros_like(p.value), "v": np.zeros_like(p.value)}

    def _update(self, w: np.ndarray, g: np.ndarray, state: State, lr: float) -> None:
        m, v = state["m"], state["v"]
        beta1, beta2, eps, t = self.beta1, self.beta2, self.eps, state["t"]
        m[...] = beta1 * m + (1 - beta1) * g  # first moment: a running mean of g
        v[...] = beta2 * v + (1 - beta2) * g * g  # second moment: a running mean of g²
        m_hat = m / (1 - beta1**t)  # bias corrections: m and v started at 0
        v_hat = v / (1 - beta2**t)
        w -= lr * m_hat / (np.sqrt(v_hat) + eps)


class AdamW(Adam):
    """Adam with *decoupled* weight decay (Loshchilov & Hutter, 2019, Algorithm 2).

    ``Adam(weight_decay=λ)`` adds ``λ w`` to the gradient, which Adam then
    divides by ``sqrt(v_hat)``: weights with large gradients are barely
    decayed, those with small ones strongly. That is L2 regularisation, and
    with Adam it is not the same as shrinking every weight alike. AdamW takes
    Adam's step on the loss's gradient alone and shrinks each decayed weight
    by the same factor, both from the weights before this step (``w_{t-1}``):

        w_t = w_{t-1} - lr * (m_hat / (sqrt(v_hat) + eps) + λ w_{t-1})

    The shrink comes first, ``w -= lr * λ * w``, then Adam's update of the
    shrunk ``w``: the same sum, since Adam's update does not read ``w``.
    (PyTorch's ``torch.optim.AdamW`` computes the same.)
    """

    def _decay(self, p: Parameter, state: State, lr: float) -> np.ndarray:
        p.value *= 1 - lr * self.weight_decay  # λ w_{t-1}, before Adam's step moves w
        return p.grad  # Adam's moments see the loss's gradient alone
