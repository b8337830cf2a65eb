"""Binder builds what pyproject.toml declares, and the README's badge points at the project's repository."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def conda_dependencies() -> list[str]:
    """The conda packages of environment.yml (a flat list; pip's section is the project itself)."""
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = lines.index("dependencies:") + 1
    return [m.group(1) for line in lines[start:] if (m := re.fullmatch(r"  - ([^:\s][^:]*)", line))]


def test_environment_pins_python_as_repo2docker_reads_it():
    assert "python=3.11" in conda_dependencies()
    assert pyproject()["project"]["requires-python"] == ">=3.11"


def test_environment_lists_the_runtime_and_test_dependencies_of_pyproject():
    project = pyproject()["project"]
    declared = project["dependencies"] + project["optional-dependencies"]["test"]
    conda = [d for d in conda_dependencies() if not d.startswith(("python=", "pip"))]
    assert sorted(conda) == sorted(d.replace(" ", "") for d in declared)
    assert "- -e ." in (ROOT / "environment.yml").read_text(), "Binder installs the project with pip"


def test_the_binder_badge_opens_the_dashboard_of_the_project_s_repository():
    repository = pyproject()["project"]["urls"]["Repository"]
    slug = re.fullmatch(r"https://github\.com/([\w.-]+/[\w.-]+)", repository).group(1)
    badge = r"https://mybinder\.org/v2/gh/([\w.-]+/[\w.-]+)/(\w+)\?urlpath=([\w/.%-]+)"
    badges = re.findall(badge, (ROOT / "README.md").read_text())
    assert badges, "README.md has a Binder badge"
    for badge_slug, _branch, urlpath in badges:
        assert badge_slug == slug, f"the badge opens {badge_slug}, [project.urls] Repository is {slug}"
        assert urlpath == "voila/render/notebooks/10_draw_a_digit.ipynb"
