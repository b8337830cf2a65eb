"""Your code, kept: every exercise you solve becomes part of the network you train.

When a checker accepts an answer (✓), it calls ``keep(name, fn)``, which
writes the exercise cell's definitions to ``directory()/<name>.py``, in the
spirit of fast.ai's exported notebook cells and CS231n's ``layers.py``. A
later notebook, a separate kernel, reads it back with ``use(name)``, which
prints exactly one line saying whose code it got:

    softmax: yours (kept in notebook 03)
    softmax: the course's — yours is not written yet (notebook 03)

``network()`` builds a ``mlp.Sequential`` whose dense backward, activation
backward, softmax, loss gradient and backward loop are your kept functions
(each piece you have not written yet is the course's, and named so);
``save(model, path)`` writes it as a standard model file (``made_by="you"``)
that ``mlp.load_model`` and the drawing pad read.

The contract (names other notebooks rely on):

* ``keep(name: str, fn) -> None`` — called by ``run_check`` on ✓;
* ``use(name: str) -> Callable`` — yours if kept and still accepted, else the course's;
* ``directory() -> Path`` — ``$MLP_YOURS_DIR``, else ``yours/`` in the working directory
  (a notebook's kernel runs in ``notebooks/``, so ``notebooks/yours/``, git-ignored);
* ``EXERCISES`` — name -> ``Exercise(name, notebook, checker, reference)``;
* ``network(sizes, seed)``, ``loss()``, ``train(...)``, ``save(model, path)``, ``load(path)``;
* ``NETWORK_FILE`` — ``your-network.npz``, where notebook 05 saves your network (in the
  kernel's working directory, ``notebooks/``) and ``load()`` (notebook 06) finds it.

What is kept: the cell that defined ``fn`` (IPython keeps every cell's text
in ``linecache``), reduced to its imports, definitions and assignments, minus
the ``check_...`` call, below ``import numpy as np`` and ``import mlp``: a
helper defined beside the answer in the same cell comes along. Only code
written in the notebook itself (``fn.__module__ == "__main__"``, under the
exercise's own name) is kept, never a library's or a test module's function.

Loading never breaks a notebook: ``use`` runs the kept file, then the
exercise's checker on what it defines (quietly, a few milliseconds); a file
that fails to load, or an answer that no longer passes, gives the course's
version and one line saying why.
"""

from __future__ import annotations

import ast
import importlib
import linecache
import os
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlp.nn.layers import Dense, Layer, ReLU
from mlp.nn.losses import SoftmaxCrossEntropy, softmax
from mlp.nn.network import Sequential

__all__ = [
    "EXERCISES",
    "Exercise",
    "directory",
    "keep",
    "load",
    "loss",
    "network",
    "save",
    "train",
    "use",
]

ENV = "MLP_YOURS_DIR"
DEFAULT_DIRECTORY = "yours"
MADE_BY = "you"  # the metadata the pad reads to say whose network it is
NETWORK_FILE = (
    "your-network.npz"  # where notebook 05 saves your network (beside the notebooks), for 06 and the pad
)


# --- the course's versions, the stand-ins until yours is written ------------------------------------


def _dense_backward(x: np.ndarray, W: np.ndarray, grad_out: np.ndarray):
    """``(dx, dW, db)`` of ``y = x W + b``: ``(N, n_in)``, ``(n_in, n_out)``, ``(n_out,)``."""
    return grad_out @ W.T, x.T @ grad_out, grad_out.sum(axis=0)


