"""Every gradient in mlp agrees with its centred-difference estimate, in float64."""

import numpy as np
import pytest

import mlp
from mlp.nn.gradcheck import GradientCheckError, gradient_errors

TOLERANCE = 1e-7


def away_from_zero(shape, seed=0, margin=0.1):
    """Random inputs with |x| >= margin, so that ReLU's kink at 0 is never crossed by a step of h."""
    x = np.random.default_rng(seed).standard_normal(shape)
    return np.where(x >= 0, x + margin, x - margin)


@pytest.mark.parametrize(
    "layer",
    [
        mlp.Dense(7, 5, init="he", seed=1),
        mlp.Dense(7, 5, init="xavier", seed=2),
        mlp.ReLU(),
        mlp.Sigmoid(),
        mlp.Tanh(),
        mlp.Dropout(0.4, seed=3),
    ],
    ids=lambda layer: repr(layer),
)
def test_every_layer_passes_the_gradient_check(layer):
    x = away_from_zero((6, layer.n_in if isinstance(layer, mlp.Dense) else 5))
    assert mlp.gradient_check(layer, x, tolerance=TOLERANCE) < TOLERANCE


def test_loss_passes_the_gradient_check():
    logits = np.random.default_rng(4).standard_normal((8, 10))
    labels = np.arange(8) % 10
    assert mlp.gradient_check(mlp.SoftmaxCrossEntropy(), logits, labels, tolerance=TOLERANCE) < TOLERANCE


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_a_three_layer_network_passes_the_gradient_check(activation):
    model = mlp.MLP([12, 10, 8, 5], activation, seed=5)
    x = away_from_zero((6, 12), seed=6)
    labels = np.array([0, 1, 2, 3, 4, 0])
    # Away from the kink: no hidden pre-activation of this batch lies near 0.
    h = x
    for layer in model.astype(np.float64).layers:
        h = layer.forward(h)
        if isinstance(layer, mlp.Dense):
            assert np.abs(h).min() > 1e-4
    errors = gradient_errors(model, x, labels)
    assert {e.name for e in errors} == {
        "layers[0].weight",
        "layers[0].bias",
        "layers[2].weight",
        "layers[2].bias",
        "layers[4].weight",
        "layers[4].bias",
        "input",
    }
    assert max(e.rel_error for e in errors) < TOLERANCE


def test_network_with_dropout_passes_in_training_mode():
    model = mlp.MLP([10, 9, 8, 4], dropout=0.3, seed=7)
    x = away_from_zero((5, 10), seed=8)
    assert mlp.gradient_check(model, x, np.array([0, 1, 2, 3, 0])) < TOLERANCE


def test_a_fresh_network_on_unscaled_input_passes():
    """What a learner would try first: no careful choice of input, a plain relu network."""
    for seed in range(5):
        model = mlp.MLP([20, 16, 12, 10], seed=seed, dtype=np.float64)
        x = np.random.default_rng(seed).standard_normal((4, 20))
        assert mlp.gradient_check(model, x, np.array([3, 1, 4, 1])) < TOLERANCE


def test_relative_error_is_scale_free_and_symmetric():
    a = np.array([1.0, -2.0, 3.0])
    assert mlp.nn.gradcheck.relative_error(a, a) == 0
    assert mlp.nn.gradcheck.relative_error(a, -a) == 1
    assert mlp.nn.gradcheck.relative_error(a, np.zeros(3)) == 1
    assert mlp.nn.gradcheck.relative_error(1e-9 * a, 1e-9 * a * (1 + 1e-8)) < 1e-8
    b = a + np.array([0, 0, 1e-3])
    assert mlp.nn.gradcheck.relative_error(a, b) == mlp.nn.gradcheck.relative_error(b, a)


def test_check_leaves_the_model_unchanged():
    model = mlp.MLP([6, 4, 3], seed=9)
    before = [p.value.copy() for p in model.parameters()]
    mlp.gradient_check(model, away_from_zero((3, 6)), np.array([0, 1, 2]))
    assert all(np.array_equal(a, p.value) for a, p in zip(before, model.parameters()))
    assert model.dtype == np.float32


class BrokenReLU(mlp.ReLU):
    """A classic bug: the gradient passes where the input was negative too."""

    def backward(self, grad_out):
        return grad_out.copy()


class BrokenDense(mlp.Dense):
    """A classic bug: forgetting to sum the bias gradient over the batch."""

    def backward(self, grad_out):
        grad_in = super().backward(grad_out)
        self.bias.grad[...] = grad_out[0]
        return grad_in


def test_a_wrong_backward_is_caught_with_a_readable_diagnosis():
    with pytest.raises(GradientCheckError, match=r"input .* at index \(\d+, \d+\): analytic .*, numeric"):
        mlp.gradient_check(BrokenReLU(), away_from_zero((4, 3)))
    with pytest.raises(GradientCheckError) as error:
        mlp.gradient_check(BrokenDense(3, 2, seed=0), away_from_zero((4, 3)))
    assert "bias" in str(error.value) and "weight" not in str(error.value)


def test_float32_would_fail_the_same_check():
    """The reason the checker converts to float64: in float32 rounding swamps the difference."""
    x = away_from_zero((6, 7)).astype(np.float32)
    layer = mlp.Sigmoid()
    f = lambda: np.sum(layer.forward(x))  # noqa: E731
    numeric = mlp.nn.gradcheck.numerical_gradient(f, x, h=1e-6)
    out = layer.forward(x)
    analytic = layer.backward(np.ones_like(out))
    assert mlp.nn.gradcheck.relative_error(analytic, numeric) > 1e-4
