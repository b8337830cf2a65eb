"""The fast path computes what the checked path computes.

Training takes shortcuts that the gradient checks never see: float32 instead
of float64, no gradient for the input layer, optimizer updates written in
place into preallocated arrays, a thread count chosen by timing. Each test
here pins one shortcut to the plain computation it replaces, so a speed-up
that changes a result fails here rather than as a slightly worse accuracy.
"""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import mlp
from mlp.course.timing import epoch_flops
from mlp.training import threads
from mlp.training.loop import train_step


def toy_data(n: int = 48, n_in: int = 20, classes: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((n, n_in), dtype=np.float32), rng.integers(0, classes, n)


def parameter_values(model: mlp.Sequential) -> list[np.ndarray]:
    return [p.value.copy() for p in model.parameters()]


# --- Skipping the input gradient -------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_backward_without_input_grad_gives_bitwise_identical_parameter_gradients(dtype):
    x, y = toy_data()
    model = mlp.MLP([20, 16, 12, 5], seed=1, dtype=dtype)
    loss = mlp.SoftmaxCrossEntropy()

    loss.forward(model.forward(x.astype(dtype)), y)
    grad_x = model.backward(loss.backward())  # the path the gradient checks take
    checked = [p.grad.copy() for p in model.parameters()]
    loss.forward(model.forward(x.astype(dtype)), y)
    assert model.backward(loss.backward(), input_grad=False) is None  # the path fit takes

    assert grad_x.shape == x.shape
    for p, expected in zip(model.parameters(), checked, strict=True):
        np.testing.assert_array_equal(p.grad, expected, err_msg=p.name)


# --- One fit step is one textbook step -------------------------------------------------------------


def test_fit_equals_manual_forward_loss_backward_adam_steps():
    x, y = toy_data(n=48)
    fitted = mlp.MLP([20, 16, 12, 5], dropout=0.2, seed=3)
    manual = mlp.MLP([20, 16, 12, 5], dropout=0.2, seed=3)
    fit_optimizer = mlp.Adam(1e-2, weight_decay=1e-3, schedule=mlp.linear_decay)
    mlp.fit(fitted, x, y, epochs=1, batch_size=16, optimizer=fit_optimizer, seed=7, progress=False, threads=1)

    optimizer = mlp.Adam(1e-2, weight_decay=1e-3, schedule=mlp.linear_decay)
    loss = mlp.SoftmaxCrossEntropy()
    order = np.random.default_rng(7).permutation(len(x))  # fit's shuffle for seed 7
    with threadpool_limits(limits=1, user_api="blas"), manual.mode(training=True):
        for step in range(3):
            idx = order[16 * step : 16 * (step + 1)]
            loss.forward(manual.forward(x[idx]), y[idx])
            manual.backward(loss.backward())  # with the input gradient, as the checks do
            optimizer.step(manual.parameters(), progress=step / 3)

    for got, expected in zip(fitted.parameters(), manual.parameters(), strict=True):
        np.testing.assert_array_equal(got.value, expected.value, err_msg=got.name)


# --- float32 trains like float64 -------------------------------------------------------------------


@pytest.mark.parametrize(
    "make_optimizer",
    [lambda: mlp.SGD(0.1, momentum=0.9, nesterov=True, weight_decay=1e-3), lambda: mlp.Adam(1e-3)],
    ids=["sgd-nesterov", "adam"],
)
def test_float32_and_float64_training_agree(make_optimizer):
    x, y = toy_data(n=64)
    model32 = mlp.MLP([20, 16, 12, 5], seed=4)
    model64 = model32.astype(np.float64)
    for model in (model32, model64):
        optimizer, loss = make_optimizer(), mlp.SoftmaxCrossEntropy()
        for step in range(5):
            batch = slice(16 * (step % 4), 16 * (step % 4 + 1))
            train_step(model, loss, optimizer, x[batch].astype(model.dtype), y[batch], step / 5)

    for p32, p64 in zip(model32.parameters(), model64.parameters(), strict=True):
        assert p32.value.dtype == p32.grad.dtype == np.float32, "float32 training must stay in float32"
        # Five steps of float32 rounding (eps 1.2e-7) on weights of order 1: ~1e-7 seen here.
        np.testing.assert_allclose(p32.value, p64.value, rtol=1e-6, atol=1e-6, err_msg=p32.name)


# --- In-place optimizer updates are the textbook formulas ------------------------------------------


def textbook_adam(w, grads, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, schedule=mlp.constant):
    """Adam as Kingma & Ba write it, every quantity a fresh array."""
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * w
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        w = w - lr * schedule((t - 1) / len(grads)) * m_hat / (np.sqrt(v_hat) + eps)
    return w


def textbook_sgd(w, grads, lr, momentum=0.0, nesterov=False, weight_decay=0.0, schedule=mlp.constant):
    velocity = np.zeros_like(w)
    for t, g in enumerate(grads):
        g = g + weight_decay * w
        velocity = momentum * velocity + g
        step = g + momentum * velocity if nesterov else velocity
        w = w - lr * schedule(t / len(grads)) * step
    return w


def run_in_place(optimizer, w, grads, decay=True):
    p = mlp.Parameter("w", w.copy(), decay=decay)
    value = p.value
    for t, g in enumerate(grads):
        p.grad[...] = g
        optimizer.step([p], progress=t / len(grads))
    assert p.value is value, "the update must be written in place"
    return p.value


OPTIMIZER_CASES = [
    ("adam", dict(lr=1e-2)),
    ("adam", dict(lr=3e-3, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.1, schedule=mlp.cosine_decay)),
    ("sgd", dict(lr=0.1)),
    ("sgd", dict(lr=0.1, momentum=0.9, weight_decay=0.01, schedule=mlp.linear_decay)),
    ("sgd", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01)),
]


