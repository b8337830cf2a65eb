"""The model file the dashboard loads: accurate, small, documented, and readable from the command line."""

import numpy as np
import pytest
from PIL import Image

import mlp
from mlp.cli.predict import main as predict_main
from mlp.training.model_io import shipped_model_path
from mlp.training.recipe import training_data_sha256


@pytest.fixture(scope="module")
def model():
    return mlp.load_model()


@pytest.fixture(scope="module")
def test_set():
    return mlp.load_mnist()[1]


def test_shipped_model_reaches_98_5_percent_on_the_test_set(model, test_set):
    assert model.accuracy(*test_set) >= 0.985


def test_shipped_model_is_at_most_1_mb():
    assert shipped_model_path().stat().st_size <= 1_000_000


def test_shipped_model_records_how_it_was_made(model, test_set):
    meta = model.metadata
    assert meta["recipe"]["augment"] is True and meta["recipe"]["seed"] == 0
    assert meta["training_data_sha256"] == training_data_sha256()
    assert meta["mlp_version"] == mlp.__version__
    # the figure it claims is the figure it has
    assert meta["metrics"]["test_accuracy"] == pytest.approx(model.accuracy(*test_set), abs=1e-4)


def test_predict_command_reads_a_png(tmp_path, test_set, capsys):
    x_test, y_test = test_set
    path = tmp_path / "digit.png"
    # dark ink on white paper, larger than MNIST: preprocessing must undo both
    image = 255 - (x_test[0].reshape(28, 28) * 255).astype(np.uint8)
    Image.fromarray(image).resize((140, 140), Image.Resampling.BILINEAR).save(path)
    assert predict_main([str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{path}: {y_test[0]} (>99% sure)"
    assert len(out) == 11 and sorted(int(line.split()[0]) for line in out[1:]) == list(range(10))


def test_predict_command_explains_bad_files(tmp_path, capsys):
    garbage = tmp_path / "notes.png"
    garbage.write_bytes(b"this is not an image")
    assert predict_main([str(garbage)]) == 1
    assert "not an image" in capsys.readouterr().err
    blank = tmp_path / "blank.png"
    Image.new("L", (50, 50), 255).save(blank)
    assert predict_main([str(blank)]) == 1
    assert "error:" in capsys.readouterr().err


@pytest.mark.slow
def test_training_recipe_is_reproducible():
    """Same recipe, same machine, same weights (one short epoch of the real recipe, twice)."""
    from mlp.training.model_io import weights_digest
    from mlp.training.recipe import Recipe, train

    recipe = Recipe(sizes=(784, 64, 10), epochs=1)
    first, _, metrics = train(recipe, show_progress=False)
    second, _, _ = train(recipe, show_progress=False)
    assert weights_digest([p.value for p in first.parameters()]) == weights_digest(
        [p.value for p in second.parameters()]
    )
    assert metrics["best_epoch"] == 1 and metrics["test_accuracy"] > 0.9
