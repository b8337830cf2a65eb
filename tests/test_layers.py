"""Layers, loss and network: values, shapes, modes, and no argument ever mutated."""

import numpy as np
import pytest

import mlp


def test_dense_forward_is_x_at_w_plus_b():
    layer = mlp.Dense(3, 2, seed=0, dtype=np.float64)
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(layer.forward(x), x @ layer.weight.value + layer.bias.value)


@pytest.mark.parametrize(("init", "std"), [("he", np.sqrt(2 / 400)), ("xavier", np.sqrt(2 / 600))])
def test_initialisation_scales(init, std):
    w = mlp.Dense(400, 200, init=init, seed=1).weight.value
    assert abs(w.std() / std - 1) < 0.02 and abs(w.mean()) < 0.01 * std * 10


@pytest.mark.parametrize(
    "layer", [mlp.Dense(4, 3), mlp.ReLU(), mlp.Sigmoid(), mlp.Tanh(), mlp.Dropout(0.5)], ids=repr
)
def test_no_layer_mutates_its_arguments(layer):
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    x_copy = x.copy()
    out = layer.forward(x)
    grad = np.random.default_rng(1).standard_normal(out.shape).astype(np.float32)
    grad_copy = grad.copy()
    layer.backward(grad)
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(grad, grad_copy)


def test_relu_blocks_the_gradient_where_the_input_was_negative():
    relu = mlp.ReLU()
    relu.forward(np.array([[-1.0, 2.0, 0.0]]))
    np.testing.assert_array_equal(relu.backward(np.array([[5.0, 5.0, 5.0]])), [[0.0, 5.0, 0.0]])


def test_sigmoid_does_not_overflow():
    with np.errstate(over="raise", invalid="raise"):
        out = mlp.Sigmoid().forward(np.array([[-1000.0, 0.0, 1000.0]]))
    np.testing.assert_allclose(out, [[0.0, 0.5, 1.0]])


def test_dropout_is_inverted_seeded_and_off_at_inference():
    x = np.ones((2000, 50), dtype=np.float32)
    a, b = mlp.Dropout(0.25, seed=3), mlp.Dropout(0.25, seed=3)
    out = a.forward(x)
    np.testing.assert_array_equal(out, b.forward(x))  # same seed, same mask
    assert set(np.unique(out)) == {0.0, np.float32(1 / 0.75)}
    assert abs(np.mean(out == 0) - 0.25) < 0.01
    assert abs(out.mean() - 1) < 0.01  # the expectation is preserved
    a.training = False
    np.testing.assert_array_equal(a.forward(x), x)


def test_softmax_cross_entropy_is_stable_and_correct():
    logits = np.array([[1000.0, 1001.0, 999.0], [0.0, 0.0, 0.0]])
    loss = mlp.SoftmaxCrossEntropy()
    with np.errstate(over="raise", invalid="raise"):
        value = loss.forward(logits, np.array([1, 2]))
    p = np.exp([0.0, 1.0, -1.0]) / np.exp([0.0, 1.0, -1.0]).sum()
    expected = (-np.log(p[1]) - np.log(1 / 3)) / 2
    assert value == pytest.approx(expected, rel=1e-12)
    grad = loss.backward()
    np.testing.assert_allclose(grad, (np.array([p, [1 / 3] * 3]) - np.eye(3)[[1, 2]]) / 2)


def test_one_hot_labels_give_the_same_loss():
    logits = np.random.default_rng(0).standard_normal((4, 5))
    labels = np.array([0, 4, 2, 2])
    a, b = mlp.SoftmaxCrossEntropy(), mlp.SoftmaxCrossEntropy()
    assert a.forward(logits, labels) == b.forward(logits, np.eye(5)[labels])


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.array([0, 1, 7]), "0..4"),
        (np.array([0.0, 1.0, 2.0]), "integer class ids"),
        (np.array([0, 1]), "3 rows of logits but 2 labels"),
    ],
)
def test_loss_rejects_bad_labels(labels, message):
    with pytest.raises(ValueError, match=message):
        mlp.SoftmaxCrossEntropy().forward(np.zeros((3, 5)), labels)


def test_predict_accepts_a_batch_a_vector_and_images():
    model = mlp.MLP([784, 16, 10], seed=0)
    batch = np.random.default_rng(0).random((5, 784), dtype=np.float32)
    proba = model.predict_proba(batch)
    assert proba.shape == (5, 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(model.predict_proba(batch[0]), proba[0], rtol=1e-6)
    np.testing.assert_allclose(model.predict_proba(batch[0].reshape(28, 28)), proba[0], rtol=1e-6)
    np.testing.assert_allclose(model.predict_proba(batch.reshape(5, 28, 28)), proba, rtol=1e-6)
    assert isinstance(model.predict(batch[0]), int)
    assert model.predict(batch).dtype == np.int64
    np.testing.assert_array_equal(model.predict(batch), proba.argmax(axis=1))


@pytest.mark.parametrize(
    ("x", "error", "message"),
    [
        (np.zeros((3, 783), np.float32), ValueError, r"expected input of shape \(N, 784\)"),
        (np.zeros((27, 28), np.float32), ValueError, "got \\(27, 28\\)"),
        (np.full(784, np.nan, np.float32), ValueError, "non-finite"),
        (np.array([np.inf] + [0.0] * 783), ValueError, "index \\(0, 0\\)"),
        (np.zeros(784, np.uint8), TypeError, "x / 255"),
        (np.array(["a"] * 784), TypeError, "array of numbers"),
    ],
)
def test_predict_rejects_bad_input_clearly(x, error, message):
    with pytest.raises(error, match=message):
        mlp.MLP([784, 8, 10]).predict_proba(x)


def test_predict_does_not_leave_training_mode_changed():
    model = mlp.MLP([784, 8, 10], dropout=0.5)
    model.predict(np.zeros(784, np.float32))
    assert all(layer.training for layer in model.layers)
    # and it predicts with dropout off: the same input gives the same answer every time
    x = np.random.default_rng(0).random(784, dtype=np.float32)
    np.testing.assert_array_equal(model.predict_proba(x), model.predict_proba(x))


def test_network_rejects_sizes_that_do_not_chain():
    with pytest.raises(ValueError, match="do not chain"):
        mlp.Sequential([mlp.Dense(4, 3), mlp.ReLU(), mlp.Dense(5, 2)])
    with pytest.raises(ValueError, match="activation"):
        mlp.MLP([4, 3, 2], activation="swish")


def test_mlp_layout_and_determinism():
    a = mlp.MLP([784, 128, 64, 10], dropout=0.2, seed=3)
    kinds = [type(layer).__name__ for layer in a.layers]
    assert kinds == ["Dense", "ReLU", "Dropout", "Dense", "ReLU", "Dropout", "Dense"]
    b = mlp.MLP([784, 128, 64, 10], dropout=0.2, seed=3)
    assert all(np.array_equal(p.value, q.value) for p, q in zip(a.parameters(), b.parameters()))
    c = mlp.MLP([784, 128, 64, 10], dropout=0.2, seed=4)
    assert not np.array_equal(a.parameters()[0].value, c.parameters()[0].value)
