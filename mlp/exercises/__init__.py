"""Automatic checks for the notebooks' "your turn" exercises.

Each checker takes the learner's function, runs it on inputs where the right
answer is known (from the reference code in ``mlp`` or a gradient check), and
prints ✓, ✎ (not written yet, with a first hint) or a precise diagnosis:
which tensor, expected against got, a hint naming the usual mistake. It never
lets a raw NumPy traceback through, and it returns an ``ExerciseResult`` so
that a notebook (or a test) can assert on it.

One module per part of the course; ``checking`` holds what they share.
"""

from mlp.exercises.checking import ExerciseResult
from mlp.exercises.layers import (
    check_dense_backward,
    check_network_backward,
    check_relu_backward,
    check_softmax,
)
from mlp.exercises.pad import check_centre_by_mass
from mlp.exercises.teach import check_replay_batch
from mlp.exercises.training import check_adam_step, check_confusion_matrix, check_saliency, check_sgd_momentum

__all__ = [
    "ExerciseResult",
    "check_adam_step",
    "check_centre_by_mass",
    "check_confusion_matrix",
    "check_dense_backward",
    "check_network_backward",
    "check_relu_backward",
    "check_replay_batch",
    "check_saliency",
    "check_sgd_momentum",
    "check_softmax",
]
