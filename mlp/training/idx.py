"""The IDX format of the MNIST files: a header that declares the array, then its raw bytes.

An IDX file starts with two zero bytes, a type code (0x08 = uint8, ...), the
number of dimensions and each dimension as a big-endian uint32; the payload
follows. Because the header says exactly how many bytes come after it, we can
refuse a file before decompressing it: a gzip stream can expand a
thousandfold, and a 1 MB "bomb" must not cost a gigabyte of memory to be
found out.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from typing import BinaryIO

import numpy as np

# read_idx's default limit on a file's decompressed size: five times MNIST's largest file.
MAX_IDX_BYTES = 256 * 2**20
# IDX type code -> big-endian NumPy dtype.
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_INT64_MAX = 2**63 - 1

Source = str | os.PathLike[str]


class DataFileError(ValueError):
    """A data file exists but its content is wrong (corrupt, truncated, not IDX, too large)."""


def idx_header(data: bytes, source: Source) -> tuple[tuple[int, ...], np.dtype, int, int]:
    """``(shape, dtype, header bytes, total bytes)`` from the start of an IDX file.

    ``data`` must hold at least the header (4 bytes, then 4 per dimension).
    """
    if len(data) < 4 or data[:2] != b"\0\0":
        raise DataFileError(f"{source}: not an IDX file (magic {data[:4].hex() or 'empty'})")
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        raise DataFileError(f"{source}: unknown IDX type code 0x{code:02X}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataFileError(f"{source}: header truncated ({len(data)} bytes, needs {header})")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(IDX_DTYPES[code])
    payload = math.prod(shape) * dtype.itemsize  # Python ints: exact, however large the dimensions
    if payload > _INT64_MAX:
        raise DataFileError(f"{source}: the dimensions {shape} overflow: no array can have that many bytes")
    return shape, dtype, header, header + payload


def read_idx_bytes(path: Source, max_bytes: int | None = MAX_IDX_BYTES) -> bytes:
    """The decompressed bytes of an IDX file (gzip or raw), never decompressing more than declared.

    The header is read first. A file whose header declares more than
    ``max_bytes`` in all is refused before any payload is read; otherwise
    exactly the declared bytes are read, and one more to check that nothing
    follows. Compression is detected from the content, not the file name.
    """
    limit = _INT64_MAX if max_bytes is None else max_bytes
    with open(path, "rb") as raw:  # a missing or unreadable file raises OSError as it is
        gzipped = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        stream: BinaryIO = gzip.GzipFile(fileobj=raw) if gzipped else raw  # type: ignore[assignment]
        try:
            data = stream.read(4)
            if len(data) == 4 and data[:2] == b"\0\0":
                data += stream.read(4 * data[3])
            shape, dtype, _, total = idx_header(data, path)
            if total > limit:
                raise DataFileError(
                    f"{path}: its header declares {shape} of {dtype.name}, {total:,} bytes, more than "
                    f"the limit of {limit:,} bytes"
                )
            data += stream.read(total - len(data))
            extra = stream.read(1)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataFileError(
                f"{path}: {'broken gzip stream' if gzipped else 'unreadable'} ({exc})"
            ) from exc
    if len(data) != total or extra:
        what, has = ("truncated", f"{len(data):,}") if len(data) < total else ("too long", "more")
        raise DataFileError(
            f"{path}: payload {what}: shape {shape} of {dtype.name} needs {total:,} bytes in all, "
            f"the file has {has}"
        )
    return data


def parse_idx(data: bytes, source: Source) -> np.ndarray:
    """The array in the complete bytes of an IDX file: a read-only, big-endian view."""
    shape, dtype, header, total = idx_header(data, source)
    if len(data) != total:
        raise DataFileError(f"{source}: {len(data):,} bytes where the header declares {total:,}")
    return np.frombuffer(data, dtype, offset=header).reshape(shape)


def read_idx(path: Source, *, max_bytes: int | None = MAX_IDX_BYTES) -> np.ndarray:
    """Read any IDX file, gzip-compressed or raw, into a native-endian writable array.

    Compression is detected from the content (magic bytes), not the file name,
    so a file that a browser or mirror silently decompressed still loads. A
    file whose header declares more than ``max_bytes`` (256 MiB by default;
    ``None`` for no limit) is refused before anything is decompressed.
    Raises DataFileError naming the file if the header or length is wrong.
    """
    arr = parse_idx(read_idx_bytes(path, max_bytes), path)
    return arr.astype(arr.dtype.newbyteorder("="))  # always a fresh, writable copy
