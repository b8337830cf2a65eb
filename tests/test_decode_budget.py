"""Uploads that cost far more to decode than their size: refused from their headers, before decoding.

Each hostile file is built here, small on disk: a JPEG made by Pillow whose
header is patched to claim millions of pixels, or whose last scan is repeated
thousands of times, and a PNG of one row of 23 million pixels. A refusal must
come before Pillow decodes anything (``ImageFile.load`` is never called, so no
pixel buffer and no libjpeg coefficient array is allocated), and Python
allocates almost nothing meanwhile (``tracemalloc``). Pillow's and libjpeg's
own allocations are invisible to ``tracemalloc``, so one test measures the
process's resident memory in a fresh Python (``peak_rss_growth``), where the
same files cost 70-125 MB before this budget.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from peak_memory import peak_bytes_while, peak_rss_growth
from PIL import Image, ImageFile

from mlp.pad import jpeg
from mlp.pad.preprocess import MAX_DECODED_BYTES, MAX_JPEG_SCANS, MAX_SIDE, ImageFileError, read_image

# Just under the 40-megapixel limit, as in the issue: 7300 × 5470 = 39.9 MP.
WIDTH, HEIGHT = 7300, 5470


def jpeg_file(size: tuple[int, int] = (64, 64), mode: str = "RGB", **options) -> bytes:
    """A real JPEG made by Pillow: a dark square on light paper."""
    image = Image.new(mode, size, 230 if mode == "L" else (230, 225, 210))
    image.paste(20 if mode == "L" else (20, 20, 60), (size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", **options)
    return buffer.getvalue()


def claiming_size(data: bytes, width: int, height: int) -> bytes:
    """``data`` (a JPEG) with its frame header (SOF0-SOF2) patched to claim ``width`` × ``height`` pixels."""
    position = 2
    while True:
        marker, length = data[position + 1], struct.unpack(">H", data[position + 2 : position + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):  # FF Cn, length, precision, height, width
            return data[: position + 5] + struct.pack(">HH", height, width) + data[position + 9 :]
        position += 2 + length


def with_scans(data: bytes, scans: int) -> bytes:
    """``data`` (a JPEG) with its last scan repeated until it has ``scans`` scans."""
    last = data.rindex(b"\xff\xda")
    extra = scans - jpeg.count_scans(data)
    return data[:-2] + data[last:-2] * extra + data[-2:]  # before EOI (FF D9)


def png_file(width: int, height: int, colour_type: int = 0) -> bytes:
    """A valid PNG of white pixels (grey, or RGBA with colour type 6), compressed row by row."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    channels = {0: 1, 6: 4}[colour_type]
    compressor, body = zlib.compressobj(9), []
    row = b"\x00" + b"\xff" * (width * channels)  # filter type 0, then the row's bytes
    for _ in range(height):
        body.append(compressor.compress(row))
    body.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(body)) + chunk(b"IEND", b"")
    )


@pytest.fixture
def no_decoding(monkeypatch):
    """Fail the test if Pillow starts decoding pixels: a refusal must come from the header alone."""

    def load(self):
        raise AssertionError(f"decoded a {self.size} {self.format} image that should have been refused")

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)


def progressive_40mp() -> bytes:
    return claiming_size(jpeg_file(progressive=True), WIDTH, HEIGHT)


def many_scans() -> bytes:
    return with_scans(claiming_size(jpeg_file((256, 256), progressive=True), WIDTH, HEIGHT), 2000)


def one_long_row() -> bytes:
    return png_file(23_000_000, 1)


# --- counting scans from the markers ------------------------------------------------------------


