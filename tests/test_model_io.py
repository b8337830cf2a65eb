"""Model files: exact round trips, and a clear error for every way a file can be wrong."""

import io
import json
import os
import zipfile

import numpy as np
import pytest
from peak_memory import peak_bytes_while

import mlp
from mlp.training.model_io import ModelFileError, architecture, save_model


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
    _savez(out, arrays)
    return out


def _savez(out, arrays):
    """Like np.savez, but any array may be written, objects included (to test that they are refused)."""
    with zipfile.ZipFile(out, "w") as archive:
        for key, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asanyarray(array), allow_pickle=True)
            archive.writestr(f"{key}.npy", buffer.getvalue())


def test_round_trip_gives_identical_predictions(model, saved):
    loaded = mlp.load_model(saved)
    x = np.random.default_rng(0).random((50, 784), dtype=np.float32)
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))
    assert architecture(loaded) == architecture(model)
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


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"\x89PNG\r\n\x1a\n" + bytes(100),
            r"not an \.npz \(zip\) archive: it starts with the bytes 89 50 4e 47",
        ),
        (b"", "starts with the bytes nothing"),
        (b"PK\x03\x04 not really a zip", "truncated or corrupt"),
    ],
    ids=["png", "empty", "zip-magic-only"],
)
def test_not_a_model_at_all(tmp_path, content, message):
    path = tmp_path / "image.npz"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message):
        mlp.load_model(path)


def test_a_npy_renamed_npz(tmp_path):
    path = tmp_path / "weights.npz"
    with open(path, "wb") as f:
        np.save(f, np.zeros((3, 3), np.float32))
    with pytest.raises(ModelFileError, match=r"single \.npy array \(np\.save\), not an \.npz") as info:
        mlp.load_model(path)
    assert "allow_pickle" not in str(info.value)


def test_a_npy_of_objects_renamed_npz(tmp_path):
    path = tmp_path / "pickled.npz"
    with open(path, "wb") as f:
        np.save(f, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ModelFileError, match=r"single \.npy array") as info:
        mlp.load_model(path)
    assert "allow_pickle" not in str(info.value) and "trust" not in str(info.value)


