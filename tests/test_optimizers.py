"""Optimizer steps against the papers' pseudo-code, computed independently (and PyTorch, if installed)."""

import math

import numpy as np
import pytest

import mlp
from mlp.nn.layers import Parameter


def parameter(value, grad, decay=True):
    p = Parameter("w", np.array(value, dtype=np.float64), decay=decay)
    p.grad[...] = grad
    return p


# --- References: the papers' pseudo-code, one scalar at a time, in Python floats -----------------
# Written from the algorithms as published, not from mlp's code: plain loops over the entries,
# no NumPy, no in-place tricks. Each takes the initial weights and the gradients of every step.


def reference_sgd(w0, grads, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    """SGD with momentum as PyTorch's torch.optim.SGD documents it (Sutskever et al., 2013, with the
    learning rate outside the velocity): g += λw; v = μv + g (v = g at step 1); w -= lr·v, or with
    Nesterov w -= lr·(g + μv)."""
    w, v, trajectory = [float(a) for a in w0], [0.0] * len(w0), []
    for t, grad in enumerate(grads, start=1):
        for i, g in enumerate(grad):
            g = float(g) + weight_decay * w[i]
            if momentum:
                v[i] = g if t == 1 else momentum * v[i] + g
                g = g + momentum * v[i] if nesterov else v[i]
            w[i] = w[i] - lr * g
        trajectory.append(list(w))
    return trajectory


def reference_adam(w0, grads, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, decoupled=False):
    """Kingma & Ba (2015), Algorithm 1; with ``decoupled``, Loshchilov & Hutter (2019), Algorithm 2
    in PyTorch's parametrisation (the decay λ·lr·θ_{t-1}, as torch.optim.AdamW):
        g_t = ∇f(θ_{t-1}) [+ λθ_{t-1} for L2]
        m_t = β1 m_{t-1} + (1 - β1) g_t;   v_t = β2 v_{t-1} + (1 - β2) g_t²
        m̂_t = m_t / (1 - β1^t);            v̂_t = v_t / (1 - β2^t)
        θ_t = θ_{t-1} - lr (m̂_t / (√v̂_t + ε) [+ λθ_{t-1} if decoupled])
    """
    theta, m, v, trajectory = [float(a) for a in w0], [0.0] * len(w0), [0.0] * len(w0), []
    for t, grad in enumerate(grads, start=1):
        for i, g in enumerate(grad):
            g = float(g)
            if weight_decay and not decoupled:
                g += weight_decay * theta[i]
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g * g
            m_hat = m[i] / (1 - beta1**t)
            v_hat = v[i] / (1 - beta2**t)
            step = m_hat / (math.sqrt(v_hat) + eps)
            if weight_decay and decoupled:
                step += weight_decay * theta[i]
            theta[i] = theta[i] - lr * step
        trajectory.append(list(theta))
    return trajectory


def run(optimizer, w0, grads):
    p = Parameter("w", np.array(w0, dtype=np.float64))
    trajectory = []
    for grad in grads:
        p.grad = np.array(grad, dtype=np.float64)
        optimizer.step([p])
        trajectory.append(p.value.copy())
    return np.array(trajectory)


W0 = [1.0, -2.0, 0.5, 3.0]
GRADS = np.random.default_rng(0).standard_normal((5, 4)) * [1.0, 10.0, 0.01, 1.0]


def test_reference_sgd_by_hand():
    """The reference itself, against arithmetic done on paper (two steps, one weight)."""
    assert reference_sgd([1.0], [[1.0], [2.0]], lr=0.1) == [[0.9], [pytest.approx(0.7)]]
    # v = 1, w = 0.9; v = 0.9 + 2 = 2.9, w = 0.9 - 0.29
    assert reference_sgd([1.0], [[1.0], [2.0]], lr=0.1, momentum=0.9) == [[0.9], [pytest.approx(0.61)]]
    # v = 1, w -= 0.1 (1 + 0.9); v = 2.9, w -= 0.1 (2 + 2.61)
    nesterov = reference_sgd([1.0], [[1.0], [2.0]], lr=0.1, momentum=0.9, nesterov=True)
    assert nesterov == [[pytest.approx(0.81)], [pytest.approx(0.349)]]


def test_reference_adam_by_hand():
    """After one step m̂ = g and v̂ = g²: a step of lr against the sign of g (up to ε)."""
    assert reference_adam([1.0, 1.0], [[0.2, -4.0]], lr=0.01)[0] == [pytest.approx(0.99), pytest.approx(1.01)]
    # AdamW's first step: θ - lr (sign(g) + λθ) = 1 - 0.1 (1 + 0.5)
    assert reference_adam([1.0], [[3.0]], lr=0.1, weight_decay=0.5, decoupled=True)[0] == [
        pytest.approx(0.85)
    ]


@pytest.mark.parametrize(
    ("make", "options"),
    [
        (lambda: mlp.SGD(lr=0.1), {"lr": 0.1}),
        (lambda: mlp.SGD(lr=0.1, momentum=0.9), {"lr": 0.1, "momentum": 0.9}),
        (lambda: mlp.SGD(0.05, 0.8, nesterov=True), {"lr": 0.05, "momentum": 0.8, "nesterov": True}),
        (
            lambda: mlp.SGD(0.05, 0.9, weight_decay=0.1),
            {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.1},
        ),
    ],
    ids=["plain", "momentum", "nesterov", "momentum-l2"],
)
def test_sgd_follows_the_reference(make, options):
    expected = reference_sgd(W0, GRADS, **options)
    np.testing.assert_allclose(run(make(), W0, GRADS), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    ("make", "options"),
    [
        (lambda: mlp.Adam(0.01), {"lr": 0.01}),
        (lambda: mlp.Adam(0.1, 0.8, 0.99, 1e-6), {"lr": 0.1, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6}),
        (lambda: mlp.Adam(0.01, weight_decay=0.1), {"lr": 0.01, "weight_decay": 0.1}),
        (lambda: mlp.FusedAdam(0.01), {"lr": 0.01}),
        (lambda: mlp.AdamW(0.01, weight_decay=0.1), {"lr": 0.01, "weight_decay": 0.1, "decoupled": True}),
        (lambda: mlp.AdamW(0.1, weight_decay=0.5), {"lr": 0.1, "weight_decay": 0.5, "decoupled": True}),
    ],
    ids=["adam", "adam-betas", "adam-l2", "fused-adam", "adamw", "adamw-strong"],
)
def test_adam_family_follows_the_papers(make, options):
    expected = reference_adam(W0, GRADS, **options)
    np.testing.assert_allclose(run(make(), W0, GRADS), expected, rtol=1e-12, atol=1e-15)


def test_adamw_decays_the_weights_before_the_step_not_after():
    """Loshchilov & Hutter's Algorithm 2 decays θ_{t-1}: decaying after Adam's step differs by 7e-4 here."""
    grads = [[0.3], [-1.0], [0.2]]
    expected = reference_adam([2.0], grads, lr=0.1, weight_decay=0.5, decoupled=True)[-1][0]
    got = run(mlp.AdamW(0.1, weight_decay=0.5), [2.0], grads)[-1][0]
    assert got == pytest.approx(expected, rel=1e-12)


def test_adamw_never_switches_its_weight_decay_off():
    optimizer = mlp.AdamW(0.1, weight_decay=0.5)
    p = Parameter("w", np.array([1.0]))
    p.grad = np.array([1.0])
    seen = []
    optimizer._update = lambda w, g, state, lr: seen.append(optimizer.weight_decay)
    optimizer.step([p])
    assert seen == [0.5]


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_against_torch_optim(name):
    """An optional cross-check with PyTorch's optimizers, when torch is installed."""
    torch = pytest.importorskip("torch")
    options = {"lr": 0.05, "weight_decay": 0.1}
    ours = {
        "SGD": mlp.SGD(momentum=0.9, **options),
        "Adam": mlp.Adam(**options),
        "AdamW": mlp.AdamW(**options),
    }
    w = torch.tensor(W0, dtype=torch.float64, requires_grad=True)
    extra = {"momentum": 0.9} if name == "SGD" else {}
    theirs = getattr(torch.optim, name)([w], **options, **extra)
    expected = []
    for grad in GRADS:
        w.grad = torch.tensor(grad, dtype=torch.float64)
        theirs.step()
        expected.append(w.detach().numpy().copy())
    np.testing.assert_allclose(run(ours[name], W0, GRADS), expected, rtol=1e-12, atol=1e-15)


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
