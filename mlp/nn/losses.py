"""Softmax and cross-entropy, fused into one numerically stable loss.

For logits ``z`` (N, C) and true classes ``y``:

    p = softmax(z),   L = -(1/N) * sum_i log p[i, y_i],   dL/dz = (p - onehot(y)) / N

Computing the gradient of the pair at once is both simpler and more accurate
than chaining the softmax Jacobian with the derivative of the logarithm.
"""

from __future__ import annotations

import numpy as np

from mlp.nn.inputs import as_class_indices


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """``log(softmax(z))`` along the last axis, without overflow.

    Inputs: ``logits`` ``(N, C)`` (or ``(C,)``). Returns the log-probabilities, the same shape.

    Subtracting the row maximum changes nothing mathematically (softmax is
    invariant to shifts) but keeps every ``exp`` argument ``<= 0``, so it
    cannot overflow: the log-sum-exp trick.
    """
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities along the last axis; each row sums to 1.

    Inputs: ``logits`` ``(N, C)`` (or ``(C,)``). Returns the probabilities, the same shape, a new array.
    """
    shifted = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    e /= e.sum(axis=-1, keepdims=True)
    return e


def cross_entropy_per_sample(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``-log softmax(z)[i, y_i]`` for each row ``i``: the loss of every sample.

    Inputs: ``logits`` ``(N, C)``; ``labels``, class ids ``(N,)`` or one-hot ``(N, C)``.
    Returns: the losses, ``(N,)``.
    """
    labels = as_class_indices(labels, logits.shape[-1])
    return -log_softmax(logits)[np.arange(len(logits)), labels]


class SoftmaxCrossEntropy:
    """The loss for classification: ``forward`` gives the mean loss, ``backward`` its gradient."""

    def forward(self, logits: np.ndarray, labels: np.ndarray) -> float:
        """Mean cross-entropy of the batch; remembers ``p`` and ``y`` for ``backward``.

        Inputs: ``logits`` ``(N, C)``, ``N > 0``; ``labels``, class ids ``(N,)`` or one-hot ``(N, C)``.
        Returns: the mean loss, a Python float.
        """
        if logits.ndim != 2 or logits.shape[0] == 0:
            raise ValueError(f"logits must have shape (N, C) with N > 0, got {logits.shape}")
        self._labels = as_class_indices(labels, logits.shape[1])
        if len(self._labels) != len(logits):
            raise ValueError(f"{len(logits)} rows of logits but {len(self._labels)} labels")
        log_p = log_softmax(logits)
        self._log_p = log_p
        rows = np.arange(len(logits))
        return float(-log_p[rows, self._labels].mean())

    def backward(self) -> np.ndarray:
        """Returns ``dL/dz = (p - onehot(y)) / N``, ``(N, C)`` like the logits of the last ``forward``."""
        grad = np.exp(self._log_p)  # p, a fresh array we are free to modify
        grad[np.arange(len(grad)), self._labels] -= 1
        grad /= len(grad)
        return grad