def _loss_gradient(p: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``dL/dz = (p - onehot(labels)) / N`` for the mean cross-entropy: ``p (N, C)``, ``labels (N,)``."""
    grad = p.copy()
    grad[np.arange(len(p)), labels] -= 1
    return grad / len(p)


def _network_backward(layers: list[Layer], grad_logits: np.ndarray) -> np.ndarray:
    """Every layer's backward, last first; ``dL/dx`` of the network's input."""
    grad = grad_logits
    for layer in reversed(layers):
        grad = layer.backward(grad)
    return grad


def _train_step(
    model: Sequential, loss: SoftmaxCrossEntropy, x: np.ndarray, y: np.ndarray, lr: float
) -> float:
    """One step of plain SGD on ``(x, y)``; the batch's loss before the step."""
    value = loss.forward(model.forward(x), y)
    model.backward(loss.backward(), input_grad=False)
    for p in model.parameters():
        p.value -= lr * p.grad
    return value


def _sgd_momentum_step(w, grad, velocity, lr, mu):
    """``(new_w, new_velocity)``: ``v' = mu v + grad``, ``w' = w - lr v'`` (``mlp.SGD``'s convention)."""
    new_velocity = mu * velocity + grad
    return w - lr * new_velocity, new_velocity


def _adam_step(w, grad, m, v, t, lr, beta1, beta2, eps):
    from mlp.exercises.adam import adam_reference

    return adam_reference(w, grad, m, v, t, lr, beta1, beta2, eps)


def _numerical_gradient(f, w: np.ndarray, h: float = 1e-5) -> np.ndarray:
    from mlp.nn.gradcheck import numerical_gradient

    return numerical_gradient(f, w, h)


def _image_to_vector(image: np.ndarray) -> np.ndarray:
    from mlp.exercises.mnist import reference_vector

    return reference_vector(image)


def _elu() -> type:
    from mlp.exercises.layers import ELU

    return ELU


def _confusion_matrix(y_true, y_pred, n_classes):
    from mlp.exercises.analysis import confusion_counts

    return confusion_counts(y_true, y_pred, n_classes)


def _saliency(model, image, cls):
    from mlp.exercises.analysis import saliency_reference

    return saliency_reference(model, image, cls)


def _centre_by_mass(patch):
    from mlp.pad.preprocess import centre_by_mass

    return centre_by_mass(patch)


def _replay_batch(x_new, y_new, x_old, y_old, n_new, n_old, rng):
    new = rng.choice(len(x_new), n_new)  # with repeats: there may be fewer new examples than n_new
    old = rng.choice(len(x_old), n_old, replace=False)
    return np.concatenate([x_new[new], x_old[old]]), np.concatenate([y_new[new], y_old[old]])


@dataclass(frozen=True)
class Exercise:
    """One exercise whose answer can be kept: what the learner defines, where, and who judges it."""

    name: str  # what the learner's cell defines (a function, or the class ``ELU``)
    notebook: str  # "03"
    checker: str  # the name of its checker in ``mlp.exercises``
    reference: Callable[[], Any]  # returns the course's version (lazily: no import cycle)

    def check(self, fn: Any) -> Any:
        """The exercise's checker run quietly on ``fn``: an ``ExerciseResult``."""
        checker = getattr(importlib.import_module("mlp.exercises"), self.checker)
        return checker(fn, verbose=False)


def _ref(fn: Any) -> Callable[[], Any]:
    return lambda: fn


EXERCISES: dict[str, Exercise] = {
    e.name: e
    for e in (
        Exercise("image_to_vector", "01", "check_image_to_vector", _ref(_image_to_vector)),
        Exercise("numerical_gradient", "02", "check_numerical_gradient", _ref(_numerical_gradient)),
        Exercise("dense_backward", "02", "check_dense_backward", _ref(_dense_backward)),
        Exercise("ELU", "03", "check_elu_backward", _elu),
        Exercise("softmax", "03", "check_softmax", _ref(softmax)),
        Exercise("loss_gradient", "03", "check_loss_gradient", _ref(_loss_gradient)),
        Exercise("network_backward", "04", "check_network_backward", _ref(_network_backward)),
        Exercise("train_step", "05", "check_train_step", _ref(_train_step)),
        Exercise("sgd_momentum_step", "05", "check_sgd_momentum", _ref(_sgd_momentum_step)),
        Exercise("adam_step", "06", "check_adam_step", _ref(_adam_step)),
        Exercise("confusion_matrix", "07", "check_confusion_matrix", _ref(_confusion_matrix)),
        Exercise("saliency", "07", "check_saliency", _ref(_saliency)),
        Exercise("centre_by_mass", "08", "check_centre_by_mass", _ref(_centre_by_mass)),
        Exercise("replay_batch", "09", "check_replay_batch", _ref(_replay_batch)),
    )
}
# The name a checker reports under, where it differs from what the learner defines.
CHECKED_AS = {"ELU.backward": "ELU"}


# --- keeping -----------------------------------------------------------------------------------------


def directory() -> Path:
    """Where kept answers live: ``$MLP_YOURS_DIR``, else ``yours/`` in the working directory."""
    return Path(os.environ.get(ENV) or DEFAULT_DIRECTORY)


def keep(name: str, fn: Any) -> None:
    """Keep ``fn``, the learner's accepted answer to exercise ``name``, for later notebooks.

    Called by ``run_check`` on ✓. Does nothing for code that is not the
    learner's (not defined in ``__main__`` under the exercise's own name), and
    never raises: a notebook must not break because a file could not be written.
    """
    name = CHECKED_AS.get(name, name)
    exercise = EXERCISES.get(name)
    if (
        exercise is None
        or getattr(fn, "__module__", None) != "__main__"
        or getattr(fn, "__name__", "") != name
    ):
        return
    definitions = _definitions(fn)
    if definitions is None:
        print(f"  (your {name} passed, but its source could not be read, so it is not kept)")
        return
    text = (
        f"# Your {name}, accepted by {exercise.checker} in notebook {exercise.notebook} and kept by\n"
        "# mlp.exercises.yours. To change it, edit the exercise in the notebook and run its check again.\n"
        f"import numpy as np\n\nimport mlp\n\n\n{definitions}\n"
    )
    path = directory() / f"{name}.py"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        print(f"  (your {name} passed, but could not be kept: {type(e).__name__}: {e.strerror or e})")
        return
    _loaded.pop(name, None)
    print(f"  kept: {directory().name}/{name}.py; later notebooks use your {name}.")


def _definitions(fn: Any) -> str | None:
    """The imports, definitions and assignments of the cell (or file) that defined ``fn``, or ``None``."""
    code = _code_of(fn)
    lines = linecache.getlines(code.co_filename) if code is not None else []
    text = "".join(lines)
    try:
        tree = ast.parse(text) if text else None
    except SyntaxError:
        tree = None
    if tree is None or not any(_defines(node, fn.__name__) for node in tree.body):
        try:  # the definition alone, when the whole cell cannot be read
            import inspect
            import textwrap

            tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
        except (OSError, TypeError, SyntaxError):
            return None
    kept = (
        ast.Import,
        ast.ImportFrom,
        ast.FunctionDef,
        ast.AsyncFunctionDef,
        ast.ClassDef,
        ast.Assign,
        ast.AnnAssign,
    )
    body = [node for node in tree.body if isinstance(node, kept) and not _calls_a_checker(node)]
    return (
        "\n\n\n".join(ast.get_source_segment(text, node) or ast.unparse(node) for node in body)
        if text
        else ("\n\n\n".join(ast.unparse(node) for node in body))
    )


def _code_of(fn: Any) -> types.CodeType | None:
    if isinstance(fn, type):  # a class: the code of any of its methods names the cell
        for member in vars(fn).values():
            if isinstance(member, types.FunctionType):
                return member.__code__
        return None
    return getattr(fn, "__code__", None)


def _defines(node: ast.stmt, name: str) -> bool:
    return isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name == name


def _calls_a_checker(node: ast.AST) -> bool:
    return any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id.startswith("check_")
        for n in ast.walk(node)
    )


