"""Issue 9.10 (size): a 90-megapixel PNG was decoded in full (270 MB of RGB, plus PIL's copy) and a larger phone
JPEG was refused by PIL's global bomb limit. Now still images are capped at images.MAX_PIXELS (16 MP): a JPEG
above it is shrunk while it is decoded (libjpeg DCT scaling, 1/2…1/8), so a 48 MP or a 200 MP phone photo loads
small and its face is still found; a format that cannot shrink on decode (PNG…) is read in full only up to
MAX_FULL_DECODE_PIXELS (50 MP) and refused above it with an error naming the file.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

from faceunlock.detect import FaceDetector
from faceunlock.errors import ImageReadError
from faceunlock.images import MAX_FULL_DECODE_PIXELS, MAX_PIXELS, load_image
from tests.shared_data import need


def _face(scale: int) -> Image.Image:
    """A real LFW face photo (250×250), enlarged `scale` times: the face a high-resolution photo would hold."""
    im = Image.open(need("lfw-dev", "Abdullah_Gul", "Abdullah_Gul_0001.jpg")).convert("RGB")
    return im.resize((250 * scale, 250 * scale), Image.Resampling.BICUBIC)


def _canvas(w: int, h: int, mode: str = "RGB") -> Image.Image:
    return Image.new(mode, (w, h), (120, 130, 140) if mode == "RGB" else 128)


def test_a_90_megapixel_png_is_refused_without_decoding_it(tmp_path):
    path = tmp_path / "huge.png"
    im = _canvas(10_000, 9_000)
    im.paste(_face(4), (4000, 3000))
    im.save(path, compress_level=1)
    del im
    assert 10_000 * 9_000 > MAX_FULL_DECODE_PIXELS
    t = time.perf_counter()
    with pytest.raises(ImageReadError, match=r"huge\.png.*90 MP.*too large"):
        load_image(path)
    assert time.perf_counter() - t < 1.0  # refused from the header, not after a full decode


def test_a_48_megapixel_phone_jpeg_is_decoded_small_and_its_face_is_found(tmp_path):
    path = tmp_path / "phone48.jpg"
    im = _canvas(8000, 6000)
    im.paste(_face(10), (2500, 1500))  # a 2500 px face, as a phone at arm's length takes it
    im.save(path, quality=90)
    del im
    t = time.perf_counter()
    a = load_image(path)
    seconds = time.perf_counter() - t
    h, w = a.shape[:2]
    assert h * w <= MAX_PIXELS and (w, h) == (4000, 3000)  # DCT-scaled at 1/2 while decoding
    print(f"48 MP JPEG → {w}×{h} in {seconds:.2f} s")
    faces = FaceDetector().detect(a)
    assert faces, "the face must still be found in the downscaled photo"
    x0, y0, x1, y1 = max(faces, key=lambda f: f.score).box
    assert 1250 - 100 <= x0 and x1 <= 2500 + 100 and 750 - 100 <= y0 and y1 <= 2000 + 100  # where it was pasted


def test_a_200_megapixel_jpeg_loads_at_a_quarter_and_a_small_photo_is_untouched(tmp_path):
    path = tmp_path / "phone200.jpg"
    _canvas(16_320, 12_240, "L").save(path, quality=80)  # a 200 MP phone sensor (greyscale keeps the test light)
    a = load_image(path)
    assert a.shape == (12_240 // 4, 16_320 // 4, 3) and a.shape[0] * a.shape[1] <= MAX_PIXELS
    small = load_image(need("lfw-dev", "Abdullah_Gul", "Abdullah_Gul_0001.jpg"))
    assert small.shape == (250, 250, 3) and np.asarray(small).std() > 10  # ordinary photos: full size
