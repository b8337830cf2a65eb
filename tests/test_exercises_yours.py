"""The learner's kept code (``mlp.exercises.yours``): kept on ✓, used later, built into a network.

A notebook cell is simulated as IPython runs it: its text registered in
``linecache`` under a cell file name, executed with ``__name__ == "__main__"``.
Every test keeps into its own temporary ``$MLP_YOURS_DIR``.
"""

from __future__ import annotations

import itertools
import linecache
from pathlib import Path

import numpy as np
import pytest

import mlp
import mlp.exercises
from mlp.exercises import check_loss_gradient, yours
from mlp.exercises.loss import loss_gradient_reference

_cells = itertools.count(1)


@pytest.fixture(autouse=True)
def kept_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(yours.ENV, str(tmp_path / "yours"))
    yours._loaded.clear()
    return tmp_path / "yours"


def run_cell(source: str) -> dict:
    """Run ``source`` as IPython runs a notebook cell: in ``__main__``, its text in ``linecache``."""
    filename = f"/tmp/ipykernel_0/{next(_cells)}.py"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"__name__": "__main__", "np": np, "mlp": mlp}
    namespace.update({name: getattr(mlp.exercises, name) for name in mlp.exercises.__all__})
    exec(compile(source, filename, "exec"), namespace)
    return namespace


SOFTMAX_CELL = """
def _shifted(z):
    return z - z.max(axis=1, keepdims=True)  # a helper beside the answer, in the same cell


def softmax(logits):
    e = np.exp(_shifted(logits))
    return e / e.sum(axis=1, keepdims=True)


softmax_check = check_softmax(softmax)
print("a debugging print, not kept")
"""


def test_an_accepted_answer_is_kept_with_its_cell_helpers_and_without_the_check(kept_directory, capsys):
    run_cell(SOFTMAX_CELL)
    assert "kept: yours/softmax.py" in capsys.readouterr().out
    text = (kept_directory / "softmax.py").read_text()
    assert "def _shifted" in text and "def softmax" in text and "import numpy as np" in text
    assert "check_softmax" not in text.split("\n", 2)[2] and "print(" not in text
    fn = yours.use("softmax")
    assert capsys.readouterr().out == "softmax: yours (kept in notebook 03)\n"
    assert fn is not mlp.softmax and np.allclose(fn(np.array([[1000.0, 0.0]])), [[1, 0]])


def test_nothing_is_kept_unless_it_passes_and_is_the_learners(kept_directory):
    run_cell(
        "def softmax(z):\n    return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)\n"
        "\n\ncheck_softmax(softmax)\n"
    )
    assert not kept_directory.exists(), "a wrong answer is not kept"
    run_cell("def my_softmax(z):\n    return mlp.softmax(z)\n\ncheck_softmax(my_softmax)\n")
    assert not kept_directory.exists(), "only the exercise's own name is kept"
    mlp.exercises.check_softmax(mlp.softmax, verbose=False)  # the library's function, not the notebook's
    assert not kept_directory.exists()


def test_use_says_whose_in_one_line_and_falls_back_with_the_reason(kept_directory, capsys):
    assert yours.use("dense_backward") is yours._dense_backward
    assert (
        capsys.readouterr().out == "dense_backward: the course's — yours is not written yet (notebook 02)\n"
    )
    kept_directory.mkdir(parents=True)
    (kept_directory / "dense_backward.py").write_text("def dense_backward(x, W, g:\n")
    assert yours.use("dense_backward") is yours._dense_backward
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "failed to load: SyntaxError" in out
    (kept_directory / "dense_backward.py").write_text(
        "def dense_backward(x, W, g):\n    return g @ W.T, g.T @ x, g.sum(axis=0)\n"
    )
    assert yours.use("dense_backward") is yours._dense_backward
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "no longer passes check_dense_backward" in out and "dW" in out
    (kept_directory / "dense_backward.py").write_text(
        "def dense_backward(x, W, g):\n    return undefined(x)\n"
    )
    yours.use("dense_backward")
    assert "NameError" in (out := capsys.readouterr().out) and "inside the exercise's own cell" in out
    with pytest.raises(KeyError, match="no exercise named"):
        yours.use("nonsense")


