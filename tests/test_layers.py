"""Layers, loss and network: values, shapes, modes, and no argument ever mutated."""

import numpy as np
import pytest
from float32 import PROBABILITIES_RTOL, ROW_SUM_RTOL

import mlp
from mlp.nn.layers import cast_copy
from mlp.training.model_io import layer_config, layer_from_config


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
    with pytest.raises((TypeError, ValueError), match=message):
        mlp.SoftmaxCrossEntropy().forward(np.zeros((3, 5)), labels)


def test_predict_accepts_a_batch_a_vector_and_images():
    model = mlp.MLP([784, 16, 10], seed=0)
    batch = np.random.default_rng(0).random((5, 784), dtype=np.float32)
    proba = model.predict_proba(batch)
    assert proba.shape == (5, 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=ROW_SUM_RTOL)
    # One vector goes through matrix-vector products, the batch through matrix-matrix ones: the sums
    # run in another order, so they agree to float32 rounding (tests/float32.py), not bit for bit.
    np.testing.assert_allclose(model.predict_proba(batch[0]), proba[0], rtol=PROBABILITIES_RTOL)
    np.testing.assert_allclose(
        model.predict_proba(batch[0].reshape(28, 28)), proba[0], rtol=PROBABILITIES_RTOL
    )
    np.testing.assert_allclose(model.predict_proba(batch.reshape(5, 28, 28)), proba, rtol=PROBABILITIES_RTOL)
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
        (np.array(["a"] * 784), TypeError, "array of real numbers"),
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


# --- Construction arguments, dtypes, seeds ----------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: mlp.Dense(5, 0), "n_out must be an integer >= 1, got 0"),
        (lambda: mlp.Dense(0, 5), "n_in must be an integer >= 1, got 0"),
        (lambda: mlp.Dense(2.5, 3), "n_in must be an integer"),
        (lambda: mlp.Dense(3, 3, init="glorot"), "init must be 'he' or 'xavier'"),
        (lambda: mlp.Dense(3, 3, dtype=np.float16), "float32 .* or np.float64 .*, got float16"),
        (lambda: mlp.MLP([4, 3], dtype=int), "got int64"),
        (lambda: mlp.MLP([4, 3], dtype="banana"), "got 'banana'"),
        (lambda: mlp.MLP([784, 0, 10]), "positive layer widths"),
        (lambda: mlp.Dropout(-0.5), r"p must be in \[0, 1\), got -0.5"),
        (lambda: mlp.Dropout(1.0), r"\[0, 1\)"),
        (lambda: mlp.Dropout(float("nan")), "got nan"),
        (lambda: mlp.Dropout(0.5, seed=-1), "seed must be an integer >= 0"),
        (lambda: mlp.Dropout(0.5, seed=1.5), "seed must be an integer"),
    ],
)
def test_bad_layer_arguments_are_refused_by_name(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_a_float32_layer_computes_in_float32_whatever_it_is_fed():
    layer = mlp.Dense(4, 3, seed=0)  # float32
    x64 = np.random.default_rng(0).random((2, 4))  # NumPy's default: float64
    out = layer.forward(x64)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, layer.forward(x64.astype(np.float32)))
    layer.backward(np.ones((2, 3), np.float32))
    assert layer.weight.grad.dtype == layer.bias.grad.dtype == np.float32
    model = mlp.MLP([4, 3, 2], seed=0)
    assert model.forward(x64).dtype == model.infer(x64).dtype == np.float32
    assert mlp.MLP([4, 3, 2], dtype=np.float64).forward(x64.astype(np.float32)).dtype == np.float64


def test_dense_and_dropout_take_an_int_or_a_generator():
    a = mlp.Dense(6, 4, seed=np.random.default_rng(7))
    b = mlp.Dense(6, 4, seed=np.random.default_rng(7))
    np.testing.assert_array_equal(a.weight.value, b.weight.value)
    np.testing.assert_array_equal(mlp.Dense(6, 4, seed=7).weight.value, a.weight.value)
    x = np.ones((50, 8), np.float32)
    c, d = mlp.Dropout(0.5, seed=np.random.default_rng(1)), mlp.Dropout(0.5, seed=np.random.default_rng(1))
    assert isinstance(c.seed, int) and c.seed == d.seed  # the drawn int seed is what a file records
    np.testing.assert_array_equal(c.forward(x), d.forward(x))
    rebuilt = layer_from_config(layer_config(c))
    c2 = mlp.Dropout(0.5, seed=np.random.default_rng(1))
    np.testing.assert_array_equal(rebuilt.forward(x), c2.forward(x))


def test_a_cast_copy_keeps_dropouts_generator_where_it_is():
    layer = mlp.Dropout(0.5, seed=3)
    x, x64 = np.ones((20, 10), np.float32), np.ones((20, 10))
    first = layer.forward(x)  # the generator has moved on
    copy = cast_copy(layer, np.float64)
    second = layer.forward(x)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(copy.forward(x64), second)  # the copy goes on from there, not from seed
    np.testing.assert_array_equal(copy.forward(x64), layer.forward(x))  # its own generator, not a shared one


def test_inference_never_drops_units_and_needs_no_mode_switch():
    model = mlp.MLP([784, 32, 10], dropout=0.5, seed=0)
    x = np.random.default_rng(0).random((3, 784), dtype=np.float32)
    assert all(layer.training for layer in model.layers)  # a new model is in training mode
    with model.mode(training=False):
        expected = model.forward(x)
    np.testing.assert_array_equal(model.infer(x), expected)
    np.testing.assert_array_equal(model.infer(x), model.infer(x))
    assert all(layer.training for layer in model.layers)


