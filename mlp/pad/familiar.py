"""Does a drawing look like one digit at all? The network's energy says when it does not.

A network trained on ten digits answers something for every input: a 5 drawn
over a 3 without Clear was read "3, 94 % sure". Its top probability cannot
tell, because softmax only compares the ten digits with each other. The
logits' scale can: the *energy* score of Liu et al. (2020, "Energy-based
Out-of-distribution Detection"), :math:`E(x) = \\log \\sum_k e^{z_k}`, is high
for inputs like those the network was trained on and low for the others.

``FAMILIAR_ABOVE`` was chosen on the 5,000 MNIST training images the course's
network never trained on (its validation set): 1 % of the answers it was
sure of there have a lower energy. ``tests/test_pad_familiar.py`` measures
what it catches: overlaid pairs of MNIST test digits and of pad drawings,
against single ones. It is measured for the course's network; a network of
another size or training has other logits, and the same line is a rougher
guide there.

The pad does not apply it to a network it has just taught: fine-tuning on a
few slashed zeros makes the network read new slashed zeros as 0, but with
energies as low as those of two digits drawn over each other (of 13 new
slashed zeros read as 0 with confidence after teaching 4, 5 fell below the
line), so the pad would call the very style it was just taught "not one
digit".
"""

from __future__ import annotations

import numpy as np

from mlp.nn.losses import softmax
from mlp.nn.network import Sequential

FAMILIAR_ABOVE = 6.5


def energy(logits: np.ndarray) -> np.ndarray | float:
    """``log(sum(exp(logits)))`` over the last axis, computed without overflow: ``(N,)``, or one number."""
    logits = np.asarray(logits, dtype=np.float64)
    top = logits.max(axis=-1, keepdims=True)
    value = np.log(np.exp(logits - top).sum(axis=-1)) + top[..., 0]
    return float(value) if value.ndim == 0 else value


def read(model: Sequential, x: np.ndarray) -> tuple[np.ndarray, float]:
    """``(probabilities (10,), energy)`` of one input ``x`` (28, 28): one pass through the network.

    The probabilities are those of ``model.predict_proba(x)``, from the same logits.
    """
    logits = model.infer(np.asarray(x, dtype=model.dtype).reshape(model.n_inputs))  # (10,)
    return softmax(logits), energy(logits)


def looks_like_a_digit(energy_score: float) -> bool:
    """Whether the network's energy for a drawing is in the range of the digits it was trained on."""
    return energy_score > FAMILIAR_ABOVE