def test_scans_are_counted_from_the_markers():
    assert jpeg.count_scans(jpeg_file()) == 1  # baseline: one interleaved scan
    grey, colour = jpeg_file(mode="L", progressive=True), jpeg_file(progressive=True)
    # libjpeg's standard progression (jpeg_simple_progression): 6 scans in grey, 10 in colour.
    assert (jpeg.count_scans(grey), jpeg.count_scans(colour)) == (6, 10)
    assert jpeg.count_scans(with_scans(colour, 2000)) == 2000
    assert jpeg.count_scans(with_scans(colour, 2000), stop_after=65) == 65
    assert jpeg.count_scans(b"\x89PNG\r\n") == 0 and jpeg.count_scans(b"") == 0
    assert (
        jpeg.count_scans(colour[: len(colour) // 2]) <= 10
    )  # truncated: no error, Pillow says what is wrong


def test_stuffed_bytes_and_restart_markers_are_not_scans():
    """Inside a scan, FF 00 (a stuffed byte) and FF D0-D7 (restarts) are data, not markers."""
    data = jpeg_file((256, 256), restart_marker_blocks=1, quality=95)
    assert b"\xff\xd0" in data and jpeg.count_scans(data) == 1
    noisy = Image.fromarray(np.random.default_rng(0).integers(0, 256, (128, 128, 3), dtype=np.uint8))
    buffer = io.BytesIO()
    noisy.save(buffer, format="JPEG", quality=100, progressive=True)
    assert buffer.getvalue().count(b"\xff\x00") > 50 and jpeg.count_scans(buffer.getvalue()) == 10


# --- the refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (many_scans, f"more than {MAX_JPEG_SCANS} scans"),
        (progressive_40mp, f"{WIDTH} × {HEIGHT} progressive JPEG, which takes 1[0-9][0-9] MB to decode"),
        (one_long_row, "23000000 × 1 pixels, more than 10 times longer than wide"),
    ],
    ids=["2000-scans", "progressive-40MP", "1x23M-png"],
)
def test_costly_files_are_refused_from_their_headers(make, message, no_decoding):
    data = make()
    assert len(data) < 200_000, "the attack is a small file"
    with pytest.raises(ImageFileError, match=message):
        read_image(data)

    def refuse():
        with pytest.raises(ImageFileError):
            read_image(data)

    assert peak_bytes_while(refuse) < 2 * len(data) + 1_000_000


def test_a_progressive_jpeg_counts_the_coefficients_of_every_component():
    """libjpeg keeps 64 two-byte coefficients per 8 × 8 block of each component, at full size.

    Worked by hand for a 4000 × 3000 colour JPEG with Pillow's default 4:2:0
    sampling: brightness 500 × 375 blocks, each colour 250 × 188 (rounded up),
    so 187,500 + 2 × 47,000 = 281,500 blocks × 128 bytes = 36.0 MB; plus the
    picture decoded at half size in grey, 2000 × 1500 = 3.0 MB: 39 MB.
    """
    data = claiming_size(jpeg_file(progressive=True), 4000, 3000)
    with pytest.raises(ImageFileError, match="4000 × 3000 progressive JPEG, which takes 39 MB"):
        read_image(data)
    # The same header as a baseline JPEG: decoded straight at half size, in grey (3 MB), and accepted
    # (libjpeg fills what the short data lacks).
    assert read_image(claiming_size(jpeg_file(), 4000, 3000)).shape == (768, MAX_SIDE)


def test_files_within_the_budget_are_read():
    progressive = jpeg_file((2000, 1500), progressive=True)  # 2000 × 1500: 5.6 MB of coefficients
    gray = read_image(progressive)
    assert gray.shape == (768, MAX_SIDE) and gray[0, 0] > 200 and gray[300, 400] < 60
    tall = png_file(300, 3000)  # exactly 10 times taller than wide: allowed
    assert read_image(tall).shape == (MAX_SIDE, 102)
    limit_side = int((MAX_DECODED_BYTES / 4) ** 0.5) - 10  # colour just inside the budget
    assert read_image(png_file(limit_side, limit_side, colour_type=6)).shape == (MAX_SIDE, MAX_SIDE)


@pytest.mark.slow
def test_refusals_cost_no_memory_where_decoding_cost_a_hundred_megabytes(tmp_path):
    """Resident memory in a fresh Python, Pillow's and libjpeg's allocations included."""
    files = {"scans": many_scans(), "progressive": progressive_40mp(), "row": one_long_row()}
    files["control"] = png_file(4000, 4000)  # grey, 16 MB decoded: within the budget
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    statements = [
        f"try:\n    read_image(Path({str(tmp_path / name)!r}).read_bytes())\nexcept ImageFileError:\n    pass"
        for name in files
    ]
    growth = peak_rss_growth(
        statements,
        setup="from pathlib import Path\nfrom mlp.pad.preprocess import ImageFileError, read_image",
    )
    if growth is None:
        pytest.skip("needs Linux's /proc/self/clear_refs")
    *refusals, control = growth
    assert control > 14_000_000, f"the instrument sees Pillow's 16 MB image: {control / 1e6:.1f} MB"
    assert max(refusals) < 5_000_000, f"refusals took {[round(g / 1e6, 1) for g in refusals]} MB"


def test_the_cli_refuses_them_with_the_same_words(tmp_path, capsys, no_decoding):
    """``python -m mlp predict`` reads files with the pad's ``read_image``: one plain line, no traceback."""
    from mlp.cli.predict import main

    path = tmp_path / "scans.jpg"
    path.write_bytes(many_scans())
    assert main([str(path)]) == 1
    err = capsys.readouterr().err
    assert f"this tool can read: the JPEG is stored in more than {MAX_JPEG_SCANS} scans" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
