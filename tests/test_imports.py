"""The package's import graph: no cycles, and ``import mlp`` stays light.

A cycle (``model_io`` importing ``network`` importing ``model_io``) works or
fails depending on which module happens to be imported first; a heavy import
(ipywidgets, matplotlib) makes every ``import mlp`` pay for a widget that
training never shows. Both are read from the source here, so they fail in CI
rather than in a learner's notebook.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mlp"
HEAVY = ("ipywidgets", "ipycanvas", "matplotlib", "voila", "playwright", "torch")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported_at_import_time(name: str, path: Path) -> set[str]:
    """The package's modules that ``name`` imports when it is itself imported.

    Only statements that run on import count: module-level ones, also inside
    ``try``/``if`` blocks, but not inside functions (imported on first use) nor
    under ``if TYPE_CHECKING:`` (never run).
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # `from .x import y`: relative to this module's package
                    base = ".".join([package.rsplit(".", node.level - 1)[0], base]).strip(".")
                for alias in node.names:  # `from mlp.nn import layers` imports the module mlp.nn.layers
                    found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
            elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            elif isinstance(node, ast.If | ast.Try | ast.With):
                for block in ("body", "orelse", "finalbody", "handlers"):
                    for child in getattr(node, block, []):
                        visit(child.body if isinstance(child, ast.ExceptHandler) else [child])

    visit(tree.body)
    return {module for module in found if module in MODULES and module != name}


GRAPH = {name: imported_at_import_time(name, path) for name, path in MODULES.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a list of modules (first == last), or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node], _ = "open", stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[node], _ = "done", stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_sees_the_package():
    assert {"mlp", "mlp.nn.layers", "mlp.training.model_io", "mlp.cli.predict"} <= set(GRAPH)
    assert "mlp.nn.network" in GRAPH["mlp.training.model_io"]
    assert "mlp.nn.layers" in GRAPH["mlp.nn.network"]
    assert "mlp.pad.widget" not in GRAPH["mlp"]  # imported on first use of mlp.DigitPad


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_import_cycles():
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_module_of_the_package_imports_the_package_itself():
    """``from mlp import X`` inside ``mlp`` makes a module depend on everything ``mlp/__init__`` imports."""
    offenders = sorted(name for name, imports in GRAPH.items() if name != "mlp" and "mlp" in imports)
    assert offenders == []


@pytest.mark.parametrize("module", ["mlp", "mlp.nn", "mlp.training", "mlp.cli.predict", "mlp.cli.train"])
def test_importing_stays_light(module):
    """Training and the command line never import a widget, plotting or browser library."""
    code = f"import sys, {module}; print(' '.join(sorted(sys.modules)))"
    loaded = set(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert sorted(m for m in loaded if m.split(".")[0] in HEAVY) == []
    assert "mlp.pad.widget" not in loaded
