"""Every notebook exercise ships as a stub, with its solution folded right after it, and both are checked.

The convention, for every "your turn" in ``notebooks/*.ipynb``:

* the **stub** is one code cell that starts with ``# Your turn: <what it teaches>``,
  defines the learner's function with ``raise NotImplementedError`` in its body,
  and ends by calling one checker from ``mlp.exercises`` on it: ``check_x(x)``;
* the next cell is markdown, the **solution**, folded:
  ``<details><summary>Solution</summary>`` then one fenced python block.

This test reads the committed notebooks (not a copy of the solutions), so a
solution that drifts from its checker, or a stub committed with a solution in
it, fails CI. Each stub and solution runs in a fresh namespace holding only
``np``, ``mlp`` and the checkers: the learner's function must not lean on a
notebook's variables.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import mlp
import mlp.exercises

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
DASHBOARD = NOTEBOOKS[-1]  # the last notebook is the live dashboard: visitors get no exercise
SOLUTION = re.compile(
    r"^\s*<details>\s*<summary>\s*Solution\s*</summary>\s*```python\n(.*?)```\s*</details>\s*$", re.S
)
HEADER = re.compile(r"^# Your turn: \S.{10,}$")


@dataclass(frozen=True)
class Exercise:
    notebook: str
    cell: int  # index of the stub cell
    stub: str
    solution: str
    stub_outputs: str  # the committed outputs of the stub cell, as text

    @property
    def id(self) -> str:
        return f"{self.notebook}:cell{self.cell}"


def source(cell: dict) -> str:
    return "".join(cell["source"])


def output_text(cell: dict) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append("".join(output.get("text", "")))
        parts.append("".join(output.get("data", {}).get("text/plain", "")))
    return "".join(parts)


def is_stub(cell: dict) -> bool:
    return cell["cell_type"] == "code" and source(cell).lstrip().startswith("# Your turn:")


def read_exercises(path: Path) -> list[Exercise]:
    cells = json.loads(path.read_text())["cells"]
    found = []
    for i, cell in enumerate(cells):
        solution = SOLUTION.match(source(cell)) if cell["cell_type"] == "markdown" else None
        if "<summary>Solution</summary>" in source(cell) and cell["cell_type"] == "markdown":
            assert solution, f"{path.name} cell {i}: a Solution block must be <details>, one ```python block"
            assert i > 0 and is_stub(cells[i - 1]), f"{path.name} cell {i}: a solution must follow its stub"
        if is_stub(cell):
            nxt = cells[i + 1] if i + 1 < len(cells) else None
            match = SOLUTION.match(source(nxt)) if nxt and nxt["cell_type"] == "markdown" else None
            assert match, f"{path.name} cell {i}: a stub must be followed by its folded solution"
            found.append(Exercise(path.name, i, source(cell), match.group(1), output_text(cell)))
    return found


EXERCISES = [exercise for path in NOTEBOOKS for exercise in read_exercises(path)]


def checker_call(code: str) -> tuple[str, str, ast.Module]:
    """``(checker name, function name, the code without the checker call)`` of a stub or solution."""
    tree = ast.parse(code)
    calls = [
        node
        for statement in tree.body
        for node in ast.walk(statement)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id.startswith("check_")
    ]
    assert len(calls) == 1, f"expected one check_...(function) call, found {len(calls)}"
    (call,) = calls
    assert len(call.args) == 1 and isinstance(call.args[0], ast.Name) and not call.keywords, (
        "a checker takes exactly the learner's function: check_x(x)"
    )
    body = [s for s in tree.body if not any(node is call for node in ast.walk(s))]
    return call.func.id, call.args[0].id, ast.Module(body=body, type_ignores=[])


def run(code: str) -> mlp.exercises.ExerciseResult:
    """Define the learner's function from ``code`` in a fresh namespace and run its checker on it."""
    checker_name, function_name, definitions = checker_call(code)
    checker = getattr(mlp.exercises, checker_name, None)
    assert checker is not None, f"{checker_name} must be importable from mlp.exercises"
    namespace = {"np": np, "mlp": mlp}
    exec(compile(definitions, "<exercise>", "exec"), namespace)
    assert function_name in namespace, f"the cell must define {function_name}"
    return checker(namespace[function_name], verbose=False)


def test_every_lesson_notebook_has_an_exercise():
    lessons = [path.name for path in NOTEBOOKS if path != DASHBOARD]
    with_exercises = {exercise.notebook for exercise in EXERCISES}
    assert [name for name in lessons if name not in with_exercises] == []
    assert DASHBOARD.name not in with_exercises, "the dashboard is for visitors: no exercise there"


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_the_stub_says_what_it_teaches_and_is_not_written(exercise: Exercise):
    assert HEADER.match(exercise.stub.splitlines()[0]), "start with '# Your turn: <what it teaches>'"
    assert "raise NotImplementedError" in exercise.stub
    result = run(exercise.stub)
    assert result.not_written and not result.passed, str(result)
    assert "First hint:" in result.message, "a stub's checker gives a first hint"
    assert "✎" in exercise.stub_outputs and "not written yet" in exercise.stub_outputs, (
        "commit the notebook executed with the stub in place"
    )
    assert "✓" not in exercise.stub_outputs


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_the_folded_solution_passes_its_checker(exercise: Exercise):
    stub_checker, stub_function, _ = checker_call(exercise.stub)
    solution_checker, solution_function, _ = checker_call(exercise.solution)
    assert (solution_checker, solution_function) == (stub_checker, stub_function)
    assert "NotImplementedError" not in exercise.solution
    result = run(exercise.solution)
    assert result.passed, str(result)
