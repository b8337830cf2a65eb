"""What JupyterLab would change in a notebook the moment a learner opens it: nothing.

JupyterLab writes the running kernel's name into a notebook's ``kernelspec``;
when the committed name differs (nbconvert used to write "Python 3", ipykernel
says "Python 3 (ipykernel)"), a notebook shows as modified before anyone typed,
and a learner is asked to save or discard changes they never made.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jupyter_client.kernelspec import KernelSpecManager

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_kernelspec_is_the_installed_kernels(path: Path) -> None:
    installed = KernelSpecManager().get_kernel_spec("python3")
    kernelspec = json.loads(path.read_text())["metadata"]["kernelspec"]
    assert kernelspec == {
        "display_name": installed.display_name,
        "language": installed.language,
        "name": "python3",
    }
