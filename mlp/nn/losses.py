"""Softmax and cross-entropy, fused into one numerically stable loss.

For logits ``z`` (N, C) and true classes ``y``:

    p = softmax(z),   L = -(1/N) * sum_i log p[i, y_i],   dL/dz = (p - onehot(y)) / N

Computing the gradient of the pair at once is both simpler and more accurate
than chaining the softmax Jacobian with the derivative of the logarithm.
"""

from __future__ import annotations

import numpy as np


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """``log(softmax(z))`` along the last axis, without overflow.

    Subtracting the row maximum changes nothing mathematically (softmax is
    invariant to shifts) but keeps every ``exp`` argument ``<= 0``, so it
    cannot overflow: the log-sum-exp trick.
    """
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities along the last axis; each row sums to 1."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    e /= e.sum(axis=-1, keepdims=True)
    return e


def as_class_indices(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Integer class ids ``(N,)`` from ids or one-hot rows ``(N, C)``, validated.

    Soft labels (rows of probabilities) are refused rather than rounded to
    their largest entry: this loss trains towards one class per sample.
    """
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1 and num_classes != 1:
        raise ValueError(
            f"labels have shape {labels.shape}: class ids are one number per sample, of shape "
            f"({labels.shape[0]},); pass labels.ravel()"
        )
    if labels.ndim == 2:
        if labels.shape[1] != num_classes:
            raise ValueError(f"one-hot labels have {labels.shape[1]} columns, the logits {num_classes}")
        if not (np.all((labels == 0) | (labels == 1)) and np.all(labels.sum(axis=1) == 1)):
            raise ValueError(
                "2-D labels must be one-hot rows (a single 1, the rest 0); these are not "
                "(soft labels or probabilities?): pass the class ids instead, labels of shape (N,)"
            )
        labels = labels.argmax(axis=1)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"labels must be integer class ids of shape (N,) or one-hot (N, {num_classes}), "
            f"got dtype {labels.dtype} and shape {labels.shape}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}, got {labels.min()}..{labels.max()}")
    return labels


def cross_entropy_per_sample(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``-log softmax(z)[i, y_i]`` for each row ``i``: the loss of every sample, ``(N,)``."""
    labels = as_class_indices(labels, logits.shape[-1])
    return -log_softmax(logits)[np.arange(len(logits)), labels]


class SoftmaxCrossEntropy:
    """The loss for classification: ``forward`` gives the mean loss, ``backward`` its gradient."""

    def forward(self, logits: np.ndarray, labels: np.ndarray) -> float:
        """Mean cross-entropy of the batch; remembers ``p`` and ``y`` for ``backward``."""
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
        """``dL/dz = (p - onehot(y)) / N``, shape ``(N, C)`` like the logits."""
        grad = np.exp(self._log_p)  # p, a fresh array we are free to modify
        grad[np.arange(len(grad)), self._labels] -= 1
        grad /= len(grad)
        return grad
