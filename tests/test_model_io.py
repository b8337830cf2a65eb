"""Model files: exact round trips, and a clear error for every way a file can be wrong."""

import json
import zipfile

import numpy as np
import pytest

import mlp
from mlp.training.model_io import ModelFileError, save_model


@pytest.fixture
def model():
    return mlp.MLP([784, 16, 12, 10], dropout=0.1, seed=1)


@pytest.fixture
def saved(model, tmp_path):
    return save_model(model, tmp_path / "model.npz", note="test")


def rewrite(path, **changes):
    """Write a copy of the model file with some entries replaced (None removes one)."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    for key, value in changes.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    out = path.with_name("changed.npz")
    np.savez(out, **arrays)
    return out


def test_round_trip_gives_identical_predictions(model, saved):
    loaded = mlp.load_model(saved)
    x = np.random.default_rng(0).random((50, 784), dtype=np.float32)
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))
    assert loaded.architecture() == model.architecture()
    assert loaded.metadata["note"] == "test" and loaded.metadata["mlp_version"] == mlp.__version__


def test_float64_models_round_trip(model, tmp_path):
    path = save_model(model.astype(np.float64), tmp_path / "m64.npz")
    assert mlp.load_model(path).dtype == np.float64


def test_the_file_holds_no_pickled_objects(saved):
    with np.load(saved, allow_pickle=False) as npz:
        assert all(npz[k].dtype != object for k in npz.files)


def test_saving_needs_the_npz_suffix(model, tmp_path):
    with pytest.raises(ValueError, match=r"\.npz"):
        save_model(model, tmp_path / "model.pkl")


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file"):
        mlp.load_model(tmp_path / "absent.npz")


def test_truncated_file(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated or corrupt"):
        mlp.load_model(saved)


def test_not_a_model_at_all(tmp_path):
    path = tmp_path / "image.npz"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(ModelFileError, match=r"cannot read it as \.npz"):
        mlp.load_model(path)


def test_flipped_byte_inside_the_weights(saved):
    """zip's CRC or our SHA-256 catches corruption of the stored weights."""
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as z:
        info = z.getinfo("param_0.npy")
    data[info.header_offset + 30 + len(info.filename) + 200] ^= 0xFF
    saved.write_bytes(bytes(data))
    with pytest.raises(ModelFileError):
        mlp.load_model(saved)


def test_tampered_weights_fail_the_checksum(saved):
    with np.load(saved, allow_pickle=False) as npz:
        w = npz["param_0"].copy()
    w[0, 0] += 1
    with pytest.raises(ModelFileError, match="SHA-256"):
        mlp.load_model(rewrite(saved, param_0=w))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"param_2": np.zeros((16, 11), np.float32)}, r"shape \(16, 11\)"),
        ({"param_2": None}, "needs 6 weight arrays"),
        ({"param_1": np.zeros(16, np.int32)}, "float32 or all float64"),
        ({"param_1": np.full(16, np.nan, np.float32)}, "NaN or infinite"),
        ({"format": np.array("something-else")}, "format"),
        ({"metadata": None}, "'metadata' is missing"),
        ({"architecture": np.array("[{not json")}, "architecture is invalid"),
        ({"architecture": np.array(json.dumps([{"type": "Conv2D"}]))}, "unknown layer"),
        ({"architecture": np.array(json.dumps([{"type": "Dense", "n_in": 10**9, "n_out": 2}]))}, "1..65536"),
    ],
)
def test_invalid_contents_are_named(saved, change, message):
    with pytest.raises(ModelFileError, match=message):
        mlp.load_model(rewrite(saved, **change))


def test_a_failed_save_keeps_the_previous_file(model, saved, monkeypatch):
    before = saved.read_bytes()

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", explode)
    with pytest.raises(OSError, match="disk full"):
        save_model(model, saved)
    assert saved.read_bytes() == before
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]
