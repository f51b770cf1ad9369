"""capture: a video file, a folder of stills or a webcam index behind one frame-source interface."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from faceunlock.capture import ImageSource, SlicedSource, VideoCaptureSource, open_source
from faceunlock.errors import CameraError
from tests.shared_data import REAL_MOV, need


@pytest.fixture(scope="module")
def first_bgr_frames() -> list[np.ndarray]:
    """The first 25 frames of real.mov straight from OpenCV (BGR): the reference for what the source yields."""
    cap = cv2.VideoCapture(str(need("liveness", "webcam-replay", "real.mov")))
    frames = []
    for _ in range(25):
        ok, f = cap.read()
        assert ok
        frames.append(f)
    cap.release()
    return frames


def test_video_file_frames_count_and_format(first_bgr_frames):
    cap = cv2.VideoCapture(str(REAL_MOV))
    expected = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    assert 190 <= expected <= 210
    with open_source(str(REAL_MOV)) as src:
        assert isinstance(src, VideoCaptureSource)
        assert src.fps == pytest.approx(15, abs=0.5)
        n, first = 0, None
        for frame in src:
            if first is None:
                first = frame
            assert frame.shape == (540, 960, 3) and frame.dtype == np.uint8
            n += 1
    assert abs(n - expected) <= 2, f"{n} frames read, container says {expected}"
    # RGB, not OpenCV's BGR
    np.testing.assert_array_equal(first, first_bgr_frames[0][:, :, ::-1])


def test_closed_source_yields_nothing():
    src = open_source(REAL_MOV)  # a Path works too
    with src:
        assert src.read() is not None
    assert src.read() is None
    src.close()  # twice is fine


def test_skip_limit_step(first_bgr_frames):
    with open_source(str(REAL_MOV), skip=10, limit=5, step=3) as src:
        assert isinstance(src, SlicedSource)
        got = list(src)
    assert len(got) == 5
    for frame, i in zip(got, [10, 13, 16, 19, 22], strict=True):
        np.testing.assert_array_equal(frame, first_bgr_frames[i][:, :, ::-1])

    with open_source(str(REAL_MOV), limit=3) as src:
        got = list(src)
    assert len(got) == 3
    np.testing.assert_array_equal(got[2], first_bgr_frames[2][:, :, ::-1])

    with open_source(str(REAL_MOV), limit=0) as src:
        assert list(src) == []


def test_skip_past_the_end_ends_cleanly():
    with open_source(str(REAL_MOV), skip=100_000) as src:
        assert src.read() is None


def test_image_folder_skips_corrupt_file_and_reports_it(tmp_path):
    a, b = need("orl", "s1", "1.pgm"), need("orl", "s2", "1.pgm")
    shutil.copy(a, tmp_path / "a.pgm")
    (tmp_path / "b_corrupt.jpg").write_bytes(np.random.default_rng(0).bytes(2000))
    shutil.copy(b, tmp_path / "c.pgm")
    (tmp_path / "notes.txt").write_text("not an image")
    with open_source(str(tmp_path)) as src:
        assert isinstance(src, ImageSource)
        frames = list(src)
        assert src.last_path == tmp_path / "c.pgm"
    assert len(frames) == 2
    assert all(f.shape == (112, 92, 3) and f.dtype == np.uint8 for f in frames)
    assert len(src.problems) == 1 and "b_corrupt.jpg" in src.problems[0]
    assert not np.array_equal(frames[0], frames[1])


def test_list_of_images_and_single_image():
    files = [str(need("orl", "s1", f"{i}.pgm")) for i in (1, 2, 3)]
    with open_source(files, step=2) as src:
        assert len(list(src)) == 2
    with open_source(files[0]) as src:
        assert isinstance(src, ImageSource)
        assert len(list(src)) == 1


@pytest.mark.parametrize("spec", [99, "99"])
def test_absent_camera_is_camera_error(spec):
    with pytest.raises(CameraError, match="camera 99"):
        open_source(spec)


def test_bad_paths_are_camera_errors(tmp_path):
    with pytest.raises(CameraError, match="does-not-exist.mov"):
        open_source(str(tmp_path / "does-not-exist.mov"))
    (tmp_path / "readme.txt").write_text("hello")
    with pytest.raises(CameraError, match="readme.txt"):
        open_source(str(tmp_path / "readme.txt"))
    (tmp_path / "broken.mp4").write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(CameraError, match="broken.mp4"):
        open_source(str(tmp_path / "broken.mp4"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(CameraError, match="no images"):
        open_source(str(tmp_path / "empty"))
    with pytest.raises(CameraError, match="missing.png"):
        open_source([str(need("orl", "s1", "1.pgm")), str(tmp_path / "missing.png")])
