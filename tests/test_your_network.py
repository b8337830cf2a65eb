"""The network a learner builds from their own answers: the notebooks' folded solutions, kept and trained.

* A learner who solved every exercise has each folded solution kept by its
  checker; built into a network and trained as notebook 05 trains it, it
  passes 97 % on MNIST's test set and reads a drawing from the pad.
* With every stub untouched, the committed notebooks name each stand-in.
* Notebook 04's by-hand backward pass: the committed cell is all to fill in,
  its folded lines pass the per-gradient check.
"""

from __future__ import annotations

import json
import linecache
import re
from pathlib import Path

import numpy as np
import pytest
from test_notebook_exercises import EXERCISES, checker_call, output_text, source

import mlp
import mlp.exercises
from mlp.exercises import yours
from mlp.pad.rasterize import StrokeRaster

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NETWORK_PIECES = ["dense_backward", "ELU", "network_backward", "softmax", "loss_gradient", "train_step"]


def run_as_a_cell(code: str, filename: str) -> None:
    """Run ``code`` as IPython runs a notebook cell: in ``__main__``, its text in ``linecache``."""
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    namespace = {"__name__": "__main__", "np": np, "mlp": mlp}
    namespace.update({name: getattr(mlp.exercises, name) for name in mlp.exercises.__all__})
    exec(compile(code, filename, "exec"), namespace)


def notebook_cells(name: str) -> list[dict]:
    (path,) = NOTEBOOKS.glob(f"{name}_*.ipynb")
    return json.loads(path.read_text())["cells"]


@pytest.mark.slow
def test_the_network_of_the_folded_solutions_passes_97_percent_and_reads_a_drawing(
    tmp_path, monkeypatch, capsys
):
    from threadpoolctl import threadpool_limits

    monkeypatch.setenv(yours.ENV, str(tmp_path / "yours"))
    yours._loaded.clear()
    for i, exercise in enumerate(EXERCISES):  # every exercise solved, as its folded solution says
        checker_call(exercise.solution)  # one checker call, as a learner's cell has
        run_as_a_cell(exercise.solution, f"/tmp/ipykernel_0/{i}.py")
    capsys.readouterr()
    kept = sorted(path.stem for path in (tmp_path / "yours").glob("*.py"))
    assert set(NETWORK_PIECES) <= set(kept), kept

    # As notebook 05 builds and trains it.
    (x_all, y_all), (x_test, y_test) = mlp.load_mnist()
    order = np.random.default_rng(0).permutation(len(x_all))
    x_train, y_train = x_all[order[:50_000]], y_all[order[:50_000]]
    x_val, y_val = x_all[order[50_000:]], y_all[order[50_000:]]
    network = yours.network(seed=0)
    loss = yours.loss()
    step = yours.use("train_step")
    lines = capsys.readouterr().out.splitlines()
    for piece in NETWORK_PIECES:
        assert any(line.startswith(f"{piece}: yours (kept in notebook") for line in lines), (piece, lines)
    assert not isinstance(step, type(yours._train_step)) or step is not yours._train_step
    with threadpool_limits(1, user_api="blas"):
        yours.train(
            network,
            x_train,
            y_train,
            epochs=8,
            lr=0.3,
            step=step,
            loss_fn=loss,
            validation_data=(x_val, y_val),
        )
    accuracy = network.accuracy(x_test, y_test)
    print(f"\nthe folded solutions' network, trained as notebook 05 trains it: test accuracy {accuracy:.2%}")
    assert accuracy >= 0.97, accuracy

    # Saved as notebook 05 saves it, read back as the pad reads a model file, then a drawing through it.
    model = mlp.load_model(yours.save(network, tmp_path / yours.NETWORK_FILE))
    assert model.metadata["made_by"] == "you"
    raster = StrokeRaster(canvas_size=560, raster_size=280, brush_radius=22)
    raster.start(280, 90)  # a one: a vertical stroke down the middle of the pad
    for y in range(100, 480, 10):
        raster.extend(280 + (y - 90) * 0.08, y)
    digit = mlp.preprocess_digit(raster.image)
    proba = model.predict_proba(digit)
    assert proba.shape == (10,) and abs(float(proba.sum()) - 1) < 1e-5
    assert int(proba.argmax()) == 1, np.round(proba, 3)


def test_with_every_stub_untouched_the_notebooks_name_each_stand_in():
    stand_in = re.compile(r"^(\w+): the course's — yours is not written yet \(notebook (\d\d)\)$", re.M)
    named = {}
    for notebook in ("03", "04", "05"):
        text = "".join(output_text(cell) for cell in notebook_cells(notebook) if cell["cell_type"] == "code")
        named[notebook] = {name: where for name, where in stand_in.findall(text)}
        assert "yours (kept" not in text, (
            f"notebook {notebook} is committed with a kept answer in its outputs"
        )
    assert named["03"] == {"numerical_gradient": "02"}
    assert set(named["04"]) == {"dense_backward", "ELU", "network_backward", "softmax", "loss_gradient"}
    assert set(named["05"]) == set(NETWORK_PIECES)
    for notebook in named.values():
        for name, where in notebook.items():
            assert yours.EXERCISES[name].notebook == where, name


def test_the_backward_pass_by_hand_is_committed_to_fill_in_and_its_folded_lines_pass():
    cells = notebook_cells("04")
    (index,) = [
        i for i, cell in enumerate(cells) if source(cell).startswith("# Fill in: the backward pass by hand")
    ]
    fill_in, folded = source(cells[index]), source(cells[index + 1])
    assert "✎ backward by hand: 0 of 12" in output_text(cells[index])
    lines = re.search(r"```python\n(.*?)```", folded, re.S).group(1).strip().splitlines()
    filled = fill_in
    for line in lines:
        names = line.split("=")[0].strip()
        stub = re.search(rf"^{re.escape(names)} = None.*$", filled, re.M)
        assert stub, f"the folded line for {names} has no stub line"
        filled = filled.replace(stub.group(0), line)
    assert "= None" not in filled.split("by_hand = ")[0]
    (x_train, y_train), _ = mlp.load_mnist()
    namespace = {"np": np, "mlp": mlp, "model": mlp.MLP([784, 128, 64, 10], seed=0), "x_train": x_train}
    namespace |= {"y_train": y_train, "check_backward_by_hand": mlp.exercises.check_backward_by_hand}
    exec(
        filled.replace(
            "check_backward_by_hand(net, x, y, by_hand)",
            "check_backward_by_hand(net, x, y, by_hand, verbose=False)",
        ),
        namespace,
    )
    assert namespace["by_hand_check"].passed, namespace["by_hand_check"].message


def test_check_backward_by_hand_names_a_transpose_and_the_missing_mean():
    network = mlp.MLP([6, 5, 4, 3], seed=2, dtype=np.float64)
    x, y = np.random.default_rng(1).random((7, 6)), np.arange(7) % 3
    W3 = network.layers[4].weight.value
    z = network.forward(x)
    d3 = mlp.softmax(z) - np.eye(3)[y]  # the 1/N forgotten
    result = mlp.exercises.check_backward_by_hand(
        network, x, y, {"d3": d3, "da2": (d3 / 7 @ W3.T).T}, verbose=False
    )
    assert not result.passed and not result.not_written
    assert "N times too large" in result.message and "transpose" in result.message
    assert result.message.count("✎") == 10 and "10 not filled in yet" in result.message
