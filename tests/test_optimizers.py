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
    "make", [lambda: mlp.SGD(lr=0), lambda: mlp.SGD(momentum=1.0), lambda: mlp.SGD(nesterov=True)]
)
def test_bad_hyperparameters_are_refused(make):
    with pytest.raises(ValueError):
        make()
