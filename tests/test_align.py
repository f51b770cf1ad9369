"""align: the similarity transform is exact, never mirrors, and warping puts landmarks on the template."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faceunlock.align import crop_box, similarity_transform, warp_to_template
from faceunlock.backbones.dlib_resnet import DLIB_TEMPLATE_150

# MTCNN-like landmarks of a face in a 640×480 frame: left eye, right eye, nose, mouth left, mouth right
LANDMARKS = np.array([[282.0, 210.0], [348.0, 214.0], [314.0, 250.0], [288.0, 282.0], [342.0, 285.0]])


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:, :2].T + m[:, 2]


def _similarity(theta: float, scale: float, tx: float, ty: float) -> np.ndarray:
    c, s = math.cos(theta), math.sin(theta)
    return np.array([[scale * c, -scale * s, tx], [scale * s, scale * c, ty]])


@settings(max_examples=60, deadline=None)
@given(
    theta=st.floats(-math.pi + 1e-3, math.pi - 1e-3),
    scale=st.floats(0.05, 20.0),
    tx=st.floats(-500, 500),
    ty=st.floats(-500, 500),
)
def test_recovers_known_similarity_exactly(theta, scale, tx, ty):
    truth = _similarity(theta, scale, tx, ty)
    dst = _apply(truth, LANDMARKS)
    m = similarity_transform(LANDMARKS, dst)
    assert m.shape == (2, 3)
    np.testing.assert_allclose(m, truth, rtol=1e-7, atol=1e-6 * max(1.0, scale))
    np.testing.assert_allclose(_apply(m, LANDMARKS), dst, atol=1e-6 * max(1.0, scale) * 500)


def test_specific_rotation_scale_translation():
    truth = _similarity(math.radians(30), 0.5, -100.0, 40.0)
    m = similarity_transform(LANDMARKS, _apply(truth, LANDMARKS))
    np.testing.assert_allclose(m, truth, atol=1e-9)
    assert math.degrees(math.atan2(m[1, 0], m[0, 0])) == pytest.approx(30)
    assert math.hypot(m[0, 0], m[1, 0]) == pytest.approx(0.5)


def test_never_reflects():
    mirrored = LANDMARKS * np.array([-1.0, 1.0]) + np.array([640.0, 0.0])  # a mirror image of the face
    m = similarity_transform(LANDMARKS, mirrored)
    assert np.linalg.det(m[:, :2]) > 0, "the fitted transform mirrors the face"
    # a proper similarity cannot map a face onto its mirror image: the fit leaves a residual
    residual = np.abs(_apply(m, LANDMARKS) - mirrored).max()
    assert residual > 1.0
    # and the scale of the 2×2 part is that of a rotation times a scale
    r = m[:, :2] / math.sqrt(np.linalg.det(m[:, :2]))
    np.testing.assert_allclose(r @ r.T, np.eye(2), atol=1e-9)


def test_least_squares_with_noisy_points_stays_a_similarity():
    rng = np.random.default_rng(0)
    truth = _similarity(0.2, 1.7, 10, -5)
    dst = _apply(truth, LANDMARKS) + rng.normal(0, 0.5, LANDMARKS.shape)
    m = similarity_transform(LANDMARKS, dst)
    a = m[:, :2]
    assert a[0, 0] == pytest.approx(a[1, 1]) and a[0, 1] == pytest.approx(-a[1, 0])
    np.testing.assert_allclose(a, truth[:, :2], atol=0.03)  # translation error scales with the coordinates
    assert np.abs(_apply(m, LANDMARKS) - dst).max() < 2.0


def test_warp_puts_landmarks_on_template():
    size = 150
    template = DLIB_TEMPLATE_150.astype(np.float64)
    # landmarks that are an exact similarity image of the template, in a bigger frame
    frame_from_chip = _similarity(math.radians(-12), 2.3, 200.0, 90.0)
    landmarks = _apply(frame_from_chip, template)
    m = similarity_transform(landmarks, template)
    np.testing.assert_allclose(_apply(m, landmarks), template, atol=1e-6)

    # pixels: a bright dot at each landmark must land on the template point in the chip
    image = np.zeros((600, 800, 3), np.uint8)
    for i, (x, y) in enumerate(landmarks):
        cv2.circle(image, (round(x), round(y)), 4, (50 * (i + 1), 255, 0), -1)
    chip = warp_to_template(image, landmarks, DLIB_TEMPLATE_150, size)
    assert chip.shape == (size, size, 3) and chip.dtype == np.uint8
    for i, (tx, ty) in enumerate(template):
        r = 3
        x0, y0 = int(round(tx)), int(round(ty))
        patch = chip[y0 - r : y0 + r + 1, x0 - r : x0 + r + 1, 0].astype(int)
        assert np.abs(patch - 50 * (i + 1)).min() <= 25, f"landmark {i} not at template point {(tx, ty)}"
        assert chip[y0, x0, 1] > 150


def test_warp_real_landmarks_close_to_template():
    m = similarity_transform(LANDMARKS, DLIB_TEMPLATE_150)
    err = np.linalg.norm(_apply(m, LANDMARKS) - DLIB_TEMPLATE_150, axis=1)
    assert err.max() < 6.0  # a frontal face fits the template within a few chip pixels
    chip = warp_to_template(np.zeros((480, 640, 3), np.uint8), LANDMARKS, DLIB_TEMPLATE_150, 150)
    assert chip.shape == (150, 150, 3)


def test_crop_box_shapes_and_content():
    image = np.zeros((200, 300, 3), np.uint8)
    image[50:150, 100:180] = (255, 0, 0)
    chip = crop_box(image, np.array([100, 50, 180, 150]), 160)
    assert chip.shape == (160, 160, 3) and chip.dtype == np.uint8
    assert (chip[..., 0] == 255).all() and (chip[..., 1:] == 0).all()
    with_margin = crop_box(image, np.array([100, 50, 180, 150]), 160, margin=32)
    assert with_margin.shape == (160, 160, 3)
    assert (with_margin[0, :, 0] == 0).all() and (with_margin[80, 80, 0] == 255)  # border grew into black
    # partly outside the frame: clipped, still a full chip
    edge = crop_box(image, np.array([-40, -30, 60, 80]), 112, margin=10)
    assert edge.shape == (112, 112, 3)
    # entirely outside: a clear error, not an empty array
    with pytest.raises(ValueError):
        crop_box(image, np.array([400, 300, 500, 400]), 160)
