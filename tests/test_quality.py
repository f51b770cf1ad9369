"""quality: real webcam frames pass; darkened, blurred, small or turned faces fail with a reason and a fix."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from faceunlock.capture import open_source
from faceunlock.detect import Face, FaceDetector
from faceunlock.quality import QualityLimits, assess, face_region, head_pose
from tests.shared_data import REAL_MOV, need


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    torch.set_num_threads(min(torch.get_num_threads(), 2))
    return FaceDetector()


@pytest.fixture(scope="module")
def frames() -> dict[int, np.ndarray]:
    """real.mov frames 0, 40 (frontal) and 120, 140 (head turned one way, then the other)."""
    need("liveness", "webcam-replay", "real.mov")
    wanted, out = {0, 40, 120, 140}, {}
    with open_source(str(REAL_MOV), limit=141) as src:
        for i, f in enumerate(src):
            if i in wanted:
                out[i] = f
    assert set(out) == wanted
    return out


@pytest.fixture(scope="module")
def faces(detector, frames) -> dict[int, Face]:
    out = {i: detector.primary(f) for i, f in frames.items()}
    assert all(f is not None for f in out.values())
    return out


@pytest.mark.parametrize("i", [0, 40])
def test_real_frontal_frames_pass(frames, faces, i):
    q = assess(frames[i], faces[i])
    assert q.ok, q.reasons
    assert q.reasons == [] and q.guidance == ""
    lim = QualityLimits()
    assert q.size >= lim.min_face_px and lim.min_brightness <= q.brightness <= lim.max_brightness
    assert q.sharpness >= lim.min_sharpness and abs(q.yaw) <= lim.max_yaw and abs(q.roll) <= lim.max_roll_deg


def test_darkened_frame_is_too_dark(frames, faces):
    dark = (frames[0].astype(np.float32) * 0.15).astype(np.uint8)
    q = assess(dark, faces[0])
    assert not q.ok
    assert any(r.startswith("too dark") for r in q.reasons), q.reasons
    assert "dark" in q.guidance.lower()


def test_overexposed_frame(frames, faces):
    bright = np.clip(frames[0].astype(np.int32) * 3 + 100, 0, 255).astype(np.uint8)
    q = assess(bright, faces[0])
    assert not q.ok and any(r.startswith("overexposed") for r in q.reasons), q.reasons
    assert q.guidance


def test_blurred_frame_is_blurred(frames, faces):
    blurred = cv2.GaussianBlur(frames[0], (31, 31), 0)
    q = assess(blurred, faces[0])
    assert not q.ok
    assert any(r.startswith("blurred") for r in q.reasons), q.reasons
    assert q.sharpness < assess(frames[0], faces[0]).sharpness / 5
    assert q.guidance == "Hold still"


def test_quarter_size_frame_is_too_small(detector, frames):
    f = frames[0]
    small = cv2.resize(f, (f.shape[1] // 4, f.shape[0] // 4), interpolation=cv2.INTER_AREA)
    face = detector.primary(small)
    assert face is not None, "MTCNN should still find the face at 240×135"
    q = assess(small, face)
    assert not q.ok
    assert any(r.startswith("face too small") for r in q.reasons), q.reasons
    assert q.guidance == "Move closer to the camera"


def test_real_turned_heads_have_opposite_signed_yaw(frames, faces):
    q120, q140 = assess(frames[120], faces[120]), assess(frames[140], faces[140])
    assert not q120.ok and not q140.ok
    assert any(r.startswith("head turned") for r in q120.reasons)
    assert any(r.startswith("head turned") for r in q140.reasons)
    assert q120.yaw * q140.yaw < 0, (q120.yaw, q140.yaw)
    assert q120.guidance and q140.guidance and q120.guidance != q140.guidance


# -- head pose from synthetic landmarks --------------------------------------------------------------------------
FRONTAL = np.array([[40.0, 40.0], [80.0, 40.0], [60.0, 62.0], [45.0, 84.0], [75.0, 84.0]])


def _face(landmarks: np.ndarray, box=(20.0, 10.0, 100.0, 110.0)) -> Face:
    return Face(np.array(box, np.float32), 0.99, np.asarray(landmarks, np.float32))


def _rotate(pts: np.ndarray, deg: float, centre=(60.0, 60.0)) -> np.ndarray:
    t = math.radians(deg)
    r = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    return (pts - centre) @ r.T + centre


def test_head_pose_frontal():
    yaw, pitch, roll = head_pose(_face(FRONTAL))
    assert yaw == pytest.approx(0, abs=1e-6)
    assert pitch == pytest.approx(22 / 44)
    assert roll == pytest.approx(0, abs=1e-6)


@pytest.mark.parametrize("dx", [-12.0, -4.0, 4.0, 12.0])
def test_head_pose_signed_yaw(dx):
    lm = FRONTAL.copy()
    lm[2, 0] += dx  # nose moved towards image-right (dx > 0) or image-left
    yaw, _, _ = head_pose(_face(lm))
    assert yaw == pytest.approx(dx / 40)
    # the same face rolled by 20°: yaw is measured along the eye axis, so it does not change
    yaw_r, _, roll_r = head_pose(_face(_rotate(lm, 20)))
    assert yaw_r == pytest.approx(dx / 40)
    assert roll_r == pytest.approx(20)


def test_head_pose_pitch_and_roll():
    up = FRONTAL.copy()
    up[2, 1] = 44.0  # nose almost at eye level: head tilted back
    assert head_pose(_face(up))[1] == pytest.approx(4 / 44)
    assert head_pose(_face(_rotate(FRONTAL, -30)))[2] == pytest.approx(-30)


def test_assess_pose_gates_with_guidance(frames, faces):
    """A real frame, with the landmarks of the real face moved: each pose gate names itself and a fix."""
    real = faces[0]
    lm = real.landmarks.astype(np.float64)
    ed = float(np.linalg.norm(lm[1] - lm[0]))

    turned = lm.copy()
    turned[2, 0] += 0.5 * ed
    q = assess(frames[0], Face(real.box, real.score, turned.astype(np.float32)))
    assert not q.ok and q.reasons[0].startswith("head turned") and "right" in q.guidance

    turned[2, 0] -= 1.0 * ed
    q = assess(frames[0], Face(real.box, real.score, turned.astype(np.float32)))
    assert not q.ok and "left" in q.guidance

    centre = real.centre.astype(np.float64)
    q = assess(frames[0], Face(real.box, real.score, _rotate(lm, 40, centre).astype(np.float32)))
    assert not q.ok and q.reasons[0].startswith("head tilted") and q.guidance == "Keep your head upright"

    down = lm.copy()
    down[2, 1] = (down[3, 1] + down[4, 1]) / 2  # nose at mouth level
    q = assess(frames[0], Face(real.box, real.score, down.astype(np.float32)))
    assert not q.ok and "down" in q.reasons[0] and q.guidance


def test_face_region_handles_box_outside_frame():
    image = np.full((50, 60, 3), 200, np.uint8)
    patch = face_region(image, _face(FRONTAL, box=(-30, -20, 40, 45)), size=32)
    assert patch.shape == (32, 32) and patch.dtype == np.uint8 and (patch == 200).all()
    empty = face_region(image, _face(FRONTAL, box=(100, 100, 150, 150)), size=32)
    assert empty.shape == (32, 32) and (empty == 0).all()
    # an empty region is dark and flat: it can never pass the gates
    assert not assess(image, _face(FRONTAL, box=(100, 100, 190, 190))).ok
