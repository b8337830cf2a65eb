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


def imported_at_import_time(name: str, path: Path, *, type_checking: bool = False) -> set[str]:
    """The package's modules that ``name`` imports when it is itself imported.

    Only statements that run on import count: module-level ones, also inside
    ``try``/``if`` blocks, but not inside functions (imported on first use) nor
    under ``if TYPE_CHECKING:`` (never run), unless ``type_checking``: a
    circle of type hints is still two modules that each need the other.
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
            elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test) and not type_checking:
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


def test_the_pad_has_no_circle_even_in_type_hints():
    """``pad.teach`` knows the pad through a Protocol (``teach.Reader``), not by importing the widget."""
    graph = {
        name: imported_at_import_time(name, path, type_checking=True)
        for name, path in MODULES.items()
        if name.startswith("mlp.pad")
    }
    graph = {name: imports & set(graph) for name, imports in graph.items()}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])
    assert "mlp.pad.widget" not in graph["mlp.pad.teach"]
    assert "mlp.pad.widget" not in graph["mlp.pad.styles"], "styles needs the canvas's size, not the widget"


# The two modules that exist to know ipycanvas's and ipywidgets' internals (see mlp/pad/__init__.py).
THIRD_PARTY_INTERNALS = {"mlp.pad.canvas", "mlp.pad.frontend"}


def private_names_used(path: Path) -> list[str]:
    """``x._name`` on anything but ``self``/``cls``/``super()``, and ``from m import _name``, in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue
            if isinstance(owner, ast.Call) and ast.unparse(owner.func) == "super":
                continue
            found.append(f"{path.name}:{node.lineno} {ast.unparse(node)}")
        elif isinstance(node, ast.ImportFrom):
            found += [
                f"{path.name}:{node.lineno} from {node.module} import {alias.name}"
                for alias in node.names
                if alias.name.startswith("_") and not alias.name.startswith("__")
            ]
    return found


def test_the_pads_modules_use_no_private_names_of_others():
    used = [
        use
        for name, path in MODULES.items()
        if name.startswith("mlp.pad") and name not in THIRD_PARTY_INTERNALS
        for use in private_names_used(path)
    ]
    assert used == []


def test_the_private_name_finder_finds_them(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("from a import _b\nself._ok\nsuper()._ok()\npad._lock\npad.__class__\n")
    assert private_names_used(sample) == ["sample.py:1 from a import _b", "sample.py:4 pad._lock"]


@pytest.mark.parametrize(
    "module", ["mlp", "mlp.nn", "mlp.training", "mlp.cli.predict", "mlp.cli.train", "mlp.pad.styles"]
)
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
