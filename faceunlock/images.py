"""Decode any still image into the one format the pipeline uses: RGB uint8, H×W×3, upright.

Real photos come greyscale (ORL/Yale), with alpha (32-bit PNG), EXIF-rotated (phone stills), 16-bit, palette GIFs,
or broken. Each is normalised here so the detector never sees a surprise; a bad file raises ImageReadError naming it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from faceunlock.errors import ImageReadError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".pgm", ".ppm", ".pbm", ".tif", ".tiff", ".webp"}


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


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


def load_image(path: str | Path) -> np.ndarray:
    """Read a still image as upright RGB uint8; raise ImageReadError naming the file on any failure."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            im = ImageOps.exif_transpose(im)
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