# --- using ---------------------------------------------------------------------------------------------

_loaded: dict[str, tuple[Any, Any, str]] = {}  # name -> ((mtime, size) of the file, what it gave, the line)


def use(name: str, *, verbose: bool = True) -> Any:
    """Your kept ``name`` if there is one and it still passes its check, else the course's version.

    Prints exactly one line saying which (``verbose=False``: none).
    """
    fn, line = resolve(name)
    if verbose:
        print(line)
    return fn


def resolve(name: str) -> tuple[Any, str]:
    """``(the function or class to use, the one line that says whose it is)``."""
    exercise = EXERCISES.get(name)
    if exercise is None:
        raise KeyError(f"no exercise named {name!r}; the kept ones are {', '.join(EXERCISES)}")
    path = directory() / f"{name}.py"
    course = exercise.reference()
    if not path.is_file():
        return course, f"{name}: the course's — yours is not written yet (notebook {exercise.notebook})"
    stat = path.stat()
    mtime = (stat.st_mtime_ns, stat.st_size)
    cached = _loaded.get(name)
    if cached is not None and cached[0] == mtime:
        return cached[1], cached[2]
    fn, why = _load(exercise, path)
    if fn is None:
        result = course, f"{name}: the course's — yours ({path.parent.name}/{path.name}) {why}"
    else:
        result = fn, f"{name}: yours (kept in notebook {exercise.notebook})"
    _loaded[name] = (mtime, *result)
    return result


def _load(exercise: Exercise, path: Path) -> tuple[Any, str]:
    """What the kept file defines under the exercise's name, if it loads and passes; else why not."""
    module = types.ModuleType(f"mlp_yours_{exercise.name}")  # not __main__: loading never keeps again
    module.__file__ = str(path)
    try:
        source = path.read_text(encoding="utf-8")
        exec(compile(source, str(path), "exec"), module.__dict__)
    except Exception as e:  # the kept file may hold anything the learner wrote
        return None, f"failed to load: {type(e).__name__}: {_first_line(e)}"
    fn = getattr(module, exercise.name, None)
    if fn is None:
        return None, f"defines no {exercise.name}"
    try:
        result = exercise.check(fn)
    except Exception as e:  # a checker must not break a notebook either
        return None, f"could not be checked: {type(e).__name__}: {_first_line(e)}"
    if not result.passed:
        why = f"no longer passes {exercise.checker}: {_first_line(result.message)}"
        if "NameError" in result.message:  # it leaned on a name from another cell, which is not kept
            why += " (define what it uses inside the exercise's own cell, then run its check again)"
        return None, why
    return fn, ""


