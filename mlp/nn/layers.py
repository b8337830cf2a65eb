"""Layers: each one a forward pass that remembers what its backward pass needs.

The contract, the same for every layer (after CS231n):

* ``forward(x)`` takes a batch ``x`` of shape ``(N, features)``, returns the
  output and keeps in ``self`` whatever ``backward`` will need.
* ``backward(grad_out)`` takes ``dL/d(output)`` and returns ``dL/d(input)``;
  a layer with parameters also sets ``θ.grad = dL/dθ``, beside ``θ``.
  Gradients are *overwritten*, never accumulated: after a backward pass each
  ``.grad`` holds the gradient of that batch's loss, so there is nothing to
  zero between steps.
* ``infer(x)`` is the output at inference time, when nothing will be
  differentiated: dropout is off, whatever ``training`` says. For most
  layers it is ``forward`` itself.

Neither pass ever writes into its argument: the caller may still need it.

Dtypes: a layer with parameters keeps them in one float dtype (float32 to
train fast, float64 to check gradients) and computes in it: ``Dense``
converts input of another dtype on the way in, so a float32 network stays
float32 even when fed NumPy's default float64 (which would otherwise make
every product, and every later layer, float64 and twice as slow). Layers
without parameters compute in the dtype of their input.

Random layers take ``seed``: an ``int``, or a ``np.random.Generator`` to draw
from (handy to derive many layers from one seed).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlp.nn.inputs import as_int, float_dtype


@dataclass(eq=False)
class Parameter:
    """A trainable array and its gradient, side by side.

    ``decay`` says whether L2 weight decay applies: to weights yes, to biases
    no (shrinking a bias towards zero does not make a network smoother).
    """

    name: str
    value: np.ndarray
    decay: bool = True
    grad: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.grad = np.zeros_like(self.value)


class Layer:
    """Base class of every layer: subclass it and write ``forward`` and ``backward``.

    A layer with parameters also returns them from ``parameters()``; a layer
    that behaves differently at inference (``Dropout``) overrides ``infer``.
    That is all a layer is. How a layer is written into a model file is the
    model files' business (``mlp.training.model_io``), not the layer's.
    """

    training: bool = True

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Inputs: ``x`` ``(N, d_in)``. Returns the output ``(N, d_out)``; keeps what ``backward`` needs."""
        raise NotImplementedError

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """Inputs: ``grad_out = dL/d(output)`` ``(N, d_out)``. Returns ``dL/dx`` ``(N, d_in)``.

        A layer with parameters also sets each ``p.grad = dL/dp`` (shaped like ``p.value``).
        """
        raise NotImplementedError

    def infer(self, x: np.ndarray) -> np.ndarray:
        """The output at inference: ``forward`` unless the layer behaves differently there (``Dropout``)."""
        return self.forward(x)

    def parameters(self) -> list[Parameter]:
        """The layer's trainable ``Parameter``s, each an array with its gradient beside it."""
        return []

    def __repr__(self) -> str:
        # What the layer was built with: its public numbers and words (Dense(n_in=784, n_out=128, ...)).
        options = {
            key: value
            for key, value in vars(self).items()
            if not key.startswith("_") and key != "training" and isinstance(value, bool | int | float | str)
        }
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in options.items())})"


def cast_copy(layer: Layer, dtype: np.dtype | type) -> Layer:
    """A deep copy of ``layer`` (any ``Layer``, a learner's own included) whose parameters are in ``dtype``.

    Inputs: ``layer``; ``dtype`` (``np.float32`` or ``np.float64``). Returns a
    new layer with every attribute copied as it is (a custom layer's ``alpha``
    stays its ``alpha``; a generator goes on from where the original's is,
    independently), each parameter's value cast to ``dtype`` and its gradient
    zeroed. Nothing is rebuilt from a configuration, so the copy is the layer
    as written, and ``layer`` itself is left untouched.
    """
    dtype = float_dtype(dtype)
    memo: dict[int, Any] = {}
    for p in layer.parameters():  # deepcopy takes these in place of the originals
        memo[id(p.value)] = p.value.astype(dtype)
        memo[id(p.grad)] = np.zeros(p.value.shape, dtype)
    return copy.deepcopy(layer, memo)