def test_predict_proba_on_an_empty_batch_is_an_empty_result():
    model = mlp.MLP([784, 8, 10])
    assert model.predict_proba(np.zeros((0, 784), np.float32)).shape == (0, 10)
    assert model.predict_proba(np.zeros((0, 28, 28), np.float32)).shape == (0, 10)
    assert model.predict(np.zeros((0, 784), np.float32)).shape == (0,)


def test_predict_proba_slices_large_batches_into_the_same_answer():
    model = mlp.MLP([784, 8, 10], seed=1)
    x = np.random.default_rng(0).random((10, 784), dtype=np.float32)
    # Slices of 3 rows and one pass of 10 block their products differently: float32 rounding apart
    # (1.5e-6 with OpenBLAS's Haswell kernels, as on AMD EPYC; see tests/float32.py).
    np.testing.assert_allclose(
        model.predict_proba(x, batch_size=3), model.predict_proba(x), rtol=PROBABILITIES_RTOL
    )
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        model.predict_proba(x, batch_size=0)


def test_float64_input_beyond_float32s_range_is_refused():
    model = mlp.MLP([784, 8, 10])  # float32
    x = np.zeros(784)
    x[5] = 1e39  # finite in float64, infinite in float32
    with pytest.raises(ValueError, match=r"beyond the range of float32 .* index \(0, 5\): 1e\+39"):
        model.predict_proba(x)
    with pytest.raises(ValueError, match="beyond the range of float32"):
        model.accuracy(x[None], np.array([3]))
    assert np.isfinite(model.astype(np.float64).predict_proba(x)).all()  # a float64 model takes it


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.array([[3], [1], [4]]), r"shape \(3, 1\).*labels\.ravel\(\)"),
        (np.array([3, 1]), "3 inputs but 2 labels"),
        (np.array([0.0, 1.0, 2.0]), "integer class ids"),
    ],
)
def test_accuracy_checks_the_labels(labels, message):
    model = mlp.MLP([784, 8, 10])
    x = np.zeros((3, 784), np.float32)
    with pytest.raises((TypeError, ValueError), match=message):
        model.accuracy(x, labels)


def test_accuracy_counts_correct_answers():
    model = mlp.MLP([784, 8, 10], seed=2)
    x = np.random.default_rng(0).random((20, 784), dtype=np.float32)
    predicted = model.predict(x)
    assert model.accuracy(x, predicted) == 1.0
    assert model.accuracy(x, np.eye(10, dtype=np.int64)[predicted]) == 1.0  # one-hot rows
    assert model.accuracy(x, (predicted + 1) % 10) == 0.0
    with pytest.raises(ValueError, match="empty"):
        model.accuracy(x[:0], predicted[:0])


def test_soft_labels_are_refused_not_rounded():
    soft = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    with pytest.raises(ValueError, match=r"one-hot rows .*soft labels"):
        mlp.SoftmaxCrossEntropy().forward(np.zeros((2, 3)), soft)
    with pytest.raises(ValueError, match="one-hot"):
        mlp.SoftmaxCrossEntropy().forward(np.zeros((2, 3)), np.array([[1, 1, 0], [0, 0, 1]]))


def test_float32_probabilities_are_as_close_as_this_module_says():
    """On the CPU running the tests, float32 probabilities are within PROBABILITIES_RTOL / 3 of float64.

    Two float32 computations are each this close to float64, so they are within two thirds of the
    tolerance of each other. A CPU whose kernels round more fails here, naming the reason.
    """
    model = mlp.MLP([784, 128, 64, 10], seed=0)
    x = np.random.default_rng(1).random((500, 784), dtype=np.float32)
    exact = model.astype(np.float64).predict_proba(x.astype(np.float64))
    for batch_size in (500, 7, 1):
        proba = model.predict_proba(x, batch_size=batch_size)
        spread = float(np.max(np.abs(proba - exact) / exact))
        assert spread < PROBABILITIES_RTOL / 3, (
            f"float32 probabilities (slices of {batch_size}) differ from float64 by {spread:.1e} relative on "
            f"this CPU; tests/float32.py's PROBABILITIES_RTOL assumes at most {PROBABILITIES_RTOL / 3:.1e}"
        )


def test_a_layer_is_forward_backward_infer_and_parameters():
    """What a learner subclasses: the file format (config, shapes) lives with the model files."""
    public = {name for name in vars(mlp.Layer) if not name.startswith("_")}
    assert public == {"training", "forward", "backward", "infer", "parameters"}


def test_a_network_starting_with_a_learners_layer_trains_without_the_input_gradient():
    from test_gradients import Scale

    model = mlp.Sequential([Scale(0.5), mlp.Dense(6, 4, seed=0), mlp.ReLU(), mlp.Dense(4, 3, seed=1)])
    x, labels = np.random.default_rng(0).random((5, 6), dtype=np.float32), np.array([0, 1, 2, 0, 1])
    loss = mlp.SoftmaxCrossEntropy()
    loss.forward(model.forward(x), labels)
    model.backward(loss.backward())
    expected = [p.grad.copy() for p in model.parameters()]
    loss.forward(model.forward(x), labels)
    assert model.backward(loss.backward(), input_grad=False) is None
    for p, grad in zip(model.parameters(), expected, strict=True):
        np.testing.assert_array_equal(p.grad, grad)