def test_an_unreadable_file(saved, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("builtins.open", refuse)
    with pytest.raises(ModelFileError, match=r"cannot read it \(Permission denied\)") as info:
        mlp.load_model(saved)
    assert str(saved) in str(info.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_file_for_real(saved):
    saved.chmod(0)
    with pytest.raises(ModelFileError, match="cannot read it"):
        mlp.load_model(saved)


def test_a_directory_is_not_a_model(tmp_path):
    (tmp_path / "model.npz").mkdir()
    with pytest.raises(FileNotFoundError, match="no model file"):
        mlp.load_model(tmp_path / "model.npz")


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
        ({"format": np.array("something-else")}, "its format is 'something-else', not 'mlp-npz'"),
        ({"format_version": np.array(2)}, "format version 2; this mlp reads version 1"),
        ({"format_version": np.array("one")}, "format version one"),
        ({"metadata": None}, "'metadata' is missing"),
        ({"metadata": np.array("{not json")}, "its metadata is not valid JSON"),
        ({"metadata": np.array("[1, 2]")}, "its metadata should be a JSON object"),
        ({"architecture": np.array("[{not json")}, "its architecture is not valid JSON"),
        ({"architecture": np.array(json.dumps([{"type": "Conv2D"}]))}, "layer 0 is .*known types are"),
        ({"architecture": np.array(json.dumps([{"type": "Dense", "n_in": 10**9, "n_out": 2}]))}, "1..65536"),
        (
            {"architecture": np.array(json.dumps([{"type": "Dense", "n_in": 3, "n_out": 2, "evil": 1}]))},
            "unknown options \\['evil'\\]",
        ),
        ({"architecture": np.array(json.dumps({"layers": []}))}, "architecture should be a JSON list"),
        ({"extra": np.zeros(3)}, "unexpected entry 'extra.npy'"),
        ({"metadata": np.zeros((2, 2))}, "'metadata' should be one short string"),
        ({"param_0": np.array([None, 1], dtype=object)}, "holds Python objects, which would need pickle"),
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


def npy_header_only(shape, dtype="<f4", data=b"") -> bytes:
    """A .npy member whose header declares ``shape`` but which holds only ``data``."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue() + data


def small_file_declaring(path, architecture, params):
    """A model file with the given architecture and raw param members (name -> bytes)."""
    arrays = {
        "format": np.array("mlp-npz"),
        "format_version": np.array(1),
        "architecture": np.array(json.dumps(architecture)),
        "metadata": np.array("{}"),
        "weights_sha256": np.array("0" * 64),
    }
    _savez(path, arrays)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, member in params.items():
            archive.writestr(f"{name}.npy", member)
    return path


HUGE = [{"type": "Dense", "n_in": 16384, "n_out": 16384, "init": "he"}]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "declares 268,451,840 parameters, more than the limit of 20,000,000"),
        (
            {"param_0": npy_header_only((16384, 16384)), "param_1": npy_header_only((16384,))},
            r"param_0\.npy declares \(16384, 16384\) of float32 but holds 0 bytes",
        ),
    ],
    ids=["declared-in-the-architecture", "and-in-the-array-headers"],
)
def test_a_tiny_file_declaring_a_huge_layer_fails_fast_and_small(tmp_path, params, message):
    """Dense(16384, 16384) would be 268 million weights (1 GB): refused before anything is allocated."""
    path = small_file_declaring(tmp_path / "huge.npz", HUGE, params)
    assert path.stat().st_size < 5_000

    def load():
        with pytest.raises(ModelFileError, match=message):
            mlp.load_model(path)

    assert peak_bytes_while(load) < 1_000_000


def test_stored_arrays_are_checked_against_the_architecture_before_they_are_read(tmp_path):
    """Within the budget (16.8 M weights) but the stored arrays are tiny: refused from their headers."""
    architecture = [{"type": "Dense", "n_in": 4096, "n_out": 4096, "init": "he"}]
    small = small_file_declaring(
        tmp_path / "small.npz",
        architecture,
        {
            "param_0": npy_header_only((4, 4), data=bytes(64)),
            "param_1": npy_header_only((4,), data=bytes(16)),
        },
    )
    lying = small_file_declaring(
        tmp_path / "lying.npz",
        architecture,
        {"param_0": npy_header_only((4096, 4096), data=bytes(64)), "param_1": npy_header_only((4096,))},
    )

    def load(path, message):
        def call():
            with pytest.raises(ModelFileError, match=message):
                mlp.load_model(path)

        return call

    assert (
        peak_bytes_while(load(small, r"param_0 has shape \(4, 4\), the architecture needs \(4096, 4096\)"))
        < 1_000_000
    )
    assert (
        peak_bytes_while(load(lying, r"param_0.npy declares \(4096, 4096\) of float32 but holds 64 bytes"))
        < 1_000_000
    )


def test_layers_that_do_not_chain_or_bad_options_are_named(saved, model):
    layers = architecture(model)
    layers[2]["p"] = 2.0  # the Dropout after the first hidden layer
    with pytest.raises(ModelFileError, match=r"architecture is invalid \(dropout probability p must be in"):
        mlp.load_model(rewrite(saved, architecture=np.array(json.dumps(layers))))


def test_layers_whose_sizes_do_not_chain_are_named(tmp_path):
    from mlp.training.model_io import weights_digest

    weights = [
        np.zeros((4, 3), np.float32),
        np.zeros(3, np.float32),
        np.zeros((5, 2), np.float32),
        np.zeros(2, np.float32),
    ]
    architecture = [
        {"type": "Dense", "n_in": 4, "n_out": 3},
        {"type": "ReLU"},
        {"type": "Dense", "n_in": 5, "n_out": 2},
    ]
    arrays = {
        "format": np.array("mlp-npz"),
        "format_version": np.array(1),
        "architecture": np.array(json.dumps(architecture)),
        "metadata": np.array("{}"),
        "weights_sha256": np.array(weights_digest(weights)),
        **{f"param_{i}": w for i, w in enumerate(weights)},
    }
    _savez(tmp_path / "unchained.npz", arrays)
    with pytest.raises(ModelFileError, match=r"architecture is invalid .*do not chain"):
        mlp.load_model(tmp_path / "unchained.npz")


def test_saving_refuses_non_finite_weights(model, tmp_path):
    model.parameters()[2].value[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"layers\[3\]\.weight holds NaN or infinite values"):
        save_model(model, tmp_path / "broken.npz")
    assert not (tmp_path / "broken.npz").exists()


def test_the_model_to_load_can_be_named_by_the_environment(saved, monkeypatch):
    monkeypatch.setenv("MLP_MODEL", str(saved))
    assert mlp.load_model().metadata["note"] == "test"
    monkeypatch.setenv("MLP_MODEL", str(saved.with_name("absent.npz")))
    with pytest.raises(FileNotFoundError, match=r"absent\.npz"):
        mlp.load_model()


def test_no_shipped_model_anywhere_says_what_to_do(monkeypatch):
    from mlp.training import model_io

    monkeypatch.delenv("MLP_MODEL", raising=False)
    monkeypatch.setattr(model_io, "shipped_data_dirs", lambda: [])
    with pytest.raises(FileNotFoundError, match=r"no shipped model found.*\$MLP_MODEL.*python -m mlp train"):
        mlp.load_model()


@pytest.mark.parametrize("depth", [40, 5_000])
def test_deeply_nested_metadata_is_a_model_file_error(saved, depth):
    """5,000 levels of [ ] are 10 KB of text, far under the limit; json's parser recurses once per level."""
    nested = "[" * depth + "]" * depth
    text = '{"note": ' + nested + "}"
    assert len(text) < 1_000_000
    with pytest.raises(ModelFileError, match="nests lists or objects deeper than 32 levels"):
        mlp.load_model(rewrite(saved, metadata=np.array(text)))


def test_saving_leaves_the_models_metadata_as_it_was(model, tmp_path):
    model.metadata = {"note": "mine", "nested": {"a": [1, 2]}}
    before = json.dumps(model.metadata, sort_keys=True)
    save_model(model, tmp_path / "m.npz", extra="only in the file")
    assert json.dumps(model.metadata, sort_keys=True) == before
    loaded = mlp.load_model(tmp_path / "m.npz").metadata
    assert loaded["extra"] == "only in the file" and loaded["mlp_version"] == mlp.__version__
    assert loaded["nested"] == {"a": [1, 2]}


def test_a_layer_model_files_cannot_hold_is_refused_before_writing(tmp_path):
    from test_gradients import ELU

    model = mlp.Sequential([mlp.Dense(4, 3), ELU(alpha=0.5), mlp.Dense(3, 2)])
    with pytest.raises(ValueError, match="a model file cannot hold a ELU layer"):
        save_model(model, tmp_path / "elu.npz")
    assert not (tmp_path / "elu.npz").exists()
