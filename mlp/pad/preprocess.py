"""Turn any picture of a digit into the 28×28 input the network was trained on.

A network only knows the world it was trained on. MNIST digits are white on
black, about 20 pixels tall, and placed so that their centre of mass sits in
the middle of a 28×28 frame. A digit drawn on a 280-pixel canvas, or
photographed on paper, is none of these things, and an MLP — which has no
notion that a shifted "3" is still a "3" — misreads it unless we redo what the
makers of MNIST did to their scans (LeCun, Cortes & Burges):

1. find the digit's bounding box;
2. scale it, keeping its aspect ratio, so its longer side is 20 pixels,
   anti-aliased so that the stroke edges become grey levels;
3. paste it into a 28×28 frame so that its centre of mass is at the centre.

We also make sure the ink is bright on a dark background (a pen on paper is
the opposite), and stretch the contrast so that the strongest ink is 1.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from mlp.nn.inputs import check_finite
from mlp.pad import jpeg, paper

FRAME = 28
BOX = 20
# Where MNIST puts the centre of mass, as (row, column) with 0-based pixel
# indices. Measured over the 10,000 test digits: 13.99 ± 0.29 and 14.01 ± 0.29.
# That is half a pixel below and right of the frame's geometric centre (13.5):
# we match MNIST rather than geometry, since MNIST is what the network learned.
CENTRE = (14.0, 14.0)
# Ink must stand out from the background by this much (of the full 0..1
# range) to count as a drawing: a blank or uniformly grey image is empty.
MIN_CONTRAST = 0.2
# Stretched ink fainter than this is paper texture or JPEG ringing, not a
# stroke: it must not widen the bounding box.
NOISE_FLOOR = 0.1
# Uploads: refuse images larger than this before decoding them (a 10 KB PNG
# can claim to be 50,000 × 50,000 pixels), and shrink the rest to at most
# this side, which is still fifty times the 20 pixels the network will see.
MAX_PIXELS = 40_000_000
MAX_SIDE = 1024
# Pictures are cleaned (background, threshold, strokes) at most this large: the network sees 20
# pixels, and a pen stroke stays several pixels wide at this size even in a digit a tenth as tall.
WORK_SIDE = 512
# How far (pixels) below-threshold ink next to a stroke still counts as its edge: a pen's or an
# anti-aliased edge, or a little blur. Farther out, faint marks are the paper's.
EDGE = 2
# What decoding may allocate, checked from the header before decoding: each
# visitor's kernel decodes their upload, and a class shares one server. We count
# what Pillow and libjpeg allocate (``_decoding_bytes``): the decoded image at
# its mode's bytes a pixel (Pillow pads RGB to 4), the decoder's rows at full
# width, and, for a JPEG sent in several scans (progressive), libjpeg's
# coefficients of every component at full size (2 bytes each, 64 per 8 × 8
# block), which it holds whatever the reduced size it decodes at. A baseline JPEG is
# decoded at a reduced size (1/2 to 1/8) and in grayscale, so even a
# 40-megapixel photo stays far below; a PNG is decoded whole, so this admits 6
# megapixels in colour (a phone's screenshot is 3 to 4) or 24 in grayscale; a
# progressive JPEG about 8 megapixels in colour. Decoding peaks at about twice
# this. A 165 KB, 40-megapixel RGBA PNG used to cost 486 MB and over a second, a
# 40-megapixel progressive JPEG 175 MB: now both are refused in milliseconds.
MAX_DECODED_BYTES = 24_000_000
# A picture more than this many times longer than wide is no photo of a digit, and one of
# 1 × 23 million pixels cost 193 MB of row buffers to decode: refused from the header.
MAX_ASPECT = 10
# A progressive JPEG sends its picture in scans, and decoding passes over all of it once per scan:
# cameras and editors use about 10; a 2.8 MB file with 2,000 scans took over a minute of CPU.
MAX_JPEG_SCANS = 64
# Image files larger than this are refused unread, by the pad and by ``python -m mlp predict``:
# a photo of one digit needs far less.
MAX_FILE_BYTES = 5_000_000


class EmptyDrawingError(ValueError):
    """The image holds no digit: nothing drawn, or nothing that stands out from the background."""


class ImageFileError(ValueError):
    """Bytes that are not a usable PNG or JPEG image, with the reason."""


def preprocess_digit(image: np.ndarray) -> np.ndarray:
    """The MNIST-style ``(28, 28)`` float32 input in [0, 1] for a grayscale ``image``.

    ``image`` is any 2-D array: ``uint8`` (0-255) or float in [0, 1], any
    size, light ink on a dark background or dark ink on a light one. Raises
    ``EmptyDrawingError`` if there is no digit to see, ``TypeError`` or
    ``ValueError`` for input that is not a grayscale image. ``image`` is
    never modified.
    """
    ink = _as_ink(image)
    rows, cols = np.nonzero(ink.max(axis=1) > NOISE_FLOOR)[0], np.nonzero(ink.max(axis=0) > NOISE_FLOOR)[0]
    digit = scale_to_box(ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])
    # Shrinking a thin pen line averages it with the paper around it; MNIST's
    # strokes are always full strength, so the strongest ink goes back to 1.
    digit *= 1 / digit.max()
    return centre_by_mass(digit)


def scale_to_box(digit: np.ndarray, box: int = BOX) -> np.ndarray:
    """``digit`` resized so that its longer side is ``box`` pixels, aspect ratio kept.

    Pillow does the resampling because its bilinear filter widens with the
    scale factor when shrinking: each output pixel averages all the input
    pixels it covers (anti-aliasing), instead of sampling a few and aliasing
    thin strokes away.
    """
    height, width = digit.shape
    scale = box / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))  # Pillow wants (width, height)
    resized = Image.fromarray(digit).resize(size, Image.Resampling.BILINEAR)
    return np.clip(np.asarray(resized), 0.0, 1.0)


def centre_by_mass(patch: np.ndarray, frame: int = FRAME, centre: tuple[float, float] = CENTRE) -> np.ndarray:
    """``patch`` pasted into a ``frame``×``frame`` black image with its centre of mass at ``centre``.

    The centre of mass of intensities :math:`I_{rc}` is
    :math:`\\bar r = \\sum_{r,c} r\\,I_{rc} / \\sum_{r,c} I_{rc}` (and likewise
    :math:`\\bar c`). We shift by whole pixels, as MNIST did: a sub-pixel shift
    would blur the digit and widen it past 20 pixels. The centre of mass
    therefore lands within half a pixel of ``centre``, unless that would push
    part of the digit out of the frame, in which case the digit stays whole.
    """
    height, width = patch.shape
    mass = patch.sum()
    com_row = (patch.sum(axis=1) @ np.arange(height)) / mass  # (height,) @ (height,) -> scalar
    com_col = (patch.sum(axis=0) @ np.arange(width)) / mass  # (width,) @ (width,) -> scalar
    top = min(max(round(centre[0] - com_row), 0), frame - height)
    left = min(max(round(centre[1] - com_col), 0), frame - width)
    out = np.zeros((frame, frame), dtype=np.float32)
    out[top : top + height, left : left + width] = patch
    return out


@dataclass(frozen=True)
class InkSteps:
    """What each step of ``ink_steps`` makes of one picture, all ``(h, w)`` like ``gray``."""

    gray: np.ndarray  # float32 grey levels in [0, 1], shrunk to at most ``WORK_SIDE`` a side
    dark_ink: bool  # pen on paper (True), or light strokes on a dark ground like the pad's
    background: np.ndarray  # the paper's estimated shade at every pixel, uneven light included
    flat: np.ndarray  # ink's contrast against that background: about 0 on paper, 1 for black ink
    threshold: float  # Otsu's threshold on ``flat``: ink above, paper below
    noise: float  # how far paper reaches into ``flat`` (its median + 3 standard deviations), at least 0
    stroke: float  # a stroke's typical contrast in ``flat``
    strokes: np.ndarray  # bool: the pieces of ink kept (the digit's strokes, not specks or texture)
    ink: np.ndarray  # float32 in [0, 1]: 0 background, 1 a stroke at its typical strength


def ink_steps(image: np.ndarray) -> InkSteps:
    """The steps from a grayscale ``image`` (as ``preprocess_digit`` takes it) to ink, one by one.

    A document scanner's recipe (``mlp.pad.paper``): estimate the paper's
    shade and divide it out, choose the ink/paper threshold from this image's
    histogram (Otsu), keep the pieces of ink that make the digit and drop
    specks, then stretch: paper noise becomes 0 and a typical stroke 1. On a
    clean drawing (a flat background of one shade) every step but the stretch
    leaves the ink as it is. Raises ``EmptyDrawingError`` when nothing stands
    out from the paper by ``MIN_CONTRAST``.
    """
    gray = _shrunk(_as_gray(image), WORK_SIDE)
    found = paper.best_separation(gray)
    if found.contrast < MIN_CONTRAST:
        raise EmptyDrawingError(
            "no digit found: the image is blank or nothing on it stands out from the background"
        )
    # The strokes' faint edges, below the threshold, belong to them: the pixels within EDGE of a kept
    # stroke that stand out from the paper's noise.
    strong = paper.keep_strokes(found.flat > found.threshold)
    strokes = paper.grow(strong, EDGE) & (found.flat > found.noise)
    ink = np.where(strokes, (found.flat - found.noise) * (1 / found.contrast), 0).astype(np.float32)
    np.clip(ink, 0.0, 1.0, out=ink)
    return InkSteps(
        gray,
        found.dark_ink,
        found.background,
        found.flat,
        found.threshold,
        found.noise,
        found.stroke,
        strokes,
        ink,
    )


def _shrunk(gray: np.ndarray, side: int) -> np.ndarray:
    """``gray`` with its longer side at most ``side``, each pixel the mean of those it covers."""
    height, width = gray.shape
    if max(height, width) <= side:
        return gray
    scale = side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(gray, mode="F").resize(size, Image.Resampling.BOX))


def _as_ink(image: np.ndarray) -> np.ndarray:
    """``image`` as float32 ink: 0 for background, 1 for a stroke (``ink_steps``' last step)."""
    gray = _as_gray(image)
    flat = flat_background_ink(gray)
    return flat if flat is not None else ink_steps(gray).ink


def flat_background_ink(gray: np.ndarray) -> np.ndarray | None:
    """The ink of a picture on a flat background, as it is; ``None`` for any other picture.

    The pad's drawings (and clean scans) have a background of one exact shade,
    all around the border and over most of the picture: there is no paper to
    estimate and no light to divide out, so the strokes are only stretched,
    the strongest to 1 (what the pad always did). ``ink_steps`` would find
    nothing to remove either, but it drops pieces under a tenth of the largest
    and scales by a typical stroke: right for specks of paper, not for a
    drawing, where every stroke was drawn on purpose. It also costs about 5 ms
    on every pointer move where this costs 0.1 ms. (On 268 generated drawings
    both read the same digit 266 times and as many right: tests/test_photos.py.)
    Inputs: ``gray`` ``(h, w)`` float32 in [0, 1] (``_as_gray``'s). Returns ink
    ``(h, w)`` float32 in [0, 1], or ``None``.
    """
    border = np.concatenate([gray[0], gray[-1], gray[1:-1, 0], gray[1:-1, -1]])
    background = border[0]
    if not np.all(border == background) or np.count_nonzero(gray == background) * 2 < gray.size:
        return None
    ink = gray - background if background <= 0.5 else background - gray  # strokes stand out positive
    strongest = float(ink.max())
    if strongest < MIN_CONTRAST:
        raise EmptyDrawingError(
            "no digit found: the image is blank or nothing on it stands out from the background"
        )
    ink *= 1 / strongest
    return np.clip(ink, 0.0, 1.0, out=ink)


def _as_gray(image: np.ndarray) -> np.ndarray:
    """``image`` checked, as a float32 copy in [0, 1]; a clear ``TypeError`` or ``ValueError`` if unusable."""
    image = np.asarray(image)
    if not (image.dtype == np.uint8 or np.issubdtype(image.dtype, np.floating)):
        hint = " (for 0-255 pixels use .astype(np.uint8))" if np.issubdtype(image.dtype, np.integer) else ""
        raise TypeError(
            f"image must be uint8 (0-255) or float (0-1) grayscale, got dtype {image.dtype}{hint}"
        )
    if image.ndim != 2:
        hint = " (colour? convert to grayscale first, e.g. PIL's .convert('L'))" if image.ndim == 3 else ""
        raise ValueError(f"image must be a 2-D grayscale array, got shape {image.shape}{hint}")
    if image.size == 0:
        raise ValueError(f"image has no pixels (shape {image.shape})")
    pixels = image.astype(np.float32)  # always a copy: the caller's array is never modified
    if image.dtype == np.uint8:
        pixels *= 1 / 255
    else:
        check_finite(image, "image")
    low, high = float(pixels.min()), float(pixels.max())
    if low < 0 or high > 1:
        raise ValueError(
            f"float images must lie in [0, 1], got values in [{low:g}, {high:g}] "
            "(for 0-255 pixels, divide by 255)"
        )
    return pixels


def read_image(data: bytes) -> np.ndarray:
    """Decode PNG or JPEG bytes into a ``uint8`` grayscale array, at most ``MAX_SIDE`` pixels a side.

    Before a pixel is decoded, from the file's header (and a JPEG's markers):
    pictures over ``MAX_PIXELS``, longer than ``MAX_ASPECT`` times their
    width, JPEGs in more than ``MAX_JPEG_SCANS`` scans, and anything whose
    decoding would allocate more than ``MAX_DECODED_BYTES`` are refused. A
    JPEG is decoded straight at a reduced size (``draft``). Phone photos are
    turned upright (EXIF orientation). Transparent pixels get a shade chosen
    so the digit stays visible: a black digit on a transparent background
    becomes black on white, a white one white on black, and holes in an
    opaque picture take the shade of its paper. Raises ``ImageFileError`` for
    anything that is not a PNG or JPEG image, or too costly to decode.
    """
    try:
        with Image.open(io.BytesIO(data), formats=["PNG", "JPEG"]) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageFileError(
                    f"the image is {width} × {height} pixels, "
                    f"more than the limit of {MAX_PIXELS // 1_000_000} megapixels"
                )
            if max(width, height) > MAX_ASPECT * min(width, height):
                raise ImageFileError(
                    f"the image is {width} × {height} pixels, more than {MAX_ASPECT} times longer than "
                    "wide: crop it to the digit"
                )
            scans = (
                jpeg.count_scans(data, stop_after=MAX_JPEG_SCANS + 1)
                if image.format in ("JPEG", "MPO")
                else 0
            )
            if scans > MAX_JPEG_SCANS:
                raise ImageFileError(
                    f"the JPEG is stored in more than {MAX_JPEG_SCANS} scans (a camera's or an editor's "
                    "progressive JPEG has about 10): save it again as an ordinary JPEG or a PNG"
                )
            # JPEG: decode straight at 1/2 to 1/8 of the size and in grayscale, as close above the
            # final size as it goes; no effect on a PNG.
            scale = MAX_SIDE / max(width, height)
            image.draft("L", (max(1, round(width * scale)), max(1, round(height * scale))))
            needed = _decoding_bytes(image, (width, height), scans)
            if needed > MAX_DECODED_BYTES:
                raise ImageFileError(_too_costly(image, (width, height), scans, needed))
            image.thumbnail((MAX_SIDE, MAX_SIDE))  # in place: the full-size pixels are freed
            image = ImageOps.exif_transpose(image)  # on the small image; the box is square
            alpha = None
            if image.mode.startswith("I"):  # a 16-bit grayscale PNG: converting it to RGBA would clip at 255
                gray = np.asarray(image, dtype=np.float32) / 65535
            elif image.mode == "L":  # a JPEG decoded in grayscale, or a grey PNG: no colour to mix
                gray = np.asarray(image, dtype=np.float32) / 255
            else:
                rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255  # (h, w, 4)
                gray = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)  # (h, w, 3) @ (3,)
                alpha = rgba[..., 3]
    except ImageFileError:
        raise
    except Image.DecompressionBombError as e:  # Pillow's own, larger limit, checked on opening
        raise ImageFileError(
            f"the image is larger than the limit of {MAX_PIXELS // 1_000_000} megapixels"
        ) from e
    except Image.UnidentifiedImageError as e:  # its message names an in-memory buffer: say it plainly
        raise ImageFileError("not a readable PNG or JPEG image (the bytes are neither)") from e
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        # Pillow reports unknown formats, truncated and corrupt files with these.
        raise ImageFileError(f"not a readable PNG or JPEG image ({e})") from e
    if alpha is not None and alpha.min() < 1:
        visible_is_light = (gray * alpha).sum() > 0.5 * alpha.sum()
        # Mostly transparent: what is visible is the ink, so lay it on the opposite
        # shade. Mostly opaque: what is visible is the paper, so fill the holes with it.
        light_background = visible_is_light != (alpha.mean() < 0.5)
        gray = gray * alpha + float(light_background) * (1 - alpha)
    return np.round(gray * 255).astype(np.uint8)


