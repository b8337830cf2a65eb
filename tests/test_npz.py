"""The one .npz reader: hostile files (issue 17) refused before they cost anything, with a clear error.

Each file here is a few kilobytes built to cost gigabytes, or to make a reader
fail with something other than a plain reason. Each is refused with the
loader's own ``ValueError`` subclass, and while refusing it the reader's peak
allocation stays under a megabyte (``peak_bytes_while``): nothing was inflated.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import hostile_npz
import numpy as np
import pytest
from peak_memory import peak_bytes_while

from mlp.training.examples import ExamplesFileError, load_examples
from mlp.training.model_io import ModelFileError, load_model
from mlp.training.npz import NpzReader

SMALL = 1_000_000  # bytes: the most a refusal may allocate


def declared_sizes(data: bytes) -> dict[str, int]:
    """What the zip directory says each entry inflates to."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: info.file_size for info in archive.infolist()}


def refused_examples(data: bytes, words: str) -> int:
    """Peak bytes allocated while ``load_examples`` refuses ``data`` with a message containing ``words``."""

    def load() -> None:
        with pytest.raises(ExamplesFileError) as caught:
            load_examples(data, name="upload.npz")
        assert words in str(caught.value), str(caught.value)
        assert "upload.npz is not a usable examples file" in str(caught.value)
        assert "RuntimeError" not in str(caught.value) and "NotImplementedError" not in str(caught.value)

    return peak_bytes_while(load)


def test_a_bzip2_images_entry_with_15_gb_of_trailing_zeros():
    data = hostile_npz.BZIP2_EXAMPLES.read_bytes()
    assert len(data) < 2_100 and declared_sizes(data)["images.npy"] > 1.5e9  # what makes it hostile
    assert refused_examples(data, "the entry 'images.npy' is compressed with bzip2") < SMALL


def test_a_model_file_of_a_few_kb_declaring_2_gb():
    data = hostile_npz.BZIP2_MODEL.read_bytes()
    assert len(data) < 3_500 and declared_sizes(data)["param_0.npy"] > 2e9

    def load() -> None:
        with pytest.raises(ModelFileError, match=r"'param_0\.npy' is compressed with bzip2"):
            load_model(hostile_npz.BZIP2_MODEL)

    assert peak_bytes_while(load) < SMALL


def test_a_format_entry_declaring_a_12_gb_string():
    data = hostile_npz.format_declaring_a_huge_string()
    words = "format.npy declares () of <U300000000 but holds 16 bytes"
    assert refused_examples(data, words) < SMALL


def test_a_format_entry_whose_zip_directory_declares_12_gb_too():
    data = hostile_npz.format_declaring_a_huge_string_in_the_directory()
    assert declared_sizes(data)["format.npy"] > 1.2e9
    assert refused_examples(data, "the stored entry 'format.npy' declares two different sizes") < SMALL


def test_an_entry_flagged_encrypted():
    data = hostile_npz.encrypted_entry()
    assert refused_examples(data, "the entry 'labels.npy' is encrypted") < SMALL


def test_a_polyglot_a_picture_with_an_archive_behind_it():
    data = hostile_npz.polyglot_png()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:  # zipfile finds the archive behind the picture
        assert "images.npy" in archive.namelist()
    assert refused_examples(data, "it starts with the bytes 89 50 4e 47") < SMALL


def test_a_polyglot_an_archive_with_a_page_after_it():
    data = hostile_npz.trailing_html()
    assert refused_examples(data, "bytes after its zip directory") < SMALL


def test_bytes_between_entries_are_refused():
    good = hostile_npz.npz(hostile_npz.examples_entries(), method=zipfile.ZIP_STORED)
    with zipfile.ZipFile(io.BytesIO(good)) as archive:
        second = sorted(archive.infolist(), key=lambda i: i.header_offset)[1].header_offset
    data = hostile_npz._shifted(b"", good)  # the same archive, rewritten...
    hidden = data[:second] + b"<script></script>" + data[second:]  # ...with bytes slipped in before an entry
    with pytest.raises(ExamplesFileError, match="not a usable examples file"):
        load_examples(hidden)


