"""The README's first command fails fast, with a sentence, on a Python the course does not support."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def setup_command() -> str:
    """The first shell command under "Two commands": the one that sets up and starts the dashboard."""
    section = (ROOT / "README.md").read_text().split("## Two commands", 1)[1]
    return re.search(r"```bash\n(.+?)\n```", section, re.DOTALL).group(1)


def version_check() -> list[str]:
    """The command's first step, the Python version check, as an argument list."""
    first = setup_command().split(" && ")[0]
    return shlex.split(first)


def test_the_setup_command_checks_the_python_version_first() -> None:
    steps = setup_command().split(" && ")
    assert steps[0].startswith("python3 -c") and "3, 11" in steps[0]
    assert steps[1:] == [
        "python3 -m venv .venv",
        '.venv/bin/pip install -e ".[test]"',
        ".venv/bin/voila notebooks/10_draw_a_digit.ipynb",
    ]


def test_the_check_passes_on_this_python() -> None:
    argv = version_check()
    done = subprocess.run([sys.executable, *argv[1:]], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_the_check_stops_an_older_python_with_a_sentence() -> None:
    """Python 3.10, as ``sys.version_info`` says it: exit status 1 and the sentence, nothing else."""
    code = version_check()[2]
    pretend = f"import sys; sys.version_info = (3, 10, 13, 'final', 0); exec({code!r})"
    done = subprocess.run([sys.executable, "-c", pretend], capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert done.stderr.strip() == "This course needs Python 3.11 or newer."
