"""Notebooks 06, 07, 08 and 09 as committed: questions that ask for thought, results that never break a cell.

* Every "Predict, then ..." question is followed by its folded answer, then by a code cell that shows it;
  07, 08 and 09 have two or three each, 06 a decision on the validation curves.
* Each exercise's result variable is set in an earlier cell, so that an exercise cell with a syntax error
  cannot make a later cell fail with NameError; no checker's result is echoed a second time as its repr.
* With every stub untouched, 06 names each stand-in of the network it trains: the course's code, said so.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
MINE = {
    "06": "06_better_training",
    "07": "07_inside_the_network",
    "08": "08_from_drawing_to_input",
    "09": "09_teach_it_your_handwriting",
}


def cells(number: str) -> list[dict]:
    return json.loads((NOTEBOOKS / f"{MINE[number]}.ipynb").read_text())["cells"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


def outputs(cell: dict) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append("".join(output.get("text", "")))
        parts.append("".join(output.get("data", {}).get("text/plain", "")))
    return "".join(parts)


@pytest.mark.parametrize(("number", "at_least"), [("06", 1), ("07", 3), ("08", 2), ("09", 2)])
def test_each_question_has_a_folded_answer_then_a_cell_that_shows_it(number, at_least):
    notebook = cells(number)
    questions = [i for i, cell in enumerate(notebook) if "**Predict, then" in source(cell)]
    assert len(questions) >= at_least
    for i in questions:
        following = notebook[i + 1 : i + 6]  # in 06, the search runs before the justified choice
        answer = next(k for k, cell in enumerate(following) if "<details>" in source(cell))
        assert following[answer]["cell_type"] == "markdown"
        shown = following[answer + 1 :] if number != "06" else notebook[i + 1 :]
        assert any(cell["cell_type"] == "code" for cell in shown), f"{number}: question at cell {i}"


@pytest.mark.parametrize("number", list(MINE))
def test_each_result_variable_is_set_before_its_exercise(number):
    notebook = cells(number)
    for i, cell in enumerate(notebook):
        found = re.search(r"^(\w+_result) = check_\w+\(", source(cell), re.M)
        if cell["cell_type"] != "code" or not source(cell).startswith("# Your turn:") or not found:
            continue
        earlier = "".join(source(c) for c in notebook[:i] if c["cell_type"] == "code")
        assert re.search(rf"\b{found.group(1)}\b[^\n]*= None", earlier), f"{number}: {found.group(1)}"


@pytest.mark.parametrize("number", list(MINE))
def test_no_result_is_echoed_as_its_repr(number):
    for cell in cells(number):
        assert "ExerciseResult(" not in outputs(cell)
        if source(cell).startswith("# Your turn:"):
            assert re.search(r"^\w+ = check_\w+\(", source(cell), re.M), "assign the checker's result"


def test_notebook_06_names_each_stand_in_of_the_network_it_trains():
    text = "".join(outputs(cell) for cell in cells("06") if cell["cell_type"] == "code")
    named = dict(
        re.findall(r"^(\w+): the course's — yours is not written yet \(notebook (\d\d)\)$", text, re.M)
    )
    for piece, notebook in {
        "dense_backward": "02",
        "ELU": "03",
        "network_backward": "04",
        "softmax": "03",
        "loss_gradient": "03",
        "adam_step": "06",
    }.items():
        assert named.get(piece) == notebook, piece
    assert "yours (kept" not in text, "committed with a kept answer in its outputs"
    assert "saved my-model.npz, made by you" in text