class Dense(Layer):
    """A fully connected layer: ``y = x @ W + b``.

    Shapes: ``x (N, n_in) @ W (n_in, n_out) + b (n_out,) -> y (N, n_out)``.

    ``init`` chooses the scale of the random weights so that the signal
    neither dies nor explodes as it goes through many layers: ``"he"``
    (std ``sqrt(2 / n_in)``) compensates for ReLU zeroing half its inputs;
    ``"xavier"`` (Glorot, std ``sqrt(2 / (n_in + n_out))``) suits tanh and
    sigmoid, which are linear near zero.
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        *,
        init: str = "he",
        seed: int | np.random.Generator = 0,
        dtype: np.dtype | type = np.float32,
    ) -> None:
        if init not in ("he", "xavier"):
            raise ValueError(f"init must be 'he' or 'xavier', got {init!r}")
        n_in, n_out = as_int(n_in, "n_in", minimum=1), as_int(n_out, "n_out", minimum=1)
        dtype = float_dtype(dtype)
        self.n_in, self.n_out, self.init = n_in, n_out, init
        std = np.sqrt(2.0 / n_in) if init == "he" else np.sqrt(2.0 / (n_in + n_out))
        rng = np.random.default_rng(seed)
        weight = (rng.standard_normal((n_in, n_out)) * std).astype(dtype)
        self.weight = Parameter("weight", weight)
        self.bias = Parameter("bias", np.zeros(n_out, dtype=dtype), decay=False)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Inputs: ``x`` ``(N, n_in)``. Returns ``y = x @ W + b`` ``(N, n_out)``, in the layer's dtype."""
        self._x = x = x.astype(self.weight.value.dtype, copy=False)  # compute in the layer's dtype
        out = x @ self.weight.value  # (N, n_in) @ (n_in, n_out) -> (N, n_out)
        out += self.bias.value  # broadcasts (n_out,) over the N rows
        return out

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """Inputs: ``grad_out`` ``(N, n_out)``. Returns ``dL/dx`` ``(N, n_in)``; sets both ``.grad``."""
        self.weight.grad = self._x.T @ grad_out  # dL/dW: (n_in, N) @ (N, n_out) -> (n_in, n_out)
        self.bias.grad = grad_out.sum(axis=0)  # dL/db: b was added to every row -> (n_out,)
        return grad_out @ self.weight.value.T  # dL/dx: (N, n_out) @ (n_out, n_in) -> (N, n_in)

    def backward_parameters(self, grad_out: np.ndarray) -> None:
        """``backward`` without ``dL/dx``: half its work, for a layer whose input nobody trains.

        The first layer's input is the data. Its gradient costs one of the two
        matrix products of this backward (``db`` is only a sum) and nobody
        uses it, so ``Sequential.backward(..., input_grad=False)`` calls this
        instead, as autograd frameworks skip gradients that no one asked for.
        """
        self.weight.grad = self._x.T @ grad_out
        self.bias.grad = grad_out.sum(axis=0)

    def parameters(self) -> list[Parameter]:
        return [self.weight, self.bias]


class ReLU(Layer):
    """``max(0, x)``: passes the gradient where the input was positive, blocks it elsewhere.

    Like Sigmoid and Tanh it keeps its output, which is positive exactly where
    the input was: the mask costs nothing at inference, when there is no backward.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Inputs: ``x`` of any shape. Returns ``max(0, x)``, the same shape."""
        self._out = np.maximum(x, 0)
        return self._out

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """Inputs: ``grad_out``, shaped like the output. Returns ``dL/dx``, the same shape."""
        # A new array: multiplying grad_out in place would corrupt the caller's copy.
        return grad_out * (self._out > 0)


class Sigmoid(Layer):
    """``1 / (1 + exp(-x))``, whose derivative is ``s (1 - s)`` of its own output."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Inputs: ``x`` of any shape. Returns ``1 / (1 + exp(-x))``, the same shape."""
        # exp(-|x|) never overflows; pick the algebraically equal form per sign.
        e = np.exp(-np.abs(x))
        self._out = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
        return self._out

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """Inputs: ``grad_out``, shaped like the output. Returns ``dL/dx``, the same shape."""
        return grad_out * self._out * (1 - self._out)


class Tanh(Layer):
    """``tanh(x)``, whose derivative is ``1 - tanh(x)^2`` of its own output."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Inputs: ``x`` of any shape. Returns ``tanh(x)``, the same shape."""
        self._out = np.tanh(x)
        return self._out

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """Inputs: ``grad_out``, shaped like the output. Returns ``dL/dx``, the same shape."""
        return grad_out * (1 - self._out**2)


class Dropout(Layer):
    """Inverted dropout: while training, zero each unit with probability ``p``.

    The survivors are scaled by ``1 / (1 - p)`` so that the expected output is
    unchanged, which is why nothing needs rescaling at inference, when the layer
    is the identity. The mask comes from a seeded generator, so a training run
    is reproducible. ``seed`` is an ``int`` or a ``Generator`` to draw one
    from; the ``int`` is kept as ``seed`` and written into model files, so a
    saved model drops the same units again.
    """

    def __init__(self, p: float = 0.5, *, seed: int | np.random.Generator = 0) -> None:
        if not 0 <= p < 1:  # NaN fails this too
            raise ValueError(f"dropout probability p must be in [0, 1), got {p}")
        if isinstance(seed, np.random.Generator):
            seed = int(seed.integers(2**63 - 1))
        self.p, self.seed = float(p), as_int(seed, "seed", minimum=0)
        self.rng = np.random.default_rng(self.seed)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Inputs: ``x`` of any shape. Returns ``x`` with units dropped and survivors scaled, a new array."""
        if not self.training or self.p == 0:
            self._scale = None
            return x.copy()
        keep = self.rng.random(x.shape, dtype=np.float32) >= self.p
        self._scale = keep * x.dtype.type(1 / (1 - self.p))
        return x * self._scale

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """Inputs: ``grad_out``, shaped like the output. Returns ``dL/dx``: zero where a unit was dropped."""
        return grad_out.copy() if self._scale is None else grad_out * self._scale

    def infer(self, x: np.ndarray) -> np.ndarray:
        return x  # the identity: nothing is dropped, nothing is scaled
