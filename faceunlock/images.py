"""Decode any still image into the one format the pipeline uses: RGB uint8, H×W×3, upright.

Real photos come greyscale (ORL/Yale), with alpha (32-bit PNG), EXIF-rotated (phone stills), 16-bit, palette GIFs,
or broken. Each is normalised here so the detector never sees a surprise; a bad file raises ImageReadError naming it.

Size (issue 9.10, decision 014): phones make 48–200 MP photos, and decoding one in full costs up to 600 MB of RGB.
No face detector needs that, so a decoded image is at most MAX_PIXELS (16 MP). A larger JPEG is shrunk *while it
is decoded* (libjpeg's DCT scaling, PIL's `draft`: a 200 MP photo decodes at 1/4 scale), then resized to the cap.
Formats that cannot be decoded at reduced scale (PNG, TIFF, WebP, GIF…) are decoded in full only up to
MAX_FULL_DECODE_PIXELS (50 MP) and refused above it with an error naming the file. FIFOs and other non-regular
files are refused before anything is read (they would block forever).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from faceunlock.errors import ImageReadError
from faceunlock.files import NotRegularFile, open_regular

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".pgm", ".ppm", ".pbm", ".tif", ".tiff", ".webp"}
MAX_PIXELS = 16_000_000  # largest image handed to the detector (a 4896×3264 photo; faces in it stay ≥ 100 px)
MAX_FULL_DECODE_PIXELS = 50_000_000  # largest non-JPEG decoded in full (150 MB of RGB) before it is resized
MAX_JPEG_PIXELS = 260_000_000  # largest JPEG header accepted (a 200 MP phone photo is 16320×12240 = 200 MP)


def has_image_suffix(path: Path) -> bool:
    """Named like an image this app reads (whatever kind of file it is)."""
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def is_image_file(path: Path) -> bool:
    return path.is_file() and has_image_suffix(path)


def to_rgb8(arr: np.ndarray) -> np.ndarray:
    """Any numpy image (grey, grey+alpha, RGB, RGBA, 16-bit, float) → contiguous RGB uint8."""
    a = np.asarray(arr)
    if a.dtype == np.uint16:
        a = (a >> 8).astype(np.uint8)
    elif a.dtype.kind == "f":
        scale = 255.0 if a.size and float(np.nanmax(a)) <= 1.0 else 1.0
        a = np.clip(np.nan_to_num(a) * scale, 0, 255).astype(np.uint8)
    elif a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    elif a.ndim == 3 and a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    elif a.ndim == 3 and a.shape[2] == 2:  # grey + alpha
        a = np.repeat(a[:, :, :1], 3, axis=2)
    elif a.ndim == 3 and a.shape[2] == 4:
        a = a[:, :, :3]
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"unsupported image shape {a.shape}")
    return np.ascontiguousarray(a)


def _open_capped(f, path: Path) -> Image.Image:
    """Open, decode no more than MAX_PIXELS needs (see the module docstring) and turn upright; ImageReadError
    naming the file if it is too big to decode."""
    with warnings.catch_warnings():
        # PIL warns above 89 MP and refuses above 179 MP: we apply our own limits below, per format.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        old_cap = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = MAX_JPEG_PIXELS
        try:
            im = Image.open(f)
        finally:
            Image.MAX_IMAGE_PIXELS = old_cap
    w, h = im.size
    pixels = w * h
    if pixels > MAX_PIXELS:
        if im.format == "JPEG":
            if pixels > MAX_JPEG_PIXELS:
                raise ImageReadError(f"{path}: {w}×{h} ({pixels / 1e6:.0f} MP) is larger than the "
                                     f"{MAX_JPEG_PIXELS / 1e6:.0f} MP this app reads")  # fmt: skip
            k = 2
            while k < 8 and pixels / (k * k) > MAX_PIXELS:
                k *= 2
            im.draft(im.mode, (max(1, w // k), max(1, h // k)))  # libjpeg DCT scaling: decode at 1/k (2, 4, 8)
        elif pixels > MAX_FULL_DECODE_PIXELS:
            raise ImageReadError(
                f"{path}: {w}×{h} ({pixels / 1e6:.0f} MP) {im.format or 'image'} is too large: only JPEGs can be "
                f"decoded at reduced size, other formats are read up to {MAX_FULL_DECODE_PIXELS / 1e6:.0f} MP "
                "(save it as a JPEG or scale it down)"
            )
    im.load()
    im = ImageOps.exif_transpose(im)
    if im.size[0] * im.size[1] > MAX_PIXELS:
        if im.mode not in ("L", "LA", "RGB", "RGBA"):
            im = im.convert("RGBA" if "A" in im.getbands() or im.mode == "P" else "RGB")
        k = (im.size[0] * im.size[1] / MAX_PIXELS) ** 0.5
        im = im.resize((max(1, int(im.size[0] / k)), max(1, int(im.size[1] / k))), Image.Resampling.BOX)
    return im


def load_image(path: str | Path) -> np.ndarray:
    """Read a still image as upright RGB uint8, at most MAX_PIXELS; raise ImageReadError naming the file on any
    failure, including a FIFO or device given where an image was expected."""
    path = Path(path)
    try:
        fd = open_regular(path)
    except FileNotFoundError as e:
        raise ImageReadError(f"{path}: no such file") from e
    except NotRegularFile as e:
        raise ImageReadError(str(e)) from e
    except OSError as e:
        raise ImageReadError(f"{path}: cannot open ({e.strerror or e})") from e
    try:
        with os.fdopen(fd, "rb") as f, _open_capped(f, path) as im:
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.asarray(im, dtype=np.uint32)
                top = 65535 if im.mode.startswith("I;16") or arr.max(initial=0) > 255 else 255
                arr = (arr.astype(np.float64) * (255.0 / top)).astype(np.uint8)
                return to_rgb8(arr)
            if im.mode == "F":
                return to_rgb8(np.asarray(im))
            if im.mode not in ("RGB", "L"):
                im = im.convert("RGBA" if "A" in im.getbands() or im.mode == "P" else "RGB")
            return to_rgb8(np.asarray(im))
    except FileNotFoundError as e:
        raise ImageReadError(f"{path}: no such file") from e
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError) as e:
        raise ImageReadError(f"{path}: cannot decode image ({e.__class__.__name__}: {e})") from e
