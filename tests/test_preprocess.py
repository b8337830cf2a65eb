"""Tests for mlp.pad.preprocess: MNIST's own recipe, checked on MNIST and on pictures made here."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw

import mlp
from mlp.pad.preprocess import (
    CENTRE,
    MAX_DECODED_BYTES,
    MAX_PIXELS,
    MAX_SIDE,
    EmptyDrawingError,
    ImageFileError,
    preprocess_digit,
    read_image,
)
from mlp.pad.styles import raster_of, strokes


@pytest.fixture(scope="module")
def mnist_test() -> tuple[np.ndarray, np.ndarray]:
    _, (x_test, y_test) = mlp.load_mnist()
    return x_test.reshape(-1, 28, 28), y_test


@pytest.fixture(scope="module")
def model() -> mlp.Sequential:
    return mlp.load_model()  # the shipped model, data/mlp-mnist.npz


def centre_of_mass(x: np.ndarray) -> np.ndarray:
    rows, cols = np.indices(x.shape)
    return np.array([(rows * x).sum(), (cols * x).sum()]) / x.sum()


def box_size(x: np.ndarray) -> tuple[int, int]:
    rows, cols = np.nonzero(x)
    return int(np.ptp(rows)) + 1, int(np.ptp(cols)) + 1


def embed(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 28×28 MNIST digit enlarged 2-8 times, put anywhere on a larger page, as dark ink on white uint8."""
    side = round(28 * rng.uniform(2, 8))
    big = np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BILINEAR))
    height, width = side + rng.integers(10, 200, size=2)
    page = np.zeros((height, width), dtype=np.float32)
    top, left = rng.integers(0, height - side + 1), rng.integers(0, width - side + 1)
    page[top : top + side, left : left + side] = big
    return np.round(255 * (1 - np.clip(page, 0, 1))).astype(np.uint8)