def test_a_deflate_entry_declaring_more_than_deflate_can_produce():
    entries = hostile_npz.examples_entries()
    data = hostile_npz.npz(entries)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        compressed = archive.getinfo("labels.npy").compress_size
    lying = hostile_npz._patch_sizes(data, "labels.npy", uncompressed=2000 * compressed)
    assert refused_examples(lying, "more than deflate can produce") < SMALL


def fail(reason: str) -> ValueError:
    return ValueError(reason)


def test_reading_never_inflates_more_than_the_entry_declares():
    """An entry whose deflate stream goes on for 50 MB after the 80 KB it declares: 80 KB are read."""
    small = hostile_npz.npy(np.arange(10_000, dtype=np.float64))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x.npy", small + bytes(50_000_000))
    data = hostile_npz._patch_sizes(buffer.getvalue(), "x.npy", uncompressed=len(small))

    def read() -> None:
        with NpzReader(data, budget=100_000, fail=fail) as npz:
            assert npz.headers["x"].shape == (10_000,)
            with pytest.raises(ValueError, match=r"x.npy is truncated or corrupt \(BadZipFile: Bad CRC-32"):
                npz.read("x")  # the declared 80 KB, whose checksum is the whole stream's

    assert peak_bytes_while(read) < SMALL


def test_a_good_file_reads_back_exactly(tmp_path: Path):
    arrays = {"a": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.array("text"), "c": np.array(7)}
    np.savez_compressed(tmp_path / "good.npz", **arrays)
    with NpzReader(tmp_path / "good.npz", budget=10_000, fail=fail) as npz:
        assert {name: (h.shape, h.dtype.str) for name, h in npz.headers.items()} == {
            "a": ((3, 4), "<f4"),
            "b": ((), "<U4"),
            "c": ((), "<i8"),
        }
        for name, array in arrays.items():
            np.testing.assert_array_equal(npz.read(name), array)
    np.savez(tmp_path / "stored.npz", **arrays)  # np.savez stores, np.savez_compressed deflates
    with NpzReader(tmp_path / "stored.npz", budget=10_000, fail=fail) as npz:
        np.testing.assert_array_equal(npz.read("a"), arrays["a"])


def test_the_budget_counts_every_entry(tmp_path: Path):
    np.savez(tmp_path / "two.npz", a=np.zeros(1000), b=np.zeros(1000))  # 2 x 8,128 bytes with headers
    with pytest.raises(ValueError, match="its arrays declare 16,256 bytes, more than the 10,000"):
        NpzReader(tmp_path / "two.npz", budget=10_000, fail=fail)


def test_the_shipped_model_and_an_examples_file_still_load(tmp_path: Path):
    import mlp
    from mlp.training.examples import save_examples

    assert load_model().n_classes == 10
    x, y = np.zeros((3, 28, 28), np.float32), np.array([1, 2, 3])
    x2, y2 = load_examples(save_examples(tmp_path / "e.npz", x, y))
    np.testing.assert_array_equal(x2, x)
    np.testing.assert_array_equal(y2, y)
    assert isinstance(mlp.load_model(), mlp.Sequential)


def test_an_archive_of_thousands_of_entries_is_refused_before_zipfile_reads_its_directory():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(1_001):
            archive.writestr(f"a{i}.npy", b"")
    with pytest.raises(ValueError, match=r"it holds 1,001 entries; an \.npz of mlp holds at most 1,000"):
        NpzReader(buffer.getvalue(), budget=10_000, fail=fail)


class Unseekable(io.RawIOBase):
    """A stream zipfile cannot seek back in: it writes each entry's sizes after its data."""

    def __init__(self) -> None:
        self.written = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.written += data
        return len(data)


def test_a_streamed_archive_is_refused_with_what_to_do():
    stream = Unseekable()
    with zipfile.ZipFile(stream, "w") as archive:
        archive.writestr("a.npy", hostile_npz.npy(np.zeros(3)))
    with pytest.raises(ValueError, match=r"written as a stream.*save the file again"):
        NpzReader(bytes(stream.written), budget=10_000, fail=fail)
