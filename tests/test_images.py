"""images: every real-world still becomes upright RGB uint8 H×W×3; a bad file is an ImageReadError naming it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from faceunlock.errors import ImageReadError
from faceunlock.images import is_image_file, load_image, to_rgb8
from tests.shared_data import need


def _assert_rgb8(a: np.ndarray, shape: tuple[int, int]) -> None:
    assert a.dtype == np.uint8
    assert a.shape == (*shape, 3)
    assert a.flags.c_contiguous


# -- greyscale datasets ---------------------------------------------------------------------------------------
def test_orl_pgm_greyscale_becomes_three_equal_channels():
    p = need("orl", "s1", "1.pgm")
    raw = np.asarray(Image.open(p))
    assert raw.ndim == 2  # the data really is greyscale
    a = load_image(p)
    _assert_rgb8(a, (112, 92))
    for c in range(3):
        np.testing.assert_array_equal(a[:, :, c], raw)


def test_yale_gif_greyscale_becomes_rgb():
    p = need("yale", "subject01", "subject01.happy.gif")
    a = load_image(p)
    _assert_rgb8(a, (243, 320))
    grey = np.asarray(Image.open(p).convert("L"))
    np.testing.assert_array_equal(a[:, :, 0], grey)
    np.testing.assert_array_equal(a[:, :, 0], a[:, :, 2])
    assert a.std() > 20  # a real picture, not a flat fill


def test_32bit_png_alpha_dropped_to_rgb():
    p = need("samples", "face_recognition", "test_images", "32bit.png")
    with Image.open(p) as im:
        assert im.mode == "RGBA"
        expected = np.asarray(im.convert("RGBA"))[:, :, :3]
    a = load_image(p)
    _assert_rgb8(a, expected.shape[:2])
    np.testing.assert_array_equal(a, expected)


def test_palette_and_grey_alpha_images(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    pal = Image.fromarray(rgb).quantize(16)
    pal.save(tmp_path / "pal.png")
    a = load_image(tmp_path / "pal.png")
    _assert_rgb8(a, (20, 30))
    np.testing.assert_array_equal(a, np.asarray(pal.convert("RGB")))

    la = np.dstack([rng.integers(0, 256, (8, 9), dtype=np.uint8), np.full((8, 9), 128, np.uint8)])
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    b = load_image(tmp_path / "la.png")
    _assert_rgb8(b, (8, 9))
    np.testing.assert_array_equal(b[:, :, 1], la[:, :, 0])


# -- EXIF rotation ----------------------------------------------------------------------------------------------
def test_exif_rotated_still_loads_upright():
    from faceunlock.detect import FaceDetector

    p = need("liveness", "still-images", "image_T1.jpg")
    with Image.open(p) as im:
        assert im.getexif().get(0x0112) not in (None, 1), "test image lost its EXIF orientation"
        stored = np.asarray(im)
    a = load_image(p)
    _assert_rgb8(a, (stored.shape[1], stored.shape[0]))  # rotated by 90°: sides swapped

    torch.set_num_threads(min(torch.get_num_threads(), 2))
    face = FaceDetector().primary(a)
    assert face is not None, "no face in the loaded (supposedly upright) image"
    le, re, _nose, ml, mr = face.landmarks
    eyes_y, mouth_y = (le[1] + re[1]) / 2, (ml[1] + mr[1]) / 2
    assert mouth_y - eyes_y > 0.2 * face.height, (
        f"eyes at y={eyes_y:.0f} are not above the mouth at {mouth_y:.0f}"
    )
    assert abs(re[0] - le[0]) > abs(re[1] - le[1]), "eyes side by side horizontally in an upright face"


# -- 16-bit ------------------------------------------------------------------------------------------------------
def test_16bit_grey_png_scaled_to_8bit(tmp_path):
    ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (16, 1))
    assert cv2.imwrite(str(tmp_path / "g16.png"), ramp)
    a = load_image(tmp_path / "g16.png")
    _assert_rgb8(a, (16, 256))
    expected = ramp.astype(np.float64) / 257.0
    assert np.abs(a[:, :, 0].astype(np.float64) - expected).max() <= 1.0
    assert a[0, 0, 0] == 0 and a[0, -1, 0] == 255
    assert (np.diff(a[0, :, 0].astype(int)) >= 0).all()


def test_16bit_colour_png_keeps_channel_order(tmp_path):
    ramp = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (8, 1))
    bgr = np.dstack([ramp, ramp // 2, ramp // 4])  # OpenCV order: blue brightest
    assert cv2.imwrite(str(tmp_path / "c16.png"), bgr)
    a = load_image(tmp_path / "c16.png")
    _assert_rgb8(a, (8, 64))
    rgb16 = cv2.cvtColor(cv2.imread(str(tmp_path / "c16.png"), cv2.IMREAD_UNCHANGED), cv2.COLOR_BGR2RGB)
    assert np.abs(a.astype(int) - (rgb16 >> 8).astype(int)).max() <= 1
    assert a[0, -1, 2] == 255 and a[0, -1, 0] < 70  # blue full, red a quarter


def test_dark_16bit_png_stays_dark(tmp_path):
    dark = np.tile(np.arange(128, dtype=np.uint16), (4, 1))  # 0..127 of 65535: practically black
    assert cv2.imwrite(str(tmp_path / "dark16.png"), dark)
    a = load_image(tmp_path / "dark16.png")
    assert a.max() <= 1, f"near-black 16-bit image loaded with max {a.max()}"


# -- broken files --------------------------------------------------------------------------------------------
def test_truncated_jpeg_raises_naming_file(tmp_path):
    good = need("samples", "face_recognition", "test_images", "obama.jpg").read_bytes()
    p = tmp_path / "truncated_photo.jpg"
    p.write_bytes(good[: len(good) * 2 // 5])
    with pytest.raises(ImageReadError, match="truncated_photo.jpg"):
        load_image(p)


@pytest.mark.parametrize(
    "content",
    [np.random.default_rng(1).bytes(4096), b"", b"GIF89a-not-really"],
    ids=["random", "empty", "magic"],
)
def test_garbage_with_image_suffix_raises_naming_file(tmp_path, content):
    p = tmp_path / "garbage_file.jpg"
    p.write_bytes(content)
    with pytest.raises(ImageReadError) as ei:
        load_image(p)
    assert "garbage_file.jpg" in str(ei.value)


def test_missing_file_and_folder_raise(tmp_path):
    with pytest.raises(ImageReadError, match="nowhere.png"):
        load_image(tmp_path / "nowhere.png")
    with pytest.raises(ImageReadError, match="a_folder.jpg"):
        (tmp_path / "a_folder.jpg").mkdir()
        load_image(tmp_path / "a_folder.jpg")


def test_corrupt_gif_header_claiming_huge_size_is_an_image_read_error(tmp_path):
    good = need("yale", "subject01", "subject01.normal.gif").read_bytes()
    p = tmp_path / "huge_header.gif"
    p.write_bytes(good[:6] + (65535).to_bytes(2, "little") * 2 + good[10:])  # a flipped size field: 65535²
    with pytest.raises(ImageReadError, match="huge_header.gif"):
        load_image(p)


def test_decompression_bomb_is_an_image_read_error(monkeypatch):
    """Our own limits replace PIL's global one: a non-JPEG over MAX_FULL_DECODE_PIXELS is refused, naming it."""
    import faceunlock.images as images

    p = need("orl", "s1", "1.pgm")  # 10,304 pixels: a "bomb" once the limits are 1,000 / 500
    monkeypatch.setattr(images, "MAX_FULL_DECODE_PIXELS", 1000)
    monkeypatch.setattr(images, "MAX_PIXELS", 500)
    with pytest.raises(ImageReadError, match=r"1\.pgm.*too large"):
        load_image(p)
    monkeypatch.setattr(images, "MAX_FULL_DECODE_PIXELS", 20_000)  # decoded in full, then resized to the cap
    a = load_image(p)
    assert a.shape[0] * a.shape[1] <= 500 and a.shape[0] > a.shape[1]  # 92×112 keeps its portrait shape


# -- helpers ---------------------------------------------------------------------------------------------------
def test_to_rgb8_conversions():
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    _assert_rgb8(to_rgb8(grey), (3, 4))
    _assert_rgb8(to_rgb8(grey[:, :, None]), (3, 4))
    rgba = np.zeros((3, 4, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 7
    out = to_rgb8(rgba)
    assert (out[..., 0] == 200).all() and (out[..., 1:] == 0).all()
    f = to_rgb8(np.full((2, 2, 3), 0.5, np.float32))
    assert (f == 127).all()
    assert (to_rgb8(np.full((2, 2), 300, np.int32)) == 255).all()
    assert (to_rgb8(np.full((2, 2), 65535, np.uint16)) == 255).all()
    with pytest.raises(ValueError):
        to_rgb8(np.zeros((2, 2, 5), np.uint8))


def test_is_image_file(tmp_path):
    for name in ("a.JPG", "b.pgm", ".hidden.png", "c.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "d.png").mkdir()
    found = sorted(p.name for p in tmp_path.iterdir() if is_image_file(p))
    assert found == ["a.JPG", "b.pgm"]