# Bytes a pixel of each Pillow mode takes once decoded; the other modes (RGB included) take 4.
_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}


def _decoding_bytes(image: Image.Image, full_size: tuple[int, int], scans: int) -> int:
    """What decoding ``image`` (opened, after ``draft``) allocates, from its header: bytes.

    The decoded image (its size after ``draft``, at its mode's bytes a pixel);
    the decoder's rows at full width (at most 16 bytes a pixel across: two
    rows of a 16-bit RGBA PNG, or a JPEG's rows of 8 × 8 blocks); and for a
    JPEG in several scans, the coefficients of every component at full size.
    """
    width, height = image.size
    total = width * height * _MODE_BYTES.get(image.mode, 4) + 16 * full_size[0] * max(
        1, len(image.getbands())
    )
    if scans > 1:
        total += _jpeg_coefficient_bytes(image, full_size)
    return total


def _jpeg_coefficient_bytes(image: Image.Image, full_size: tuple[int, int]) -> int:
    """libjpeg's coefficient arrays for a multi-scan JPEG: 64 two-byte coefficients per 8 × 8 block.

    Each component has its own resolution (``image.layer``: id, horizontal
    and vertical sampling factors, table), e.g. colour at half the width and
    height of brightness, rounded up to whole blocks of its sampling factor.
    """
    width, height = full_size
    layers = getattr(image, "layer", None) or [(0, 1, 1, 0)]
    h_max = max(h for _, h, _, _ in layers)
    v_max = max(v for _, _, v, _ in layers)
    blocks = 0
    for _, h, v, _ in layers:
        across = math.ceil(math.ceil(width * h / h_max) / 8)
        down = math.ceil(math.ceil(height * v / v_max) / 8)
        blocks += math.ceil(across / h) * h * math.ceil(down / v) * v
    return blocks * 64 * 2


def _too_costly(image: Image.Image, full_size: tuple[int, int], scans: int, needed: int) -> str:
    """Why an image is refused by the decoding budget, in words a visitor can act on."""
    width, height = full_size
    limit = f"{MAX_DECODED_BYTES / 1e6:.0f} MB"
    if scans > 1:
        return (
            f"the image is a {width} × {height} progressive JPEG, which takes {needed / 1e6:.0f} MB to "
            f"decode, more than the {limit} an upload may use: save a smaller copy, or as an ordinary JPEG"
        )
    bytes_per_pixel = _MODE_BYTES.get(image.mode, 4)
    megapixels = MAX_DECODED_BYTES / bytes_per_pixel / 1e6
    depth = "in colour" if bytes_per_pixel == 4 else "at this depth"
    return (
        f"the image is {width} × {height} pixels, more than can be read here "
        f"({megapixels:.0f} megapixels {depth}; a smaller copy will do)"
    )
