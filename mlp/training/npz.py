"""The one way ``mlp`` reads an ``.npz`` file: a stranger's bytes, checked before they cost anything.

An ``.npz`` is a zip archive of ``.npy`` arrays. ``np.load`` trusts it: a
file of a few kilobytes can declare, or inflate to, gigabytes (a bzip2 entry
is inflated whole, with no limit, by CPython's ``zipfile``), and odd archives
fail with a ``RuntimeError`` or a ``NotImplementedError``. ``NpzReader``
reads model files and examples files alike, in this order:

1. the file starts as a zip archive written from its first byte (not a
   picture or a page with an archive hidden behind it: a *polyglot*), its
   entries follow one another, its directory ends the file, and it holds
   at most ``MAX_ENTRIES`` entries;
2. every entry is an ``.npy`` name met once, stored or deflated (never bzip2,
   lzma or anything else), not encrypted, with a declared uncompressed size
   deflate could really produce from its compressed size, and all of them
   within the caller's ``budget`` of bytes: all of this is read from the
   zip's directory, before a single byte is inflated;
3. every ``.npy`` header (a few hundred bytes inflated) is version 1 or 2,
   holds no Python objects (that would need pickle) and declares exactly
   the bytes the entry declares;
4. ``read(name)`` then inflates that entry, never more than it declared,
   with ``allow_pickle=False``.

Every refusal is a ``ValueError`` of the caller's kind (``fail``), whose
message says what is wrong.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

Fail = Callable[[str], ValueError]  # the caller's error for this file, given the reason

LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")  # a zip entry's local header: 30 bytes
LOCAL_SIGNATURE = b"PK\x03\x04"
END_RECORD_BYTES = 22  # the end of central directory record, without a comment
ENCRYPTED = 0x1  # general purpose flag bit 0
STREAMED = 0x8  # bit 3: the sizes follow the data (a "data descriptor"); np.savez to a file never sets it
MAX_ENTRIES = 1_000  # an mlp file holds a handful of arrays (a model: 5 + 2 per Dense layer)
METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
OTHER_METHODS = {zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "lzma"}
# Deflate cannot expand its input more than about 1032 times (258 bytes from a 2-bit code), so a
# declared size beyond that is a lie, whatever the budget.
DEFLATE_MAX_RATIO = 1032
HEADER_BYTES = 10_000  # numpy's own limit on a .npy header
READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
# What zipfile, zlib and numpy raise on a damaged archive or array.
DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError)


@dataclass(frozen=True)
class ArrayHeader:
    """What an entry's ``.npy`` header declares: ``shape``, ``dtype`` and memory order."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool


