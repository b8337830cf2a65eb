"""A network is a list of layers: forward runs them in order, backward in reverse.

That reversal *is* backpropagation: each layer turns the gradient of the loss
with respect to its output into the gradient with respect to its input, which
is the previous layer's output (the chain rule, applied one layer at a time).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from mlp.nn.inputs import as_batch, as_class_indices, as_int
from mlp.nn.layers import Dense, Dropout, Layer, Parameter, ReLU, Sigmoid, Tanh, cast_copy
from mlp.nn.losses import softmax

ACTIVATIONS: dict[str, type[Layer]] = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh}


class Sequential:
    """Layers applied one after another; the last one outputs class scores (logits)."""

    def __init__(self, layers: Sequence[Layer], metadata: dict[str, Any] | None = None) -> None:
        self.layers = list(layers)
        dense = [layer for layer in self.layers if isinstance(layer, Dense)]
        if not dense:
            raise ValueError("a network needs at least one Dense layer")
        for before, after in itertools.pairwise(dense):
            if before.n_out != after.n_in:
                raise ValueError(
                    f"layer sizes do not chain: a Dense layer outputs {before.n_out} "
                    f"features but the next Dense layer expects {after.n_in}"
                )
        self.n_inputs, self.n_classes = dense[0].n_in, dense[-1].n_out
        self.metadata: dict[str, Any] = dict(metadata or {})
        self._first_dense = dense[0]

    @property
    def dtype(self) -> np.dtype:
        """The dtype the network computes in: its weights' (the first Dense layer's, read each time)."""
        return self._first_dense.weight.value.dtype

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Inputs: ``x`` ``(N, n_inputs)``. Returns the logits ``(N, n_classes)``; caches for backward."""
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def infer(self, x: np.ndarray) -> np.ndarray:
        """Logits at inference (dropout off, whatever the mode) for a checked batch, or one vector.

        Inputs: ``x`` ``(N, n_inputs)`` or ``(n_inputs,)``.
        Returns: the logits, ``(N, n_classes)`` or ``(n_classes,)``.

        Every layer is a matrix product or elementwise, so one input ``(n_inputs,)``
        can go through as it is, without the batch dimension.
        """
        for layer in self.layers:
            x = layer.infer(x)
        return x

    def backward(self, grad_logits: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        """Set every parameter's ``.grad``; return ``dL/dx``, or ``None`` with ``input_grad=False``.

        Inputs: ``grad_logits = dL/d(logits)`` ``(N, n_classes)``, after ``forward``.
        Returns: ``dL/dx`` ``(N, n_inputs)``, or ``None``.

        Backpropagation: the gradient of the logits goes through the layers in
        reverse, each turning the gradient of its output into that of its input.
        Training never needs the gradient with respect to the data, so ``fit``
        passes ``input_grad=False`` and a first ``Dense`` layer skips that
        product. Saliency maps and gradient checks need it, and get it by default.
        """
        grad = grad_logits
        for layer in reversed(self.layers[1:]):
            grad = layer.backward(grad)
        first = self.layers[0]
        if input_grad:
            return first.backward(grad)
        if isinstance(first, Dense):
            first.backward_parameters(grad)
        else:
            first.backward(grad)
        return None

    def parameters(self) -> list[Parameter]:
        return [p for layer in self.layers for p in layer.parameters()]

    @contextmanager
    def mode(self, *, training: bool) -> Iterator[None]:
        """Temporarily switch dropout on (training) or off (inference)."""
        before = [layer.training for layer in self.layers]
        for layer in self.layers:
            layer.training = training
        try:
            yield
        finally:
            for layer, was in zip(self.layers, before):
                layer.training = was

    def predict_proba(self, x: np.ndarray, *, batch_size: int = 4096) -> np.ndarray:
        """Class probabilities: ``(N, C)`` for a batch, ``(C,)`` for one input (see ``mlp.nn.inputs``).

        ``x`` may be a batch ``(N, 784)``, one vector ``(784,)``, one image
        ``(28, 28)`` or images ``(N, 28, 28)``, floats in [0, 1]. A batch
        larger than ``batch_size`` goes through in slices of that many rows,
        which bounds the memory the hidden activations take.
        """
        batch, single = as_batch(x, self.n_inputs, self.dtype)
        batch_size = as_int(batch_size, "batch_size", minimum=1)
        if single:  # one input goes through as a vector: nothing to slice, nothing to stack
            return softmax(self.infer(batch[0]))
        if len(batch) <= batch_size:  # a batch that fits in one pass (or an empty one)
            return softmax(self.infer(batch))
        slices = (batch[i : i + batch_size] for i in range(0, len(batch), batch_size))
        return np.concatenate([softmax(self.infer(rows)) for rows in slices])

    def predict(self, x: np.ndarray) -> np.ndarray | int:
        """Inputs: ``x`` as ``predict_proba`` takes it.

        Returns: class ids, ``(N,)`` int64 for a batch, an ``int`` for one input.
        """
        proba = self.predict_proba(x)
        if proba.ndim == 1:
            return int(proba.argmax())
        return proba.argmax(axis=1).astype(np.int64)

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        """Inputs: a batch ``x`` ``(N, n_inputs)`` (or images), labels ``y`` (ids ``(N,)`` or one-hot rows).

        Returns: the fraction of the batch classified as ``y``, a float in [0, 1].
        """
        labels = as_class_indices(y, self.n_classes)
        predicted = np.atleast_1d(self.predict(x))
        if len(predicted) != len(labels):
            raise ValueError(f"{len(predicted)} inputs but {len(labels)} labels")
        if len(labels) == 0:
            raise ValueError("accuracy of an empty batch: there is nothing to count")
        return float(np.mean(predicted == labels))

    def astype(self, dtype: np.dtype | type) -> Sequential:
        """A deep copy computing in ``dtype`` (e.g. float64 for a gradient check); ``self`` is unchanged.

        Each layer is copied as it is (``mlp.nn.layers.cast_copy``), a learner's
        own layers included, with its parameters cast; the metadata is copied too.
        """
        return Sequential([cast_copy(layer, dtype) for layer in self.layers], copy.deepcopy(self.metadata))

    def __repr__(self) -> str:
        n_params = sum(p.value.size for p in self.parameters())
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"Sequential([\n  {inner},\n])  # {n_params:,} parameters, {self.dtype}"


class MLP(Sequential):
    """A multi-layer perceptron: Dense layers of the given sizes, an activation between them.

    ``MLP([784, 128, 64, 10])`` is 784 inputs, hidden layers of 128 and 64
    units, and 10 class scores. He initialisation goes with ReLU, Xavier with
    tanh and sigmoid. ``dropout > 0`` adds a Dropout layer after each hidden
    activation. Every random draw derives from ``seed``.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str = "relu",
        *,
        dropout: float = 0.0,
        seed: int = 0,
        dtype: np.dtype | type = np.float32,
    ) -> None:
        if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
            raise ValueError(f"sizes must list at least two positive layer widths, got {sizes}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        init = "he" if activation == "relu" else "xavier"
        seeds = np.random.SeedSequence(seed).spawn(2 * len(sizes))
        layers: list[Layer] = []
        for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            layers.append(Dense(n_in, n_out, init=init, seed=np.random.default_rng(seeds[i]), dtype=dtype))
            if i < len(sizes) - 2:
                layers.append(ACTIVATIONS[activation]())
                if dropout > 0:
                    layers.append(Dropout(dropout, seed=int(seeds[len(sizes) + i].generate_state(1)[0])))
        super().__init__(layers)
