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
    """The reason the checker works in float64: in float32 rounding swamps the difference."""
    x = away_from_zero((6, 7)).astype(np.float32)
    layer = mlp.Sigmoid()
    h = np.float32(1e-3)
    numeric = np.zeros_like(x)
    for i in np.ndindex(x.shape):  # the centred difference, written out in float32
        plus, minus = x.copy(), x.copy()
        plus[i] += h
        minus[i] -= h
        numeric[i] = (np.sum(layer.forward(plus)) - np.sum(layer.forward(minus))) / (2 * h)
    out = layer.forward(x.astype(np.float64))
    analytic = layer.backward(np.ones_like(out))
    assert mlp.nn.gradcheck.relative_error(analytic, numeric) > 1e-5


@pytest.mark.parametrize(
    ("w", "named"),
    [
        (np.ones(3, np.float32), "an array of float32"),
        (np.arange(3), "an array of int64"),
        ([1.0, 2.0], "a list"),
    ],
)
def test_numerical_gradient_refuses_what_it_cannot_differentiate(w, named):
    with pytest.raises(TypeError, match=f"with respect to a float64 array, got {named}.*astype"):
        mlp.numerical_gradient(lambda: 0.0, w)


def test_a_single_layer_refuses_labels_it_would_ignore():
    with pytest.raises(ValueError, match=r"a single layer .* would ignore them"):
        gradient_errors(mlp.Tanh(), away_from_zero((4, 3)), np.array([0, 1, 2, 0]))


# --- The layer checked is the layer written: a deep copy, not a rebuild from defaults ---------------


class ELU(mlp.Layer):
    """ELU (Clevert et al., 2015): x for x > 0, alpha (e^x - 1) below. Its slope there is alpha e^x."""

    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def forward(self, x):
        self._x = x
        return np.where(x > 0, x, self.alpha * np.expm1(np.minimum(x, 0)))

    def backward(self, grad_out):
        return grad_out * np.where(self._x > 0, 1.0, self.alpha * np.exp(np.minimum(self._x, 0)))


class ELUForgettingAlpha(ELU):
    """Notebook 03's typical mistake: the slope e^x, without alpha."""

    def backward(self, grad_out):
        return grad_out * np.where(self._x > 0, 1.0, np.exp(np.minimum(self._x, 0)))


class Scale(mlp.Layer):
    """A layer whose constructor argument is required: y = factor * x."""

    def __init__(self, factor):
        self.factor = factor

    def forward(self, x):
        return self.factor * x

    def backward(self, grad_out):
        return self.factor * grad_out


def forgotten_alpha_error(x, r, alpha):
    """The relative error of the forgetful backward, from the two slopes written out (not the checker)."""
    right = r * np.where(x > 0, 1.0, alpha * np.exp(x))
    wrong = r * np.where(x > 0, 1.0, np.exp(x))
    return np.linalg.norm(right - wrong) / (np.linalg.norm(right) + np.linalg.norm(wrong))


def test_a_custom_layer_is_checked_as_written_not_with_its_defaults():
    x = 2 * np.random.default_rng(3).standard_normal((4, 6))  # both signs, far from the kink
    r = np.random.default_rng(0).standard_normal((4, 6))  # gradient_errors' r for seed 0
    expected = forgotten_alpha_error(x, r, alpha=0.5)
    assert 0.1 < expected < 0.2  # 0.16: a wrong gradient, by a wide margin
    (result,) = gradient_errors(ELUForgettingAlpha(alpha=0.5), x)
    assert result.name == "input" and result.rel_error == pytest.approx(expected, rel=1e-5)
    with pytest.raises(GradientCheckError, match="input"):
        mlp.gradient_check(ELUForgettingAlpha(alpha=0.5), x)
    assert mlp.gradient_check(ELU(alpha=0.5), x) < TOLERANCE  # the right backward passes


def test_a_layer_with_a_required_argument_is_checked():
    x = away_from_zero((3, 4))
    assert mlp.gradient_check(Scale(2.5), x) < TOLERANCE
    with pytest.raises(GradientCheckError):
        mlp.gradient_check(type("WrongScale", (Scale,), {"backward": lambda self, g: g})(2.5), x)


def test_copies_of_a_network_keep_a_custom_layers_alpha():
    model = mlp.Sequential([mlp.Dense(6, 5, seed=0), ELU(alpha=0.2), mlp.Dense(5, 3, seed=1)])
    copy = model.astype(np.float64)
    assert copy.layers[1].alpha == 0.2 and copy.layers[1] is not model.layers[1]
    assert copy.dtype == np.float64 and model.dtype == np.float32
    x = np.random.default_rng(0).standard_normal((4, 6))
    # float32 against float64: sums of 6 and 5 terms of order 1, rounded at EPS = 1.2e-7 each.
    np.testing.assert_allclose(copy.forward(x), model.forward(x), rtol=1e-5, atol=1e-5)
    assert mlp.gradient_check(model, x, np.array([0, 1, 2, 0])) < TOLERANCE
