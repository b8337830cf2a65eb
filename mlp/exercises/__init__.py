"""Automatic checks for the notebooks' "your turn" exercises.

Each checker takes the learner's function, runs it on inputs where the right
answer is known (from the reference code in ``mlp`` or a gradient check), and
prints ✓, ✎ (not written yet, with a first hint) or a precise diagnosis:
which tensor, expected against got, a hint naming the usual mistake. It never
lets a raw NumPy traceback through, and it returns an ``ExerciseResult`` so
that a notebook (or a test) can assert on it.

One module per part of the course; ``checking`` holds what they share, and
``yours`` keeps every accepted answer for the notebooks after it, which build
the learner's own network from them.
"""

from mlp.exercises.adam import check_adam_step
from mlp.exercises.analysis import check_confusion_matrix, check_saliency
from mlp.exercises.backprop import check_network_backward
from mlp.exercises.by_hand import check_backward_by_hand
from mlp.exercises.checking import ExerciseResult
from mlp.exercises.gradients import check_numerical_gradient
from mlp.exercises.layers import check_dense_backward, check_elu_backward
from mlp.exercises.loop import check_train_step
from mlp.exercises.loss import check_loss_gradient
from mlp.exercises.mnist import check_image_to_vector
from mlp.exercises.momentum import check_sgd_momentum
from mlp.exercises.pad import check_centre_by_mass
from mlp.exercises.softmax import check_softmax
from mlp.exercises.teach import check_replay_batch

__all__ = [
    "ExerciseResult",
    "check_adam_step",
    "check_backward_by_hand",
    "check_centre_by_mass",
    "check_confusion_matrix",
    "check_dense_backward",
    "check_elu_backward",
    "check_image_to_vector",
    "check_loss_gradient",
    "check_network_backward",
    "check_numerical_gradient",
    "check_replay_batch",
    "check_saliency",
    "check_sgd_momentum",
    "check_softmax",
    "check_train_step",
]
