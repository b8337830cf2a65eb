"""Hostile ``.npz`` files (issue 17): a few kilobytes each, built to cost gigabytes or to confuse a reader.

The two bzip2 files take about 25 s each to compress (1.5 GB and 2 GB of zeros
go through bzip2), so they are built once and kept in ``tests/data/hostile/``;
``python tests/hostile_npz.py`` builds them again. The others are built here,
in milliseconds.
"""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import numpy as np

HOSTILE = Path(__file__).parent / "data" / "hostile"
BZIP2_EXAMPLES = HOSTILE / "bzip2-trailing-zeros-examples.npz"
BZIP2_MODEL = HOSTILE / "bzip2-trailing-zeros-model.npz"
ZEROS_EXAMPLES = 1_500_000_000  # bytes of zeros after the images
ZEROS_MODEL = 2_000_000_000  # after the first weight matrix


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asanyarray(array), allow_pickle=False)
    return buffer.getvalue()


def npz(entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip of ``name.npy`` entries holding the given bytes, as ``np.savez_compressed`` lays it out."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, data in entries.items():
            archive.writestr(f"{name}.npy", data)
    return buffer.getvalue()


def examples_entries(n: int = 4) -> dict[str, bytes]:
    images = np.zeros((n, 28, 28), dtype=np.float32)
    images[:, 8:20, 13:15] = 1.0  # a stroke: a one, as a drawing is mostly background
    return {
        "format": npy(np.array("mlp-examples")),
        "format_version": npy(np.array(1, dtype=np.int64)),
        "images": npy(images),
        "labels": npy(np.arange(n, dtype=np.int64) % 10),
    }


def huge_string_header(chars: int) -> bytes:
    """A ``.npy`` header for one string of ``chars`` characters (4 bytes each), without the string."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": f"<U{chars}", "fortran_order": False, "shape": ()})
    return header.getvalue()


def format_declaring_a_huge_string(chars: int = 300_000_000) -> bytes:
    """An examples file whose ``format`` entry's header declares a 1.2 GB string (it holds 16 bytes)."""
    return npz({**examples_entries(), "format": huge_string_header(chars) + bytes(16)})


def format_declaring_a_huge_string_in_the_directory(chars: int = 300_000_000) -> bytes:
    """The same claim made by both the header and the zip directory (the entry is stored, then patched)."""
    header = huge_string_header(chars)
    data = npz({**examples_entries(), "format": header + bytes(16)}, method=zipfile.ZIP_STORED)
    return _patch_sizes(data, "format.npy", uncompressed=len(header) + 4 * chars)


def encrypted_entry() -> bytes:
    """An examples file whose ``labels`` entry is flagged encrypted (bit 0), in both of its headers."""
    data = bytearray(npz(examples_entries()))
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            name_at = 30 if signature == b"PK\x03\x04" else 46
            if data[start + name_at : start + name_at + 10] == b"labels.npy":
                data[start + flag_at] |= 0x1
            start += 4
    return bytes(data)


def polyglot_png() -> bytes:
    """A PNG image with a valid examples file after it: zipfile finds the archive from its end."""
    from PIL import Image

    picture = io.BytesIO()
    Image.new("L", (8, 8), 255).save(picture, format="PNG")
    return _shifted(picture.getvalue(), npz(examples_entries()))


def trailing_html() -> bytes:
    """A valid examples file with an HTML page after its zip directory, read as the zip's comment."""
    data = bytearray(npz(examples_entries()))
    page = b"<html><script>alert(1)</script></html>"
    data[-2:] = struct.pack("<H", len(page))  # the end record's comment length
    return bytes(data) + page


def bzip2_with_trailing_zeros(entries: dict[str, bytes], name: str, zeros: int) -> bytes:
    """``entries`` zipped, ``name`` compressed with bzip2 and followed by ``zeros`` zero bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, data in entries.items():
            if key != name:
                archive.writestr(f"{key}.npy", data)
        info = zipfile.ZipInfo(f"{name}.npy")
        info.compress_type = zipfile.ZIP_BZIP2
        with archive.open(info, "w") as entry:
            entry.write(entries[name])
            chunk = bytes(1 << 24)
            for start in range(0, zeros, len(chunk)):
                entry.write(chunk[: min(len(chunk), zeros - start)])
    return buffer.getvalue()


def model_entries() -> dict[str, bytes]:
    """A valid model file's entries, read back from a file ``save_model`` wrote: a network of zeros."""
    import tempfile

    import mlp

    model = mlp.MLP([784, 16, 10], seed=0)
    for p in model.parameters():
        p.value[...] = 0  # compresses to nothing: the file is mostly its directory
    with tempfile.TemporaryDirectory() as folder:
        path = mlp.save_model(model, Path(folder) / "m.npz")
        with zipfile.ZipFile(path) as archive:
            return {info.filename.removesuffix(".npy"): archive.read(info) for info in archive.infolist()}


def _shifted(prefix: bytes, archive: bytes) -> bytes:
    """``prefix + archive`` with the archive's offsets moved, as a polyglot's maker would move them."""
    buffer = io.BytesIO(prefix)
    buffer.seek(len(prefix))
    with zipfile.ZipFile(io.BytesIO(archive)) as source, zipfile.ZipFile(buffer, "a") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
    return buffer.getvalue()


def _patch_sizes(data: bytes, filename: str, *, uncompressed: int) -> bytes:
    """Change the uncompressed size an entry declares, in its local header and in the directory."""
    data = bytearray(data)
    name = filename.encode()
    for signature, size_at, name_at in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            if data[start + name_at : start + name_at + len(name)] == name:
                data[start + size_at : start + size_at + 4] = struct.pack("<I", uncompressed)
            start += 4
    return bytes(data)


def main() -> None:
    HOSTILE.mkdir(parents=True, exist_ok=True)
    BZIP2_EXAMPLES.write_bytes(bzip2_with_trailing_zeros(examples_entries(), "images", ZEROS_EXAMPLES))
    BZIP2_MODEL.write_bytes(bzip2_with_trailing_zeros(model_entries(), "param_0", ZEROS_MODEL))
    for path in (BZIP2_EXAMPLES, BZIP2_MODEL):
        print(f"{path}: {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
