"""The command-line tools: help that shows every default, options checked before any work, plain errors.

``python -m mlp train`` must refuse a bad option before it spends a minute
training; ``python -m mlp predict`` must refuse what the pad refuses, name
the file in every error and say "not sure" as the pad does; and either,
piped into ``head``, must stop without a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import mlp
from mlp.__main__ import main as dispatch
from mlp.cli import predict, train
from mlp.pad.preprocess import MAX_FILE_BYTES

ROOT = Path(__file__).resolve().parents[1]


def python(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run ``python -m mlp ...`` as a user's shell would: stdout buffered (no PYTHONUNBUFFERED)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, cwd=cwd, check=False
    )


# --- python -m mlp train -----------------------------------------------------------------------------


def test_train_help_shows_every_default_in_plain_text(capsys):
    with pytest.raises(SystemExit) as done:
        train.main(["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    options = [line.split()[0] for line in text.splitlines() if line.startswith("  --")]
    assert options == ["--out", "--epochs", "--seed", "--threads", "--no-augment"]
    for option, help_text in zip(options, text.split("\n  --")[1:], strict=True):
        assert "(default: " in help_text, f"{option} does not show its default"
    assert "default: trained-model.npz" in text and "default: 30" in text
    assert "``" not in text and ":math:" not in text and "(default: True)" not in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--out", "model.pkl"], "--out: must end in .npz"),
        (["--out", "/no/such/folder/model.npz"], "no directory '/no/such/folder'"),
        (["--out", "{tmp}"], "is a directory"),
        (["--threads", "0"], "--threads: must be between 1 and 1024, got 0"),
        (["--threads", "two"], "--threads: must be a whole number, got 'two'"),
        (["--seed", "-1"], "--seed: must be at least 0, got -1"),
        (["--seed", "1.5"], "--seed: must be a whole number"),
        (["--epochs", "0"], "--epochs: must be between 1 and 10000, got 0"),
    ],
)
def test_train_checks_its_options_before_training(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(train, "train", pytest.fail)  # not a second of training may be spent
    if "{tmp}" in argv:
        (tmp_path / "model.npz").mkdir()
        argv = [a.replace("{tmp}", str(tmp_path / "model.npz")) for a in argv]
    with pytest.raises(SystemExit) as done:
        train.main(argv)
    assert done.value.code == 2
    assert message in capsys.readouterr().err


def test_train_refuses_a_folder_it_cannot_write(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(train, "train", pytest.fail)
    monkeypatch.setattr(train.os, "access", lambda path, mode: False)
    with pytest.raises(SystemExit):
        train.main(["--out", str(tmp_path / "model.npz")])
    assert "cannot write into" in capsys.readouterr().err


def test_train_without_mnist_is_an_error_not_a_traceback(tmp_path, monkeypatch, capsys):
    def no_data(recipe):
        raise FileNotFoundError("train-images-idx3-ubyte.gz is missing and download=False")

    monkeypatch.setattr(train, "train", no_data)
    assert train.main(["--out", str(tmp_path / "m.npz")]) == 1
    assert capsys.readouterr().err.startswith("error: cannot read MNIST: train-images")


# --- The dispatcher and closed pipes ------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("command", [["train", "--help"], ["predict", "--help"], ["--help"]])
def test_piping_into_head_ends_without_a_traceback(command):
    """The shell pipeline a learner types: ``python -m mlp train --help | head -2``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    shell = f"{sys.executable} -m mlp {' '.join(command)} | head -2"
    done = subprocess.run(["sh", "-c", shell], capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    assert len(done.stdout.splitlines()) == 2
    assert done.stderr == ""


@pytest.mark.slow
def test_a_reader_that_is_gone_before_the_first_line_is_no_traceback():
    """The read end closed before anything is written: every write fails, and still no traceback."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    process = subprocess.Popen(
        [sys.executable, "-m", "mlp", "train", "--help"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait() == 1
    assert stderr == ""


def test_the_dispatcher_keeps_argparse_statuses_and_names_unknown_commands(capsys):
    assert dispatch(["train", "--epochs", "0"]) == 2
    assert dispatch(["predict", "--help"]) == 0
    assert dispatch(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err
    assert dispatch([]) == 2 and dispatch(["--help"]) == 0


# --- python -m mlp predict ----------------------------------------------------------------------------


@pytest.fixture
def digit_png(tmp_path) -> Path:
    (_, _), (x_test, _) = mlp.load_mnist()
    path = tmp_path / "digit.png"
    Image.fromarray((x_test[0].reshape(28, 28) * 255).astype(np.uint8)).resize((140, 140)).save(path)
    return path


@pytest.mark.parametrize(
    ("proba", "expected"),
    [
        ([0.0, 0.0, 0.0, 0.52, 0.0, 0.40, 0.08, 0.0, 0.0, 0.0], "Not sure: 3 (52%) or 5 (40%)?"),
        ([0.0] * 7 + [0.997, 0.003, 0.0], "7 (>99% sure)"),
        ([0.85, 0.15] + [0.0] * 8, "0 (85% sure)"),
    ],
)
def test_predict_says_what_the_pad_says(proba, expected, digit_png, monkeypatch, capsys):
    from mlp.pad.view import UNSURE_BELOW, result_html

    proba = np.array(proba)
    monkeypatch.setattr(predict, "predict_file", lambda path, model: proba)
    assert predict.main([str(digit_png)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == f"{digit_png}: {expected}"
    html = result_html(proba, strokes=1)
    unsure = proba.max() < UNSURE_BELOW
    assert ('data-state="unsure"' in html) == unsure == first.endswith("?")
    if unsure:
        assert expected in html  # the very words the pad shows


def test_predict_refuses_what_the_pad_refuses_and_names_the_file(tmp_path, capsys):
    big = tmp_path / "huge.png"
    big.write_bytes(b"\x89PNG" + bytes(MAX_FILE_BYTES))
    cases = {
        big: "larger than 5 MB",
        tmp_path: "it is a directory",
        tmp_path / "absent.png": "no such file",
        Path("/dev/null"): "not an image this tool can read",
    }
    for path, message in cases.items():
        assert predict.main([str(path)]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"error: {path}") and message in err, err


def test_predict_reads_at_most_the_limit_from_an_endless_file(capsys):
    tracemalloc.start()
    try:
        assert predict.main(["/dev/zero"]) == 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "error: /dev/zero: it is larger than 5 MB" in capsys.readouterr().err
    assert peak < 2 * MAX_FILE_BYTES  # it read MAX_FILE_BYTES + 1 bytes, not until memory ran out


def test_read_limited_stops_one_byte_past_the_limit(tmp_path):
    path = tmp_path / "f.png"
    path.write_bytes(bytes(100))
    assert len(predict.read_limited(path, limit=100)) == 100
    with pytest.raises(predict.InputFileError, match="larger than"):
        predict.read_limited(path, limit=99)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"garbage", "is not a usable model file: it is not an .npz (zip) archive"),
        (None, "no model file at"),
    ],
)
def test_a_bad_model_file_is_an_error_not_a_traceback(content, message, tmp_path, digit_png, capsys):
    model = tmp_path / "model.npz"
    if content is not None:
        model.write_bytes(content)
    assert predict.main([str(digit_png), "--model", str(model)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot use the model: ") and str(model) in err and message in err


@pytest.mark.slow
def test_predict_in_a_pipe_and_with_a_bad_model_from_the_shell(digit_png, tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 broken")
    done = python("-m", "mlp", "predict", str(digit_png), "--model", str(tmp_path / "bad.npz"))
    assert done.returncode == 1 and "Traceback" not in done.stderr and "bad.npz" in done.stderr
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    shell = f"{sys.executable} -m mlp predict {digit_png} | head -1"
    piped = subprocess.run(["sh", "-c", shell], capture_output=True, text=True, env=env, check=False)
    assert piped.stdout.startswith(f"{digit_png}: 7 (") and piped.stderr == ""
