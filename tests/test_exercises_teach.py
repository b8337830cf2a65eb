"""The checker of notebook 09's exercise accepts right answers and diagnoses the typical wrong ones."""

from __future__ import annotations

import numpy as np
import pytest

from mlp.exercises import check_replay_batch


def replay_batch(x_new, y_new, x_old, y_old, n_new, n_old, rng):
    new = rng.choice(len(x_new), n_new)
    old = rng.choice(len(x_old), n_old, replace=False)
    return np.concatenate([x_new[new], x_old[old]]), np.concatenate([y_new[new], y_old[old]])


def replay_batch_shuffled(x_new, y_new, x_old, y_old, n_new, n_old, rng):
    """Another right answer: old from a permutation, the rows shuffled together, lists returned."""
    new, old = rng.integers(0, len(x_new), n_new), rng.permutation(len(x_old))[:n_old]
    x, y = np.concatenate([x_new[new], x_old[old]]), np.concatenate([y_new[new], y_old[old]])
    order = rng.permutation(len(x))
    return x[order].tolist(), list(y[order])


@pytest.mark.parametrize("answer", [replay_batch, replay_batch_shuffled])
def test_right_answers_pass(answer):
    result = check_replay_batch(answer, verbose=False)
    assert result.passed, result.message


def only_new(x_new, y_new, x_old, y_old, n_new, n_old, rng):
    new = rng.choice(len(x_new), n_new)
    return x_new[new], y_new[new]


def swapped_counts(x_new, y_new, x_old, y_old, n_new, n_old, rng):
    return replay_batch(x_new, y_new, x_old, y_old, n_old, n_new, rng)


def labels_shuffled_apart(x_new, y_new, x_old, y_old, n_new, n_old, rng):
    x, y = replay_batch(x_new, y_new, x_old, y_old, n_new, n_old, rng)
    return x[rng.permutation(len(x))], y[rng.permutation(len(y))]


def global_random(x_new, y_new, x_old, y_old, n_new, n_old, rng):
    return replay_batch(x_new, y_new, x_old, y_old, n_new, n_old, np.random.default_rng())


def first_old_rows(x_new, y_new, x_old, y_old, n_new, n_old, rng):
    new = rng.choice(len(x_new), n_new)
    return np.concatenate([x_new[new], x_old[:n_old]]), np.concatenate([y_new[new], y_old[:n_old]])


def same_batch_always(x_new, y_new, x_old, y_old, n_new, n_old, rng):
    return replay_batch(x_new, y_new, x_old, y_old, n_new, n_old, np.random.default_rng(0))


def new_without_replacement(x_new, y_new, x_old, y_old, n_new, n_old, rng):
    new = rng.choice(len(x_new), n_new, replace=False)
    old = rng.choice(len(x_old), n_old, replace=False)
    return np.concatenate([x_new[new], x_old[old]]), np.concatenate([y_new[new], y_old[old]])


def first_new_only(x_new, y_new, x_old, y_old, n_new, n_old, rng):
    new = np.zeros(n_new, dtype=int)
    old = rng.choice(len(x_old), n_old, replace=False)
    return np.concatenate([x_new[new], x_old[old]]), np.concatenate([y_new[new], y_old[old]])


def augmented(x_new, y_new, x_old, y_old, n_new, n_old, rng):
    x, y = replay_batch(x_new, y_new, x_old, y_old, n_new, n_old, rng)
    return x * 0.9, y


def mutating(x_new, y_new, x_old, y_old, n_new, n_old, rng):
    rng.shuffle(x_old)
    return replay_batch(x_new, y_new, x_old, y_old, n_new, n_old, rng)


def one_old_repeated(x_new, y_new, x_old, y_old, n_new, n_old, rng):
    new = rng.choice(len(x_new), n_new)
    old = np.full(n_old, rng.integers(len(x_old)))
    return np.concatenate([x_new[new], x_old[old]]), np.concatenate([y_new[new], y_old[old]])


def old_with_replacement(x_new, y_new, x_old, y_old, n_new, n_old, rng):
    new, old = rng.choice(len(x_new), n_new), rng.integers(0, len(x_old), n_old)
    return np.concatenate([x_new[new], x_old[old]]), np.concatenate([y_new[new], y_old[old]])


def only_x(x_new, y_new, x_old, y_old, n_new, n_old, rng):
    return replay_batch(x_new, y_new, x_old, y_old, n_new, n_old, rng)[0]


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (only_new, "the new examples alone: add n_old old ones"),
        (swapped_counts, "n_new and n_old are swapped"),
        (labels_shuffled_apart, "the labels no longer belong to their images"),
        (global_random, "draw with the `rng` argument"),
        (first_old_rows, "not from its first rows"),
        (same_batch_always, "every call returned the same batch"),
        (new_without_replacement, "Cannot take a larger sample"),
        (first_new_only, "draw from all of x_new"),
        (augmented, "none of the images given"),
        (mutating, "changed its argument `x_old` in place"),
        (one_old_repeated, "repeats old examples"),
        (old_with_replacement, "Draw the old ones without replacement"),
        (only_x, "should return the tuple (x_batch, y_batch)"),
    ],
)
def test_typical_mistakes_get_their_diagnosis(answer, words):
    result = check_replay_batch(answer, verbose=False)
    assert not result.passed and not result.not_written
    assert words in result.message, result.message


def test_the_stub_is_not_written_yet_with_a_first_hint(capsys):
    def stub(x_new, y_new, x_old, y_old, n_new, n_old, rng):
        raise NotImplementedError

    result = check_replay_batch(stub)
    assert result.not_written and "First hint:" in result.message
    assert capsys.readouterr().out.startswith("✎ replay_batch: not written yet")