def blob(shape: tuple[int, int], seed: int) -> np.ndarray:
    """A random smooth-ish shape of ink, somewhere off-centre on a black image."""
    rng = np.random.default_rng(seed)
    image = np.zeros(shape, dtype=np.float32)
    h, w = rng.integers(5, shape[0] // 2), rng.integers(5, shape[1] // 2)
    top, left = rng.integers(0, shape[0] - h), rng.integers(0, shape[1] - w)
    image[top : top + h, left : left + w] = rng.random((h, w)) ** 3
    image[top + h // 2, left : left + w] = 1
    return image


# --- MNIST in, MNIST out ------------------------------------------------------------------------


@pytest.mark.slow
def test_mnist_test_digits_keep_their_accuracy(mnist_test, model):
    """Clean scans stay as they were: the photo steps (background, threshold, strokes) change little.

    MNIST's test digits are already made this way. All 10,000: the shipped
    model reads 99.1 % of them as they are; 98.5 % is issue 18's floor.
    """
    images, labels = mnist_test
    processed = np.stack([preprocess_digit(image) for image in images])
    accuracy = model.accuracy(processed, labels)
    assert accuracy >= 0.985, f"accuracy after preprocess_digit: {accuracy:.2%}"
    assert np.mean(model.predict(processed) == model.predict(images)) >= 0.995, "the same answers"
    # Most come back nearly unchanged: the stronger half of a stroke is stretched to full strength
    # (as most of MNIST's stroke pixels already are), and small pieces apart from the digit dropped.
    assert np.mean(np.abs(processed - images).mean(axis=(1, 2)) < 0.02) > 0.9


def test_enlarged_shifted_inverted_digits_are_read_like_the_originals(mnist_test, model):
    images, labels = mnist_test
    rng = np.random.default_rng(0)
    pages = [embed(image, rng) for image in images[:1000]]
    processed = np.stack([preprocess_digit(page) for page in pages])
    assert model.accuracy(processed, labels[:1000]) >= 0.97


def test_mnist_centre_of_mass_is_where_we_put_ours(mnist_test):
    images, _ = mnist_test
    mean_centre = np.mean([centre_of_mass(image) for image in images[:2000]], axis=0)
    np.testing.assert_allclose(mean_centre, CENTRE, atol=0.05)


# --- the recipe's promises ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("shape", [(280, 280), (50, 300), (300, 41), (24, 24)])
def test_digit_fits_20_pixels_and_is_centred_by_mass(shape, seed):
    x = preprocess_digit(blob(shape, seed))
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert x.min() >= 0 and x.max() == pytest.approx(1, abs=0.02)
    height, width = box_size(x)
    assert max(height, width) <= 20
    assert np.abs(centre_of_mass(x) - CENTRE).max() <= 0.5


@pytest.mark.parametrize(
    ("height", "width", "expected"), [(100, 50, (20, 10)), (30, 90, (7, 20)), (3, 3, (20, 20))]
)
def test_longer_side_becomes_20_pixels_keeping_the_aspect_ratio(height, width, expected):
    image = np.zeros((200, 200), dtype=np.uint8)
    image[40 : 40 + height, 60 : 60 + width] = 255
    assert box_size(preprocess_digit(image)) == expected


def test_position_on_the_page_does_not_matter():
    digit = blob((60, 60), seed=3)
    a, b = np.zeros((300, 200), np.float32), np.zeros((300, 200), np.float32)
    a[10:70, 20:80], b[200:260, 130:190] = digit, digit
    np.testing.assert_array_equal(preprocess_digit(a), preprocess_digit(b))


def pen_strokes(seed: int) -> np.ndarray:
    """A 7 drawn with the pad's brush (``styles``): light strokes on black, (280, 280) float32."""
    return raster_of(strokes("seven", np.random.default_rng(seed))).image


@pytest.mark.parametrize("seed", range(3))
def test_dark_on_light_is_inverted(seed):
    light_on_dark = np.round(pen_strokes(seed) * 255).astype(np.uint8)
    np.testing.assert_allclose(
        preprocess_digit(255 - light_on_dark), preprocess_digit(light_on_dark), atol=1e-6
    )


@pytest.mark.parametrize("seed", range(3))
def test_grey_paper_and_faint_pen_are_stretched_to_full_contrast(seed):
    clean = pen_strokes(seed)
    photo = 0.8 - 0.5 * clean  # grey pen on grey paper
    # Otsu's threshold is chosen among 256 grey levels of each picture's own contrast, which
    # here is 0.625 of the clean one's: the stroke's level (the stretch) can move by a grey level.
    np.testing.assert_allclose(preprocess_digit(photo), preprocess_digit(clean), atol=2 / 255)


def test_uint8_and_float_inputs_agree():
    image = (blob((90, 120), seed=1) * 255).astype(np.uint8)
    np.testing.assert_allclose(preprocess_digit(image), preprocess_digit(image / 255), atol=1e-6)
    np.testing.assert_allclose(
        preprocess_digit(image), preprocess_digit(image.astype(np.float32) / 255), atol=1e-6
    )


def test_input_is_never_modified_and_may_be_read_only():
    image = 1 - blob((80, 80), seed=2)  # dark on light: the inverting branch
    image.flags.writeable = False
    before = image.copy()
    preprocess_digit(image)
    np.testing.assert_array_equal(image, before)


# --- empty and bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((280, 280), np.float32),
        np.full((50, 60), 255, np.uint8),
        np.full((40, 40), 0.5),
        np.full((40, 40), 0.5) + 0.1 * (np.arange(40) % 2),  # faint texture, no ink
    ],
    ids=["black", "white", "grey", "faint"],
)
def test_empty_images_raise_empty_drawing_error(image):
    with pytest.raises(EmptyDrawingError, match="no digit"):
        preprocess_digit(image)
    assert issubclass(EmptyDrawingError, ValueError)


@pytest.mark.parametrize(
    ("image", "error", "message"),
    [
        (np.zeros((28, 28, 3), np.uint8), ValueError, "grayscale"),
        (np.zeros(784, np.float32), ValueError, "2-D"),
        (np.zeros((0, 5), np.float32), ValueError, "no pixels"),
        (np.array([[0.0, np.nan], [1.0, 0.0]]), ValueError, "NaN"),
        (np.array([[0.0, np.inf], [1.0, 0.0]]), ValueError, "NaN"),
        (np.zeros((28, 28), np.int64), TypeError, "astype"),
        (np.zeros((28, 28), bool), TypeError, "dtype bool"),
        (np.zeros((28, 28), object), TypeError, "dtype object"),
        (np.full((28, 28), 255.0), ValueError, "divide by 255"),
        (np.full((28, 28), -0.5), ValueError, r"\[0, 1\]"),
    ],
    ids=["rgb", "1-d", "no-pixels", "nan", "inf", "int64", "bool", "object", "0-255-floats", "negative"],
)
def test_bad_input_gets_a_clear_error(image, error, message):
    with pytest.raises(error, match=message):
        preprocess_digit(image)