def _first_line(error: Any, limit: int = 160) -> str:
    """The message on one line (a checker's diagnosis may span several), at most ``limit`` characters."""
    text = " ".join(line.strip() for line in str(error).strip().splitlines()).rstrip(".")
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- your network ----------------------------------------------------------------------------------------


class YourDense(Dense):
    """A ``Dense`` layer whose backward is your ``dense_backward``; saved as a plain ``Dense``."""

    dense_backward: Callable[..., Any] = staticmethod(_dense_backward)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        dx, dw, db = self.dense_backward(self._x, self.weight.value, grad_out)
        self.weight.grad, self.bias.grad = dw, db
        return dx

    def backward_parameters(self, grad_out: np.ndarray) -> None:
        self.backward(grad_out)  # your dense_backward computes dx too: one product more, nothing else

    def astype(self, dtype: np.dtype | type) -> YourDense:
        layer = super().astype(dtype)
        layer.dense_backward = self.dense_backward
        return layer


class YourReLU(ReLU):
    """ReLU as your ``ELU`` with ``alpha = 0`` (ELU is then max(x, 0), slope 0 or 1); saved as ``ReLU``."""

    def __init__(self, elu_class: type | None = None) -> None:
        self.elu_class = elu_class or _elu()
        self._elu = self.elu_class(alpha=0.0)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._out = self._elu.forward(x)
        return self._out

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        return self._elu.backward(grad_out)

    def config(self) -> dict[str, Any]:
        return {"type": "ReLU"}

    def astype(self, dtype: np.dtype | type) -> YourReLU:
        layer = YourReLU(self.elu_class)
        layer.training = self.training
        return layer


class YourLoss(SoftmaxCrossEntropy):
    """Softmax cross-entropy whose gradient is your ``loss_gradient`` of your ``softmax``'s probabilities.

    The loss *value* it reports is ``mlp``'s (log-softmax, never ``log 0``);
    what trains the network, ``backward``, is yours.
    """

    def __init__(
        self, softmax_fn: Callable[..., Any] = softmax, gradient_fn: Callable[..., Any] = _loss_gradient
    ):
        self.softmax_fn, self.gradient_fn = softmax_fn, gradient_fn

    def forward(self, logits: np.ndarray, labels: np.ndarray) -> float:
        value = super().forward(logits, labels)
        self._p = self.softmax_fn(logits)
        return value

    def backward(self) -> np.ndarray:
        return np.asarray(self.gradient_fn(self._p, self._labels), dtype=self._p.dtype)