@pytest.mark.parametrize(("kind", "options"), OPTIMIZER_CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_in_place_updates_equal_textbook_formulas(kind, options, dtype):
    rng = np.random.default_rng(5)
    w = rng.standard_normal((7, 3)).astype(dtype)
    grads = [rng.standard_normal((7, 3)).astype(dtype) for _ in range(6)]
    optimizer = mlp.Adam(**options) if kind == "adam" else mlp.SGD(**options)
    got = run_in_place(optimizer, w, grads)

    textbook = textbook_adam if kind == "adam" else textbook_sgd
    expected = textbook(w.astype(np.float64), [g.astype(np.float64) for g in grads], **options)
    assert got.dtype == dtype
    # float64: only the order of operations differs (~1e-17 seen). float32: a few
    # roundings per step, of 6e-8 relative each (~8e-8 seen after 6 steps).
    tolerance = 1e-13 if dtype == np.float64 else 5e-7
    np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("schedule", [mlp.constant, mlp.linear_decay, mlp.cosine_decay])
def test_learning_rate_is_a_python_float(schedule):
    # A NumPy float64 scalar would silently make every float32 update run in float64.
    for progress in (0.0, 0.3, 1.0):
        assert type(mlp.Adam(1e-3, schedule=schedule).learning_rate(progress)) is float
        assert type(schedule(progress)) in (float, int)


def test_optimizer_state_and_parameters_stay_float32():
    x, y = toy_data()
    model = mlp.MLP([20, 16, 5], seed=0)
    optimizer = mlp.Adam(1e-3, weight_decay=1e-4)
    mlp.fit(model, x, y, epochs=2, batch_size=16, optimizer=optimizer, progress=False, threads=1)
    arrays = [a for state in optimizer._state.values() for a in state.values() if isinstance(a, np.ndarray)]
    arrays += [a for p in model.parameters() for a in (p.value, p.grad)]
    assert {a.dtype for a in arrays} == {np.dtype(np.float32)}


# --- The thread count rule -------------------------------------------------------------------------


@pytest.fixture
def fake_timings(monkeypatch):
    """Replace the timing of a step by given per-thread-count sequences, on a pretend 2-core machine."""

    def install(timings: dict[int, list[float]]) -> None:
        queues = {n: list(t) for n, t in timings.items()}
        monkeypatch.setattr(threads, "available_cores", lambda: 2)
        monkeypatch.setattr(threads, "time_step_products", lambda sizes, batch, dtype, n: queues[n].pop(0))

    threads.best_thread_count.cache_clear()
    yield install
    threads.best_thread_count.cache_clear()


@pytest.mark.parametrize(
    ("timings", "expected"),
    [
        ({1: [1.0, 1.0, 1.0], 2: [0.6, 0.6, 0.6]}, 2),  # two cores free: 2 threads clearly faster
        ({1: [1.0, 1.0, 1.0], 2: [0.95, 0.95, 0.95]}, 1),  # 5 % is not worth a second core
        ({1: [1.0, 1.1, 1.0], 2: [0.6, 40.0, 35.0]}, 1),  # another program took the second core
        ({1: [3.0, 1.0, 1.0], 2: [0.6, 0.6, 0.6]}, 2),  # one slow burst does not decide
    ],
)
def test_best_thread_count_keeps_the_fastest_median(fake_timings, timings, expected):
    fake_timings(timings)
    assert threads.best_thread_count((20, 10, 5), 16, "float32") == expected


def test_best_thread_count_measures_this_machine():
    threads.best_thread_count.cache_clear()
    assert 1 <= threads.best_thread_count((20, 10, 5), 16, "float32") <= threads.available_cores()
    assert threads.time_step_products((20, 10, 5), 16, np.dtype(np.float32), 1, burst=0.001) > 0


# --- The benchmark's arithmetic --------------------------------------------------------------------


def test_epoch_flops_of_the_benchmark_network():
    # forward 2·N·Σ n_in·n_out + weight gradients (the same) + input gradients of layers 2 and 3
    per_sample = 2 * (784 * 128 + 128 * 64 + 64 * 10) * 2 + 2 * (128 * 64 + 64 * 10)
    assert epoch_flops((784, 128, 64, 10), 60_000) == 60_000 * per_sample
    assert round(epoch_flops((784, 128, 64, 10), 60_000) / 1e9, 1) == 27.3


def test_torch_twin_starts_from_the_same_network():
    torch = pytest.importorskip("torch")
    from benchmarks.torch_twin import TorchTwin

    x, y = toy_data(n=32, n_in=784, classes=10)
    twin = TorchTwin(x, y, (784, 128, 64, 10), 128, 1e-3)
    with torch.no_grad():
        logits = twin.network()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(logits, twin.reference.forward(x), rtol=1e-5, atol=1e-5)


# --- FusedAdam is Adam ------------------------------------------------------------------------------


@pytest.mark.parametrize(("dtype", "rtol"), [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_fused_adam_takes_the_papers_steps(dtype, rtol):
    """Twenty steps on the same gradients: the fused and the plain Adam end on the same weights."""
    rng = np.random.default_rng(0)
    plain = mlp.Parameter("w", rng.standard_normal((6, 4)).astype(dtype))
    fused = mlp.Parameter("w", plain.value.copy())
    options = {"lr": 1e-2, "beta1": 0.8, "beta2": 0.95, "weight_decay": 1e-2, "schedule": mlp.linear_decay}
    adam, fused_adam = mlp.Adam(**options), mlp.FusedAdam(**options)
    for step in range(20):
        plain.grad = fused.grad = rng.standard_normal(plain.value.shape).astype(dtype)
        adam.step([plain], progress=step / 20)
        fused_adam.step([fused], progress=step / 20)
        assert fused.value.dtype == plain.value.dtype == dtype
    moved = np.abs(plain.value - fused.value).max()
    np.testing.assert_allclose(fused.value, plain.value, rtol=rtol, atol=rtol * 1e-2)
    assert moved < 1e-3
