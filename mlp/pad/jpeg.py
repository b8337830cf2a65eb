"""What a JPEG file's markers say before a pixel is decoded: how many scans it has.

A JPEG is a list of segments, each starting with a marker (0xFF and a code),
most followed by their length. A scan (SOS, 0xFFDA) is followed by its
entropy-coded data, in which a 0xFF byte is always followed by 0x00 (a
stuffed byte) or a restart marker (0xD0-0xD7), so the next real marker is
found by a search. A baseline JPEG has one scan; a progressive one sends the
picture in several (about 10 from cameras and editors), and a decoder passes
over all of the picture's coefficients once per scan: a file of a few
megabytes with thousands of scans costs minutes of CPU. Counting them is
cheap, so we count them first.
"""

from __future__ import annotations

import re

SOI, EOI, SOS = 0xD8, 0xD9, 0xDA
# Markers without a length: restarts, TEM, and SOI/EOI themselves.
_STANDALONE = {0x01, *range(0xD0, 0xD8), SOI, EOI}
# In entropy-coded data, the next marker: 0xFF followed by neither a stuffed 0x00, a restart
# marker, nor another 0xFF (a fill byte before the marker itself).
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def count_scans(data: bytes, stop_after: int | None = None) -> int:
    """The number of scans (SOS segments) of the first image in the JPEG ``data``.

    Counting stops at the first EOI, at anything that is not a well-formed
    marker (the decoder will say what is wrong with the file), or once
    ``stop_after`` scans are found. Linear in the file's size, with the
    search for markers inside scans done by ``re`` in C.
    """
    if data[:2] != b"\xff" + bytes([SOI]):
        return 0
    position, scans, size = 2, 0, len(data)
    while position + 1 < size:
        if data[position] != 0xFF:
            break
        marker = data[position + 1]
        if marker == 0xFF:  # fill bytes may precede a marker
            position += 1
            continue
        if marker == EOI:
            break
        if marker in _STANDALONE:
            position += 2
            continue
        if position + 4 > size:
            break
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        if length < 2:
            break
        position += 2 + length
        if marker == SOS:
            scans += 1
            if stop_after is not None and scans >= stop_after:
                break
            found = _NEXT_MARKER.search(data, position)
            if found is None:
                break
            position = found.start()
    return scans
