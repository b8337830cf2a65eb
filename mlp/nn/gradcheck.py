"""Numerical gradient checking: the test that backpropagation is right.

For a scalar function ``f`` of an array ``w``, the centred difference

    df/dw[i] ~ (f(w + h e_i) - f(w - h e_i)) / (2 h)

has an error of order ``h^2`` (one-sided differences only reach ``h``). We
compare it with the analytic gradient ``a`` through the relative error of
the whole tensor,

    ||a - n|| / (||a|| + ||n||)

which is ~1e-10 when backward is right and ~1 when it is wrong, whatever the
scale of the gradient. (Entry by entry, ``|a_i - n_i| / (|a_i| + |n_i|)``
would judge an entry a million times smaller than its neighbours by the
rounding error of ``f`` alone: a correct backward could fail.)

All of this runs in float64: with float32's 7 digits, the difference
``f(w + h) - f(w - h)`` loses most of them to cancellation, and a correct
backward can look wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mlp.nn.layers import Layer, cast_copy
from mlp.nn.losses import SoftmaxCrossEntropy, cross_entropy_per_sample
from mlp.nn.network import Sequential

DEFAULT_STEP = 1e-5
DEFAULT_TOLERANCE = 1e-7


class GradientCheckError(AssertionError):
    """Raised when an analytic gradient disagrees with the numerical one."""


@dataclass(frozen=True)
class TensorCheck:
    """The result of checking one tensor's gradient, and where it disagrees most."""

    name: str
    rel_error: float
    worst_index: tuple[int, ...]
    analytic: float
    numeric: float

    def __str__(self) -> str:
        return (
            f"{self.name:<16} relative error {self.rel_error:.1e}; largest difference at index "
            f"{self.worst_index}: analytic {self.analytic:+.8e}, numeric {self.numeric:+.8e}"
        )


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """``||a - n|| / (||a|| + ||n||)``: 0 when equal, 1 when opposite or one is zero.

    Inputs: ``analytic`` and ``numeric``, arrays of one shape. Returns: a float in [0, 1].
    """
    analytic, numeric = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    scale = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    return float(np.linalg.norm(analytic - numeric) / scale) if scale > 0 else 0.0