class YourNetwork(Sequential):
    """A ``Sequential`` whose backward is your ``network_backward``; saves as any network does."""

    network_backward: Callable[..., Any] = staticmethod(_network_backward)

    def backward(self, grad_logits: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        dx = self.network_backward(self.layers, grad_logits)
        return dx if input_grad else None

    def astype(self, dtype: np.dtype | type) -> YourNetwork:
        copy = YourNetwork([layer.astype(dtype) for layer in self.layers], self.metadata)
        copy.network_backward = self.network_backward
        return copy


def _relu_from_elu(elu_class: type) -> str:
    """``""`` if ``elu_class(alpha=0)`` is ReLU forward and backward on a test batch, else why not."""
    x = np.array([[-800.0, -2.0, -0.5, 0.5, 2.0, 800.0]])
    grad = np.array([[1.0, -2.0, 3.0, -4.0, 5.0, -6.0]])
    try:
        with np.errstate(all="ignore"):
            layer = elu_class(alpha=0.0)
            out = np.asarray(layer.forward(x), dtype=np.float64)
            dx = np.asarray(layer.backward(grad), dtype=np.float64)
    except Exception as e:  # the learner's class may raise anything
        return f"raised {type(e).__name__} with alpha = 0: {_first_line(e)}"
    if out.shape != x.shape or not np.array_equal(out, np.maximum(x, 0)):
        return "with alpha = 0 its forward is not max(x, 0)"
    if dx.shape != x.shape or not np.array_equal(dx, grad * (x > 0)):
        return "with alpha = 0 its backward is not ReLU's (NaN where it divides by alpha?)"
    return ""


def network(
    sizes: Sequence[int] = (784, 128, 64, 10),
    *,
    seed: int = 0,
    dtype: np.dtype | type = np.float32,
    verbose: bool = True,
) -> YourNetwork:
    """The course's MLP, built from your code: Dense layers and ReLUs, your backward loop.

    Prints one line per piece: ``dense_backward``, ``ELU`` (ReLU is ELU with
    alpha = 0), ``network_backward``. The weights are ``mlp.MLP(sizes, seed=seed)``'s,
    so that your network and the course's start from the same point.
    """
    from mlp.nn.network import MLP

    dense_backward = use("dense_backward", verbose=verbose)
    elu_class, line = resolve("ELU")
    why = _relu_from_elu(elu_class) if elu_class is not _elu() else ""
    if why:
        elu_class, line = _elu(), f"ELU: the course's — yours (kept in notebook 03) {why}"
    if verbose:
        print(
            line + ("" if line.startswith("ELU: the course's") else "; the ReLUs are your ELU with alpha = 0")
        )
    backward_loop = use("network_backward", verbose=verbose)

    template = MLP(list(sizes), seed=seed, dtype=dtype)  # the same initial weights as the course's network
    layers: list[Layer] = []
    for layer in template.layers:
        if isinstance(layer, Dense):
            mine = YourDense.__new__(YourDense)
            mine.__dict__.update(layer.__dict__)  # the same Parameter objects: nothing is copied
            mine.dense_backward = dense_backward
            layers.append(mine)
        else:
            layers.append(YourReLU(elu_class))
    model = YourNetwork(layers, {"made_by": MADE_BY})
    model.network_backward = backward_loop
    return model


def loss(*, verbose: bool = True) -> YourLoss:
    """Softmax cross-entropy from your ``softmax`` and ``loss_gradient``; prints whose each is."""
    return YourLoss(use("softmax", verbose=verbose), use("loss_gradient", verbose=verbose))


def train(
    model: Sequential,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    lr: float,
    batch_size: int = 128,
    seed: int = 0,
    step: Callable[..., Any] | None = None,
    loss_fn: SoftmaxCrossEntropy | None = None,
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[float]:
    """Train ``model`` with a training step (yours by default), lr decaying linearly to 0.

    Each epoch reshuffles ``(x, y)`` with a generator seeded by ``seed``;
    every batch is one call of ``step(model, loss, x_batch, y_batch, lr)``.
    Returns the validation accuracy after each epoch (empty without
    ``validation_data``).
    """
    step = step if step is not None else use("train_step")
    loss_fn = loss_fn if loss_fn is not None else loss()
    rng = np.random.default_rng(seed)
    steps_per_epoch = -(-len(x) // batch_size)
    total, taken, accuracies = epochs * steps_per_epoch, 0, []
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            batch = order[start : start + batch_size]
            step(model, loss_fn, x[batch], y[batch], lr * (1 - taken / total))
            taken += 1
        if validation_data is not None:
            accuracies.append(model.accuracy(*validation_data))
    return accuracies


def save(model: Sequential, path: str | Path, **metadata: Any) -> Path:
    """Save your network as a standard model file, ``made_by="you"``, that ``load_model`` and the pad read."""
    from mlp.training.model_io import save_model

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_model(model, path, **{"made_by": MADE_BY, **metadata})


def load(path: str | Path | None = None, *, verbose: bool = True) -> YourNetwork:
    """A saved network (yours, from notebook 05) back as your network, to go on training it with your code.

    The weights come from the file (``mlp.load_model``'s checks, its errors);
    the pieces that compute the gradients are your kept ones, named as
    ``network()`` names them. Only Dense and ReLU networks, the course's MLP, can be rebuilt so.
    """
    from mlp.training.model_io import load_model

    path = Path(NETWORK_FILE) if path is None else Path(path)
    saved = load_model(path)
    if [type(layer).__name__ for layer in saved.layers[1::2]] != ["ReLU"] * (len(saved.layers) // 2):
        raise ValueError(
            f"{Path(path).name} is not an MLP of Dense and ReLU layers: it cannot be rebuilt from your code"
        )
    sizes = [saved.layers[0].n_in] + [layer.n_out for layer in saved.layers[::2]]
    model = network(sizes, dtype=saved.dtype, verbose=verbose)
    for mine, theirs in zip(model.parameters(), saved.parameters(), strict=True):
        mine.value = theirs.value
        mine.grad = np.zeros_like(mine.value)
    model.metadata = dict(saved.metadata)
    return model
