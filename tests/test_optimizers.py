"""Optimizer steps against values computed by hand."""

import numpy as np
import pytest

import mlp
from mlp.nn.layers import Parameter


def parameter(value, grad, decay=True):
    p = Parameter("w", np.array(value, dtype=np.float64), decay=decay)
    p.grad[...] = grad
    return p


def test_plain_sgd():
    p = parameter([1.0, -2.0], [0.5, -1.0])
    mlp.SGD(lr=0.1).step([p])
    np.testing.assert_allclose(p.value, [0.95, -1.9])


def test_sgd_momentum_over_two_steps():
    p = parameter([1.0], [1.0])
    opt = mlp.SGD(lr=0.1, momentum=0.9)
    opt.step([p])  # v = 1, w = 1 - 0.1
    np.testing.assert_allclose(p.value, [0.9])
    p.grad[...] = 2.0
    opt.step([p])  # v = 0.9 * 1 + 2 = 2.9, w = 0.9 - 0.29
    np.testing.assert_allclose(p.value, [0.61])


def test_sgd_nesterov_over_two_steps():
    p = parameter([1.0], [1.0])
    opt = mlp.SGD(lr=0.1, momentum=0.9, nesterov=True)
    opt.step([p])  # v = 1, w -= 0.1 * (1 + 0.9 * 1)
    np.testing.assert_allclose(p.value, [0.81])
    p.grad[...] = 2.0
    opt.step([p])  # v = 2.9, w -= 0.1 * (2 + 0.9 * 2.9) = 0.461
    np.testing.assert_allclose(p.value, [0.349])


def test_adam_first_steps_by_hand():
    g1, g2 = np.array([0.2, -4.0]), np.array([0.1, 1.0])
    p = parameter([1.0, 1.0], g1)
    opt = mlp.Adam(lr=0.01)
    opt.step([p])
    # After one step the bias-corrected m_hat = g and v_hat = g^2: a step of lr against sign(g).
    np.testing.assert_allclose(p.value, [0.99, 1.01], rtol=1e-7)
    w1 = 1.0 - 0.01 * g1 / (np.abs(g1) + 1e-8)
    p.grad[...] = g2
    opt.step([p])
    m = 0.9 * (0.1 * g1) + 0.1 * g2
    v = 0.999 * (0.001 * g1**2) + 0.001 * g2**2
    m_hat, v_hat = m / (1 - 0.9**2), v / (1 - 0.999**2)
    np.testing.assert_allclose(p.value, w1 - 0.01 * m_hat / (np.sqrt(v_hat) + 1e-8), rtol=1e-12)


def test_weight_decay_applies_to_weights_not_biases():
    w = parameter([2.0], [0.0])
    b = parameter([2.0], [0.0], decay=False)
    mlp.SGD(lr=0.1, weight_decay=0.5).step([w, b])
    np.testing.assert_allclose(w.value, [2.0 - 0.1 * 0.5 * 2.0])
    np.testing.assert_allclose(b.value, [2.0])


def test_step_does_not_touch_the_gradient():
    p = parameter([1.0, 2.0], [0.3, 0.4])
    for opt in (mlp.SGD(0.1, 0.9, nesterov=True, weight_decay=0.1), mlp.Adam(0.1, weight_decay=0.1)):
        opt.step([p])
        np.testing.assert_array_equal(p.grad, [0.3, 0.4])