def numerical_gradient(
    f: Callable[[], np.ndarray | float],
    w: np.ndarray,
    h: float = DEFAULT_STEP,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Centred-difference gradient of ``sum(f() * weights)`` with respect to ``w``.

    Inputs:
    - ``f``: a function of no arguments that reads ``w``; returns a scalar, or
      an array shaped like ``weights``;
    - ``w``: a float64 array of any shape ``S``, perturbed in place one entry
      at a time (and always restored);
    - ``h``: the step;
    - ``weights``: optional, the shape of ``f()``.
    Returns: the gradient, float64, of shape ``S``.

    With ``weights``, we difference ``f()`` *before* weighting and summing: the
    outputs that a perturbation does not touch then cancel exactly instead of
    adding their rounding errors, which buys two or three extra digits.
    ``w`` must be float64: in float32 the difference of two nearby values
    keeps about 3 of its 7 digits (a correct gradient looks wrong at ~1e-4),
    and in integers ``w + h`` rounds back to ``w``.
    """
    w_dtype = getattr(w, "dtype", None)
    if not isinstance(w, np.ndarray) or w_dtype != np.float64:
        kind = f"an array of {w_dtype}" if w_dtype is not None else f"a {type(w).__name__}"
        raise TypeError(
            f"numerical_gradient differentiates with respect to a float64 array, got {kind}: "
            "in float32 the centred difference loses most of its digits, in integers w + h rounds "
            "back to w. Convert first (w = w.astype(np.float64)) and let f read that array."
        )
    return centred_differences(f, w, h, weights)


def centred_differences(
    f: Callable[[], np.ndarray | float],
    w: np.ndarray,
    h: float = DEFAULT_STEP,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """``numerical_gradient``'s arithmetic, whatever ``w``'s dtype: only to *show* what float32 costs.

    Inputs and Returns: as ``numerical_gradient``. ``w`` is perturbed in its own
    dtype (in float32, ``w + h`` is rounded to 7 digits), which is why a real
    check calls ``numerical_gradient``, which refuses anything but float64.
    """
    grad = np.zeros_like(w, dtype=np.float64)
    for i in np.ndindex(w.shape):
        original = w[i]
        try:
            w[i] = original + h
            f_plus = np.array(f(), dtype=np.float64)
            w[i] = original - h
            f_minus = np.array(f(), dtype=np.float64)
        finally:
            w[i] = original
        difference = f_plus - f_minus
        grad[i] = (difference if weights is None else np.sum(difference * weights)) / (2 * h)
    return grad


def compare(name: str, analytic: np.ndarray, numeric: np.ndarray) -> TensorCheck:
    """Relative error of ``analytic`` against ``numeric``, with the entry where they differ most."""
    analytic = np.asarray(analytic)
    if analytic.shape != numeric.shape:
        raise GradientCheckError(
            f"{name}: the analytic gradient has shape {analytic.shape}, not {numeric.shape}"
        )
    if analytic.size == 0:
        return TensorCheck(name, 0.0, (), 0.0, 0.0)
    difference = np.abs(analytic.astype(np.float64) - numeric)
    finite = np.isfinite(difference)
    worst = np.unravel_index(int(np.argmax(np.where(finite, difference, np.inf))), difference.shape)
    worst = tuple(int(i) for i in worst)
    error = relative_error(analytic, numeric) if finite.all() else float("inf")
    return TensorCheck(name, error, worst, float(analytic[worst]), float(numeric[worst]))


def gradient_errors(
    target: Layer | Sequential | SoftmaxCrossEntropy,
    x: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    seed: int = 0,
    h: float = DEFAULT_STEP,
) -> list[TensorCheck]:
    """Check every parameter's gradient and the input's; return one result per tensor.

    Inputs:
    - ``target``: a layer (any ``Layer``, a learner's own included), a network, or the loss;
    - ``x``: its input ``(N, d_in)`` (the logits ``(N, C)`` for the loss);
    - ``labels``: class ids ``(N,)``, for a network (optional) or the loss (required);
      refused for a single layer, whose output is not logits;
    - ``seed``: of the random weights ``r`` below; ``h``: the step of the centred differences.
    Returns: one ``TensorCheck`` per parameter (``layers[i].weight``, ...) and one for ``input``.

    * A layer is checked through the scalar ``sum(forward(x) * r)`` for a
      fixed random ``r``, so every output contributes with its own weight and
      ``backward(r)`` must return exactly its gradient.
    * A network with ``labels`` is checked through the softmax cross-entropy
      of its logits; without labels, like a layer.
    * The loss, ``SoftmaxCrossEntropy``, is checked with respect to its logits ``x``.

    The target checked is a deep copy of the object itself, with its
    parameters cast to float64 (``mlp.nn.layers.cast_copy``): a layer is
    checked as it is written and configured, never rebuilt from defaults;
    the target itself is not changed. Random layers (dropout) get their
    generators rewound before each forward, so every evaluation sees the same mask.
    """
    if labels is not None and not isinstance(target, Sequential | SoftmaxCrossEntropy):
        raise ValueError(
            "labels are for checking a network through its loss (or the loss itself); a single layer "
            "is checked through sum(forward(x) * r) and would ignore them: leave labels out"
        )
    x = np.array(x, dtype=np.float64)
    if isinstance(target, SoftmaxCrossEntropy):
        if labels is None:
            raise ValueError("checking the loss needs labels")
        loss = SoftmaxCrossEntropy()
        loss.forward(x, labels)
        mean = np.full(len(x), 1 / len(x))
        numeric = numerical_gradient(lambda: cross_entropy_per_sample(x, labels), x, h, mean)
        return [compare("logits", loss.backward(), numeric)]

    model = target.astype(np.float64) if isinstance(target, Sequential) else cast_copy(target, np.float64)
    rngs = [layer.rng for layer in getattr(model, "layers", [model]) if hasattr(layer, "rng")]
    states = [rng.bit_generator.state for rng in rngs]

    def forward() -> np.ndarray:
        for rng, state in zip(rngs, states):
            rng.bit_generator.state = state
        return model.forward(x)

    if labels is not None and isinstance(model, Sequential):
        # The mean loss, as the per-sample losses weighted by 1/N.
        loss = SoftmaxCrossEntropy()
        loss.forward(forward(), labels)
        grad_x = model.backward(loss.backward())

        def f() -> np.ndarray:
            return cross_entropy_per_sample(forward(), labels)

        weights = np.full(len(x), 1 / len(x))
    else:
        # sum(forward(x) * r): backward(r) must return exactly its gradient.
        f = forward
        weights = np.random.default_rng(seed).standard_normal(forward().shape)
        grad_x = model.backward(weights)

    named = _named_parameters(model)
    analytic = {name: p.grad.copy() for name, p in named.items()}
    results = [
        compare(name, analytic[name], numerical_gradient(f, p.value, h, weights)) for name, p in named.items()
    ]
    results.append(compare("input", grad_x, numerical_gradient(f, x, h, weights)))
    return results


def gradient_check(
    target: Layer | Sequential | SoftmaxCrossEntropy,
    x: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    seed: int = 0,
    h: float = DEFAULT_STEP,
    verbose: bool = False,
) -> float:
    """Assert that every gradient of ``target`` matches its numerical estimate.

    Inputs: as ``gradient_errors`` (``target``, ``x (N, d_in)``, ``labels (N,)``
    for a network or the loss), and ``tolerance``, the largest relative error
    that passes; ``verbose`` prints every tensor's result.
    Returns: the largest relative error found, a float. Raises
    ``GradientCheckError`` naming each tensor over ``tolerance``, its worst
    index, and both values.
    """
    results = gradient_errors(target, x, labels, seed=seed, h=h)
    if verbose:
        for result in results:
            print(result)
    failed = [r for r in results if not r.rel_error < tolerance]
    if failed:
        lines = "\n  ".join(str(r) for r in failed)
        raise GradientCheckError(
            f"gradient check failed (tolerance {tolerance:.0e}) for {len(failed)} of "
            f"{len(results)} tensors:\n  {lines}"
        )
    return max(r.rel_error for r in results)


def _named_parameters(model: Layer | Sequential) -> dict[str, object]:
    """Parameters by readable name: ``layers[0].weight`` in a network, ``weight`` in a layer."""
    if isinstance(model, Sequential):
        return {
            f"layers[{i}].{p.name}": p for i, layer in enumerate(model.layers) for p in layer.parameters()
        }
    return {p.name: p for p in model.parameters()}
