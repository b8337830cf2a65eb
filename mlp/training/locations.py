"""Where the shipped files live: in a source checkout, or installed with the package.

The course ships two kinds of data: the trained model (``mlp-mnist.npz``) and
the four MNIST files (``mnist/*.gz``). A source checkout keeps them in its
``data/`` folder. The wheel installs copies into ``<prefix>/share/mlp-from-scratch/``
(pip's "data" location: the virtual environment, ``~/.local`` for ``--user``),
so an installed package works without the checkout and without a download.

Both lookups go the same way: an explicit path, then an environment variable
(``$MLP_MODEL``, ``$MLP_DATA_DIR``), then the checkout's ``data/``, then the
installed copy. Nothing here reads a file; it only finds where to look.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import sysconfig
from pathlib import Path

DISTRIBUTION = "mlp-from-scratch"  # the name pip knows the package by, and the folder under share/
MODEL_NAME = "mlp-mnist.npz"
MNIST_FOLDER = "mnist"


def checkout_data_dir() -> Path | None:
    """The ``data/`` folder of the source checkout this package runs from, if it does."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "data").is_dir():
        return root / "data"
    return None


def installed_data_dir() -> Path | None:
    """``<prefix>/share/mlp-from-scratch``, where pip put the wheel's data files, if it did.

    The usual places are tried first (this environment's prefix, then the
    user's); the package's own list of installed files settles any other
    installation scheme.
    """
    schemes = [sysconfig.get_path("data")]
    # No user scheme on some platforms (Pyodide: "'posix_user' is not a valid scheme"): then none.
    with contextlib.suppress(ValueError):
        schemes.append(sysconfig.get_path("data", sysconfig.get_preferred_scheme("user")))
    for prefix in schemes:
        candidate = Path(prefix) / "share" / DISTRIBUTION
        if (candidate / MODEL_NAME).is_file():
            return candidate
    try:
        files = importlib.metadata.files(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:  # running from a checkout that was never installed
        return None
    for file in files:
        if file.name == MODEL_NAME and "share" in file.parts:
            return Path(str(file.locate())).resolve().parent
    return None


def shipped_data_dirs() -> list[Path]:
    """The folders holding shipped data, in the order they are searched: checkout, then installed copy."""
    return [d for d in (checkout_data_dir(), installed_data_dir()) if d is not None]


def user_cache_dir() -> Path:
    """Where MNIST is downloaded to when no shipped copy exists: ``$XDG_CACHE_HOME`` or ``~/.cache``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / DISTRIBUTION