def test_every_exercise_has_a_checker_and_a_reference_that_passes_it():
    for exercise in yours.EXERCISES.values():
        assert exercise.check(exercise.reference()).passed, exercise.name


def test_the_network_of_stand_ins_is_the_course_network_and_saves_as_one(tmp_path, capsys):
    network = yours.network((20, 16, 12, 10), seed=3, dtype=np.float64)
    loss = yours.loss()
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == [
        "dense_backward",
        "ELU",
        "network_backward",
        "softmax",
        "loss_gradient",
    ]
    assert all("the course's — yours is not written yet" in line for line in out)
    reference = mlp.MLP([20, 16, 12, 10], seed=3, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((7, 20))
    y = np.arange(7) % 10
    reference_loss = mlp.SoftmaxCrossEntropy()
    assert loss.forward(network.forward(x), y) == reference_loss.forward(reference.forward(x), y)
    dx = network.backward(loss.backward())
    np.testing.assert_allclose(dx, reference.backward(reference_loss.backward()), rtol=1e-12)
    for mine, theirs in zip(network.parameters(), reference.parameters()):
        np.testing.assert_allclose(mine.grad, theirs.grad, rtol=1e-12, atol=1e-15)
    path = yours.save(network, tmp_path / "mine.npz")
    loaded = mlp.load_model(path)
    assert loaded.metadata["made_by"] == "you"
    assert [type(layer).__name__ for layer in loaded.layers] == ["Dense", "ReLU", "Dense", "ReLU", "Dense"]
    np.testing.assert_array_equal(loaded.infer(x), network.infer(x))


def test_the_network_is_built_from_kept_answers_and_checked_by_the_numerical_gradient(capsys):
    run_cell(
        "def dense_backward(x, W, grad_out):\n"
        "    return grad_out @ W.T, x.T @ grad_out, grad_out.sum(axis=0)\n"
        "\n\ndense_check = check_dense_backward(dense_backward)\n"
    )
    run_cell(
        "def network_backward(layers, grad_logits):\n    grad = grad_logits\n"
        "    for layer in reversed(layers):\n        grad = layer.backward(grad)\n    return grad\n"
        "\n\nnetwork_check = check_network_backward(network_backward)\n"
    )
    capsys.readouterr()
    network = yours.network((20, 16, 12, 10), seed=1, dtype=np.float64)
    out = capsys.readouterr().out
    assert "dense_backward: yours (kept in notebook 02)" in out
    assert "network_backward: yours (kept in notebook 04)" in out
    # The numerical gradient of the loss, against what the network itself (your pieces) backpropagates.
    x, labels = np.random.default_rng(2).standard_normal((6, 20)), np.arange(6)
    loss = yours.loss(verbose=False)
    loss.forward(network.forward(x), labels)
    network.backward(loss.backward(), input_grad=False)
    for p in network.parameters():
        numeric = mlp.numerical_gradient(lambda: loss.forward(network.forward(x), labels), p.value, 1e-5)
        error = np.linalg.norm(p.grad - numeric) / (np.linalg.norm(p.grad) + np.linalg.norm(numeric))
        assert error < 1e-7, (p.name, error)


def test_an_elu_that_divides_by_alpha_is_not_used_as_relu(capsys):
    run_cell(
        "class ELU(mlp.Layer):\n"
        "    def __init__(self, alpha=1.0):\n        self.alpha = alpha\n"
        "    def forward(self, x):\n        self._x = x\n"
        "        self._out = np.where(x > 0, x, self.alpha * np.expm1(np.minimum(x, 0)))\n"
        "        return self._out\n"
        "    def backward(self, grad_out):\n"
        "        return grad_out * np.where(self._x > 0, 1.0, self.alpha * (self._out / self.alpha + 1))\n"
        "\n\nelu_check = check_elu_backward(ELU)\n"
    )
    assert "kept: yours/ELU.py" in capsys.readouterr().out, "right for every alpha > 0"
    network = yours.network((8, 6, 4), seed=0, dtype=np.float64)
    out = capsys.readouterr().out
    assert "ELU: the course's — yours (kept in notebook 03) with alpha = 0 its backward is not ReLU's" in out
    assert type(network.layers[1]._elu).__name__ == "ELU" and network.layers[1].elu_class is yours._elu()


# --- the loss gradient exercise --------------------------------------------------------------------------


def test_check_loss_gradient_accepts_the_formula_in_other_styles():
    def with_eye(p, labels):
        return (p - np.eye(p.shape[1])[labels]) / p.shape[0]

    def with_copy(p, labels):
        grad = p.copy()
        grad[np.arange(len(p)), labels] -= 1
        return grad / len(p)

    for fn in (with_eye, with_copy, loss_gradient_reference):
        assert check_loss_gradient(fn, verbose=False).passed


@pytest.mark.parametrize(
    ("wrong", "named"),
    [
        (lambda p, y: p - np.eye(p.shape[1])[y], "the 1/N is missing"),
        (lambda p, y: (p - np.eye(p.shape[1])[y]) / p.shape[1], "number of classes"),
        (lambda p, y: (np.eye(p.shape[1])[y] - p) / len(p), "sign is flipped"),
        (lambda p, y: p / len(p), "one-hot label is missing"),
        (lambda p, y: (p - 1) / len(p), "only the true class"),
        (lambda p, y: p[np.arange(len(p)), y] - 1, "not one per sample"),
    ],
)
def test_check_loss_gradient_names_each_usual_mistake(wrong, named):
    result = check_loss_gradient(wrong, verbose=False)
    assert not result.passed and named in result.message, result.message


def test_check_loss_gradient_catches_writing_into_p():
    def in_place(p, labels):
        p[np.arange(len(p)), labels] -= 1
        return p / len(p)

    result = check_loss_gradient(in_place, verbose=False)
    assert not result.passed and "changed its argument `p`" in result.message


def test_the_loss_gradient_reference_is_the_numerical_gradient_of_the_mean_loss():
    rng = np.random.default_rng(4)
    logits, labels = rng.standard_normal((5, 4)), np.array([1, 0, 3, 3, 2])
    numeric = mlp.numerical_gradient(
        lambda: mlp.SoftmaxCrossEntropy().forward(logits, labels), logits, 1e-5
    )  # an independent computation: only the loss's forward pass
    analytic = loss_gradient_reference(mlp.softmax(logits), labels)
    assert np.linalg.norm(analytic - numeric) / np.linalg.norm(analytic + numeric) < 1e-9


def test_a_saved_network_comes_back_as_yours_from_the_default_path(kept_directory, capsys, monkeypatch):
    monkeypatch.chdir(kept_directory.parent)  # a notebook's kernel runs in notebooks/
    network = yours.network((12, 8, 6, 4), seed=5)
    x = np.random.default_rng(3).random((9, 12), dtype=np.float32)
    path = yours.save(network, yours.NETWORK_FILE, note="a test")
    assert path.resolve() == (kept_directory.parent / "your-network.npz").resolve()
    capsys.readouterr()
    again = yours.load()
    assert "dense_backward: the course's" in capsys.readouterr().out
    assert isinstance(again, yours.YourNetwork) and again.metadata["made_by"] == "you"
    np.testing.assert_array_equal(again.infer(x), network.infer(x))
    shallow = mlp.Sequential([mlp.Dense(12, 4), mlp.Tanh(), mlp.Dense(4, 3)])
    mlp.save_model(shallow, kept_directory.parent / "tanh.npz")
    with pytest.raises(ValueError, match="cannot be rebuilt from your code"):
        yours.load(kept_directory.parent / "tanh.npz")
