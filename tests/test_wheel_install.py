"""The package installed from its wheel works outside the checkout: exercises, pad, model, MNIST, CLI.

The wheel is built from this checkout and installed into a fresh virtual
environment; every check then runs from another directory, so nothing can be
found through the checkout by accident. The fresh environment gets its
dependencies (NumPy, ipywidgets, ...) from this one through a ``.pth`` line
rather than downloading them again: what is tested is the package, not PyPI.
A plain path line adds that folder to ``sys.path`` without running the
``.pth`` files inside it, so this environment's editable install of ``mlp``
stays invisible there (the test checks where ``mlp`` is imported from).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]

CHECKS = r"""
import subprocess, sys
import numpy as np
from PIL import Image

import mlp, mlp.exercises, mlp.pad.widget
from mlp.training.data import mnist_dir
from mlp.training.model_io import shipped_model_path

print("mlp imported from", mlp.__file__)
print("exercises:", ", ".join(sorted(name for name in mlp.exercises.__all__ if name.startswith("check_"))))
pad = mlp.pad.widget.DigitPad
print("pad widget:", pad.__name__, "· mlp.DigitPad is it:", mlp.DigitPad is pad)
model = mlp.load_model()
print("load_model():", shipped_model_path())
(x, y), (x_test, y_test) = mlp.load_mnist(download=False)
print("load_mnist():", mnist_dir(), x.shape, x_test.shape)
print(f"shipped model, test accuracy: {model.accuracy(x_test, y_test):.2%}")
Image.fromarray((x_test[0].reshape(28, 28) * 255).astype(np.uint8)).resize((140, 140)).save("digit.png")
done = subprocess.run([sys.executable, "-m", "mlp", "predict", "digit.png"], capture_output=True, text=True)
print(f"$ python -m mlp predict digit.png  (exit {done.returncode})")
print(done.stdout + done.stderr, end="")
"""

WITHOUT_DATA = r"""
import subprocess, sys
import mlp

for load in (mlp.load_model, lambda: mlp.load_mnist(download=False)):
    try:
        load()
    except FileNotFoundError as error:
        print("FileNotFoundError:", error)
done = subprocess.run([sys.executable, "-m", "mlp", "predict", "digit.png"], capture_output=True, text=True)
print(f"$ python -m mlp predict digit.png  (exit {done.returncode})")
print(done.stdout + done.stderr, end="")
"""


def run(*args: str | Path, **options) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, check=False, **options)
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}"
    return done


def clean_environment(home: Path) -> dict[str, str]:
    """This process's environment without anything that would point at the checkout or its data."""
    drop = {"PYTHONPATH", "MLP_DATA_DIR", "MLP_MODEL", "XDG_CACHE_HOME", "VIRTUAL_ENV", "PYTHONHOME"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["HOME"] = str(home)  # no user cache of MNIST from earlier runs
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path, dict[str, str]]:
    """A fresh venv with the wheel installed; its python, a working directory outside the checkout, env."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"  # a clean copy: a build/ folder left in the checkout could add stale modules
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    for name in ("mlp", "data"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp / "dist", source)
    (wheel,) = (tmp / "dist").glob("mlp_from_scratch-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    data = "mlp_from_scratch-0.1.0.data/data/share/mlp-from-scratch/"
    for expected in (
        "mlp/exercises/__init__.py",
        "mlp/pad/widget.py",
        "mlp/cli/predict.py",
    ):
        assert expected in names
    # Tooling is not the course: the benchmarks and their drivers stay in the checkout.
    assert not [n for n in names if n.startswith(("mlp/bench", "benchmarks/"))]
    assert data + "mlp-mnist.npz" in names and sum(n.startswith(data + "mnist/") for n in names) == 4

    venv = tmp / "venv"
    run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").stdout.strip()
    (Path(site) / "dependencies-of-the-test.pth").write_text(sysconfig.get_path("purelib") + "\n")
    run(python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel)
    work = tmp / "elsewhere"
    work.mkdir()
    return python, work, clean_environment(tmp / "home")


def test_the_installed_wheel_finds_its_model_and_mnist(installed):
    python, work, env = installed
    done = run(python, "-c", CHECKS, cwd=work, env=env)
    print(done.stdout)
    out = done.stdout
    venv = str(python.parent.parent)
    assert f"mlp imported from {venv}" in out and str(ROOT) not in out.split("\n")[0]
    assert "check_dense_backward" in out and "mlp.DigitPad is it: True" in out
    assert f"load_model(): {venv}" in out and "share/mlp-from-scratch/mlp-mnist.npz" in out
    assert f"load_mnist(): {venv}" in out and "(60000, 784) (10000, 784)" in out
    assert "shipped model, test accuracy: 99.11%" in out
    assert "(exit 0)\ndigit.png: 7 (>99% sure)\n  7 " in out


def test_without_the_installed_data_the_errors_say_what_to_do(installed):
    python, work, env = installed
    share = python.parent.parent / "share" / "mlp-from-scratch"
    hidden = share.with_name("hidden-for-the-test")
    shutil.move(share, hidden)
    try:
        done = run(python, "-c", WITHOUT_DATA, cwd=work, env=env)
    finally:
        shutil.move(hidden, share)
    print(done.stdout)
    model_error, mnist_error = done.stdout.splitlines()[:2]
    assert "no shipped model found" in model_error and "$MLP_MODEL" in model_error
    assert "python -m mlp train" in model_error
    assert "download=False" in mnist_error and "$MLP_DATA_DIR" in mnist_error
    assert ".cache/mlp-from-scratch/mnist" in mnist_error  # where a download would go
    assert "(exit 1)\nerror: cannot use the model: no shipped model found" in done.stdout
    assert "Traceback" not in done.stdout