def test_linear_decay_schedule():
    opt = mlp.SGD(lr=0.2, schedule=mlp.linear_decay)
    assert opt.learning_rate(0.0) == 0.2
    assert opt.learning_rate(0.75) == pytest.approx(0.05)
    assert opt.learning_rate(1.0) == 0.0
    assert mlp.cosine_decay(0.5) == pytest.approx(0.5)
    p = parameter([1.0], [1.0])
    opt.step([p], progress=0.5)
    np.testing.assert_allclose(p.value, [0.9])


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda: mlp.SGD(0.05, momentum=0.9),
        lambda: mlp.SGD(0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
        lambda: mlp.Adam(1e-2),
        lambda: mlp.AdamW(1e-2, weight_decay=1e-2),
        lambda: mlp.FusedAdam(1e-2, weight_decay=1e-3),
    ],
    ids=["sgd-momentum", "sgd-nesterov", "adam", "adamw", "fused-adam"],
)
def test_one_optimizer_reused_across_rebuilt_models_steps_like_a_fresh_one(make_optimizer):
    """A learner re-runs the cell that builds the model, not the one that builds the optimizer.

    Each new model's parameters must start from a clean state (no velocity, no moments, step 1),
    exactly as with a fresh optimizer. CPython hands a new object the address of one just freed,
    so state keyed by id() would give the new parameters the old ones' moments: silently, when
    the shapes agree, as they do here.
    """
    from mlp.training.loop import train_step

    rng = np.random.default_rng(0)
    x, y = rng.random((32, 12), dtype=np.float32), rng.integers(0, 4, 32)
    loss = mlp.SoftmaxCrossEntropy()
    reused = make_optimizer()
    addresses_seen, reused_addresses = set(), 0
    for rebuild in range(25):
        model = mlp.MLP([12, 8, 4], seed=rebuild % 3)  # the cell, re-run: same shapes, new objects
        addresses = {id(p) for p in model.parameters()}
        reused_addresses += len(addresses & addresses_seen)
        addresses_seen |= addresses
        twin, fresh = mlp.MLP([12, 8, 4], seed=rebuild % 3), make_optimizer()
        for step in range(3):
            batch = slice(8 * step, 8 * step + 8)
            train_step(model, loss, reused, x[batch], y[batch], step / 3)
            train_step(twin, loss, fresh, x[batch], y[batch], step / 3)
            for mine, theirs in zip(model.parameters(), twin.parameters(), strict=True):
                np.testing.assert_array_equal(
                    mine.value, theirs.value, err_msg=f"model {rebuild}, step {step}"
                )
        del model
    # The scenario the test is about did happen: some new parameters lived at a dead one's address.
    assert reused_addresses > 0


def test_optimizer_state_goes_with_the_model():
    import gc

    optimizer = mlp.Adam(1e-3)
    for seed in range(5):
        model = mlp.MLP([6, 5, 3], seed=seed)
        for p in model.parameters():
            p.grad = np.ones_like(p.value)
        optimizer.step(model.parameters())
        del model, p
        gc.collect()
    assert len(optimizer._state) == 0  # no state kept alive for parameters nobody holds


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: mlp.SGD(lr=0), "lr must be a finite number > 0, got 0"),
        (lambda: mlp.SGD(lr=-0.1), "lr must be"),
        (lambda: mlp.SGD(lr=float("nan")), "got nan"),
        (lambda: mlp.Adam(lr=float("inf")), "got inf"),
        (lambda: mlp.SGD(lr="fast"), "lr must be a number"),
        (lambda: mlp.SGD(momentum=1.0), r"momentum must be a finite number >= 0 and < 1, got 1\.0"),
        (lambda: mlp.SGD(momentum=float("nan")), "momentum"),
        (lambda: mlp.SGD(nesterov=True), "Nesterov momentum needs momentum > 0"),
        (lambda: mlp.SGD(weight_decay=-1e-3), "weight_decay"),
        (lambda: mlp.Adam(beta1=1), r"beta1 must be a finite number >= 0 and < 1, got 1"),
        (lambda: mlp.Adam(beta1=-0.1), "beta1"),
        (lambda: mlp.Adam(beta2=1.0), "beta2"),
        (lambda: mlp.Adam(beta2=1.5), "beta2"),
        (lambda: mlp.Adam(eps=0), "eps must be a finite number > 0"),
        (lambda: mlp.AdamW(weight_decay=float("inf")), "weight_decay"),
        (lambda: mlp.FusedAdam(beta1=1), "beta1"),
        (lambda: mlp.Adam(schedule=0.5), "schedule must be a function"),
    ],
)
def test_bad_hyperparameters_are_refused_by_name(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()