# --- image files --------------------------------------------------------------------------------


def picture(
    mode: str = "L", size: tuple[int, int] = (300, 200), ink: int | tuple = 0, paper: int | tuple = 255
):
    """A "7" drawn with Pillow: a bar and a slanted stroke."""
    image = Image.new(mode, size, paper)
    draw = ImageDraw.Draw(image)
    draw.line([(100, 40), (200, 40), (140, 170)], fill=ink, width=14)
    return image


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_read_image_decodes_png_and_jpeg_to_grayscale(fmt):
    gray = read_image(encode(picture("RGB", ink=(0, 0, 0), paper=(255, 255, 255)), fmt))
    assert gray.dtype == np.uint8 and gray.shape == (200, 300)
    assert gray[0, 0] > 240 and gray[40, 150] < 15


def test_transparent_backgrounds_keep_the_digit_visible(model):
    black_on_clear = picture("RGBA", ink=(0, 0, 0, 255), paper=(0, 0, 0, 0))
    white_on_clear = picture("RGBA", ink=(255, 255, 255, 255), paper=(255, 255, 255, 0))
    reference = preprocess_digit(np.asarray(picture()))
    for image in (black_on_clear, white_on_clear):
        x = preprocess_digit(read_image(encode(image, "PNG")))
        np.testing.assert_allclose(x, reference, atol=0.02)
    assert model.predict(reference) == 7


def test_16_bit_png_keeps_its_grey_levels():
    scan = np.full((120, 100), 60_000, np.uint16)  # light paper...
    scan[20:100, 45:55] = 4_000  # ...and a dark "1"
    gray = read_image(encode(Image.fromarray(scan), "PNG"))
    assert abs(int(gray[0, 0]) - round(60_000 / 65535 * 255)) <= 1 and abs(int(gray[50, 50]) - 16) <= 1


def test_phone_photos_are_turned_upright():
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: "rotate 90° clockwise to display"
    gray = read_image(encode(picture(), "JPEG", exif=exif))
    assert gray.shape == (300, 200)


def test_large_images_are_shrunk_before_preprocessing():
    gray = read_image(encode(picture(size=(3000, 2000)), "PNG"))
    assert max(gray.shape) == MAX_SIDE


def png_header_only(width: int, height: int, colour_type: int = 0) -> bytes:
    """A PNG that claims to be width×height pixels (grey, or RGBA with colour type 6): a bomb's header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"this is not an image", "not a readable PNG or JPEG"),
        (b"", "not a readable PNG or JPEG"),
        (encode(picture(), "PNG")[:300], "not a readable PNG or JPEG"),
        (encode(picture(), "GIF"), "not a readable PNG or JPEG"),
        (png_header_only(8000, 6000), "8000 × 6000 pixels, more than the limit of 40 megapixels"),
        (png_header_only(20_000, 20_000), "larger than the limit of 40 megapixels"),
        (png_header_only(4000, 2600, colour_type=6), "4000 × 2600 pixels, more than can be read here"),
    ],
    ids=["text", "empty", "truncated", "gif", "bomb", "pillow-bomb", "colour-bomb"],
)
def test_unusable_files_raise_image_file_error(data, message):
    with pytest.raises(ImageFileError, match=message):
        read_image(data)


def test_decoding_is_budgeted_by_the_bytes_it_allocates():
    """A PNG is decoded whole: colour costs 4 bytes a pixel, grey 1; a JPEG is decoded reduced, in grey."""
    colour_side = int((MAX_DECODED_BYTES / 4) ** 0.5) - 10  # the decoder's rows take a little too

    def colour(side: int) -> bytes:
        return encode(picture("RGBA", (side, side), ink=(0, 0, 0, 255), paper=(255, 255, 255, 255)), "PNG")

    assert read_image(colour(colour_side)).shape == (MAX_SIDE, MAX_SIDE)
    with pytest.raises(ImageFileError, match="more than can be read here"):
        read_image(colour(colour_side + 50))
    grey = Image.new("L", (colour_side + 50, colour_side + 50), 255)  # the same size in grey is fine
    assert read_image(encode(grey, "PNG")).shape == (MAX_SIDE, MAX_SIDE)
    width = 8000
    photo = picture("RGB", (width, MAX_PIXELS // width - 1), ink=(0, 0, 0), paper=(255, 255, 255))
    assert max(read_image(encode(photo, "JPEG")).shape) == MAX_SIDE