class NpzReader:
    """An ``.npz`` archive whose layout and declared sizes are checked (see the module's docstring).

    Inputs:
    - ``source``: a path, or the bytes of the file;
    - ``budget``: the most bytes all its arrays may take once inflated;
    - ``fail``: builds the caller's error (a ``ValueError``) from a reason.
    After construction, ``headers`` maps each entry's name (without ``.npy``)
    to its ``ArrayHeader``; ``read(name)`` returns that array. Use it as a
    context manager, or call ``close()``.
    """

    def __init__(self, source: str | os.PathLike[str] | bytes, *, budget: int, fail: Fail) -> None:
        self._fail = fail
        try:
            self._file: BinaryIO = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")  # noqa: SIM115
        except OSError as e:
            raise fail(f"cannot read it ({e.strerror or e})") from e
        try:
            self._archive = self._open_checked(budget)
            self.headers = {name: self._header(info) for name, info in self._entries.items()}
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> NpzReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        archive = getattr(self, "_archive", None)
        if archive is not None:
            archive.close()
        self._file.close()

    def read(self, name: str) -> np.ndarray:
        """The array ``name``, as its header declared it; never inflates more than the entry declared."""
        info = self._entries[name]
        try:
            with self._archive.open(info) as member:  # zipfile stops at the size the entry declares
                array = np.lib.format.read_array(member, allow_pickle=False, max_header_size=HEADER_BYTES)
        except DAMAGED as e:  # a short stream, a bad CRC, a broken deflate stream
            raise self._fail(f"{info.filename} is truncated or corrupt ({type(e).__name__}: {e})") from e
        return array

    # --- the checks, in the order the module's docstring gives them ----------------------------------

    def _open_checked(self, budget: int) -> zipfile.ZipFile:
        fail, f = self._fail, self._file
        head = f.read(8)
        if head.startswith(b"\x93NUMPY"):
            raise fail("it is a single .npy array (np.save), not an .npz archive")
        if not head.startswith(LOCAL_SIGNATURE):
            raise fail(
                f"it is not an .npz (zip) archive: it starts with the bytes {head.hex(' ') or 'nothing'}"
            )
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - END_RECORD_BYTES))
        end_record = f.read()
        if not end_record.startswith(b"PK\x05\x06") or len(end_record) != END_RECORD_BYTES:
            raise fail(
                "it is truncated or corrupt, or has bytes after its zip directory (a zip archive mixed "
                "with another file): it does not end with the end of a zip directory"
            )
        entries = struct.unpack_from("<H", end_record, 10)[0]  # the directory's count of entries
        if entries > MAX_ENTRIES:  # counted before zipfile builds an object for each
            raise fail(f"it holds {entries:,} entries; an .npz of mlp holds at most {MAX_ENTRIES:,}")
        try:
            archive = zipfile.ZipFile(f)
        except DAMAGED as e:
            raise fail(
                f"it is truncated or corrupt: not a readable zip archive ({type(e).__name__}: {e})"
            ) from e
        try:
            self._entries = self._checked_entries(archive, budget)
        except BaseException:
            archive.close()
            raise
        return archive

    def _checked_entries(self, archive: zipfile.ZipFile, budget: int) -> dict[str, zipfile.ZipInfo]:
        fail = self._fail
        infos = archive.infolist()
        entries: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            if info.flag_bits & ENCRYPTED:
                raise fail(f"the entry {info.filename!r} is encrypted; .npz entries never are")
            if info.flag_bits & STREAMED:
                raise fail(
                    f"the entry {info.filename!r} was written as a stream, its sizes after its data; "
                    "save the file again with np.savez to a file (or with mlp)"
                )
            if info.compress_type not in METHODS:
                method = OTHER_METHODS.get(info.compress_type, f"method {info.compress_type}")
                raise fail(
                    f"the entry {info.filename!r} is compressed with {method}; "
                    ".npz entries are stored or deflate"
                )
            name = info.filename.removesuffix(".npy")
            if not info.filename.endswith(".npy") or "/" in name or not name:
                raise fail(f"the entry {info.filename!r} is not an .npy array")
            if name in entries:
                raise fail(f"the entry {info.filename!r} appears twice")
            if info.compress_type == zipfile.ZIP_DEFLATED and info.file_size > DEFLATE_MAX_RATIO * max(
                info.compress_size, 1
            ):
                raise fail(
                    f"the entry {info.filename!r} declares {info.file_size:,} bytes from "
                    f"{info.compress_size:,} compressed, more than deflate can produce"
                )
            if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
                raise fail(f"the stored entry {info.filename!r} declares two different sizes")
            entries[name] = info
        declared = sum(info.file_size for info in infos)
        if declared > budget:
            raise fail(f"its arrays declare {declared:,} bytes, more than the {budget:,} this file may hold")
        self._check_layout(archive, infos)
        return entries

    def _check_layout(self, archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> None:
        """Entries from byte 0, one after another, then the directory, which ends the file: no polyglot."""
        fail, f = self._fail, self._file
        position = 0
        for info in sorted(infos, key=lambda i: i.header_offset):
            if info.header_offset != position:
                raise fail(
                    f"it holds {abs(info.header_offset - position):,} bytes that belong to no entry, at byte "
                    f"{min(position, info.header_offset):,}: a zip archive mixed with another file"
                )
            f.seek(info.header_offset)
            local = f.read(LOCAL_HEADER.size)
            if len(local) < LOCAL_HEADER.size or LOCAL_HEADER.unpack(local)[0] != LOCAL_SIGNATURE:
                raise fail(f"the entry {info.filename!r} has no local header where the directory says")
            *_, name_length, extra_length = LOCAL_HEADER.unpack(local)
            position = (
                info.header_offset + LOCAL_HEADER.size + name_length + extra_length + info.compress_size
            )
        if archive.start_dir != position:
            raise fail("its zip directory does not follow its entries: a zip archive mixed with another file")

    def _header(self, info: zipfile.ZipInfo) -> ArrayHeader:
        """One entry's ``.npy`` header (a few hundred bytes inflated), checked against its declared size."""
        fail = self._fail
        try:
            with self._archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                read_header = READERS.get(version)
                if read_header is not None:
                    shape, fortran_order, dtype = read_header(member, max_header_size=HEADER_BYTES)
                    header_bytes = member.tell()
        except DAMAGED as e:
            raise fail(f"{info.filename} has no readable .npy header ({type(e).__name__}: {e})") from e
        if read_header is None:
            raise fail(f"{info.filename} is a .npy of version {version}, not 1.0 or 2.0")
        if dtype.hasobject:
            raise fail(f"{info.filename} holds Python objects, which would need pickle: refused")
        data_bytes = info.file_size - header_bytes
        if int(np.prod(shape, dtype=object)) * dtype.itemsize != data_bytes:
            raise fail(f"{info.filename} declares {shape} of {dtype} but holds {data_bytes:,} bytes")
        return ArrayHeader(tuple(shape), dtype, bool(fortran_order))
