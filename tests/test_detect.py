"""detect: MTCNN finds real faces (box, score, 5 landmarks in frame pixels); choose_primary picks the user's."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from faceunlock.capture import open_source
from faceunlock.detect import Face, FaceDetector, choose_primary, overlap
from faceunlock.images import load_image
from tests.shared_data import REAL_MOV, need


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    torch.set_num_threads(min(torch.get_num_threads(), 2))
    return FaceDetector()


def _face(x1: float, y1: float, w: float, h: float, score: float = 0.99) -> Face:
    box = np.array([x1, y1, x1 + w, y1 + h], np.float32)
    lm = np.array([[0.3, 0.4], [0.7, 0.4], [0.5, 0.6], [0.35, 0.8], [0.65, 0.8]], np.float32)
    return Face(box, score, lm * np.array([w, h], np.float32) + box[:2])


def _assert_plausible(face: Face, shape: tuple[int, ...]) -> None:
    h, w = shape[:2]
    x1, y1, x2, y2 = face.box
    assert x2 > x1 and y2 > y1
    assert -0.1 * w < x1 and x2 < 1.1 * w and -0.1 * h < y1 and y2 < 1.1 * h
    assert face.score >= 0.9
    assert face.landmarks.shape == (5, 2)
    lm = face.landmarks
    assert (lm[:, 0] >= x1).all() and (lm[:, 0] <= x2).all(), f"landmarks {lm} outside box {face.box}"
    assert (lm[:, 1] >= y1).all() and (lm[:, 1] <= y2).all(), f"landmarks {lm} outside box {face.box}"
    le, re, nose, ml, mr = lm
    assert le[0] < re[0] and ml[0] < mr[0]  # image-left first
    assert max(le[1], re[1]) < nose[1] < min(ml[1], mr[1])  # upright: eyes, nose, mouth top to bottom


@pytest.mark.parametrize("person", ["angelina_jolie", "kate_siegel", "paul_rudd", "shea_whigham"])
def test_real_photos_have_one_plausible_face(detector, person):
    files = sorted(
        p for p in need("samples", "facenet-pytorch", "test_images", person).iterdir() if p.is_file()
    )
    assert files
    image = load_image(files[0])
    faces = detector.detect(image)
    assert len(faces) >= 1
    primary = choose_primary(faces, image.shape)
    assert primary is not None
    _assert_plausible(primary, image.shape)
    # a portrait: the face is a sizeable part of a big photo, mapped back to full resolution
    assert primary.width > 0.1 * image.shape[1]


def test_multiface_photo(detector):
    image = load_image(need("samples", "facenet-pytorch", "multiface.jpg"))
    faces = detector.detect(image)
    assert len(faces) >= 4
    assert [f.score for f in faces] == sorted((f.score for f in faces), reverse=True)
    for f in faces:
        _assert_plausible(f, image.shape)
    primary = choose_primary(faces, image.shape)
    centre = np.array([image.shape[1] / 2, image.shape[0] / 2])

    def off(f: Face) -> float:
        return float(np.linalg.norm(f.centre - centre))

    # nobody is both larger and closer to the centre than the chosen face
    for f in faces:
        assert not (f.area > primary.area and off(f) < off(primary)), (f.box, primary.box)


def test_choose_primary_prefers_centred_face_over_slightly_larger_edge_face():
    shape = (480, 640, 3)
    edge = _face(470, 160, 160, 160)  # larger, at the right edge
    centred = _face(250, 170, 140, 140)  # 23 % smaller area, in the middle
    assert edge.area > centred.area
    assert choose_primary([edge, centred], shape) is centred
    assert choose_primary([centred, edge], shape) is centred
    # but a much larger face beats a tiny centred one
    tiny = _face(305, 225, 30, 30)
    assert choose_primary([tiny, edge], shape) is edge
    # same size: the nearer the centre wins
    a, b = _face(100, 100, 100, 100), _face(260, 180, 100, 100)
    assert choose_primary([a, b], shape) is b
    assert choose_primary([], shape) is None
    assert choose_primary([a], shape) is a


def test_face_geometry():
    f = _face(10, 20, 30, 40)
    assert (f.width, f.height, f.area) == (30, 40, 1200)
    np.testing.assert_allclose(f.centre, [25, 40])
    inverted = Face(np.array([10, 10, 5, 20], np.float32), 0.9, np.zeros((5, 2), np.float32))
    assert inverted.area == 0.0


def test_no_face_in_flat_grey_or_wall(detector):
    assert detector.detect(np.full((480, 640, 3), 128, np.uint8)) == []
    assert detector.primary(np.full((480, 640, 3), 128, np.uint8)) is None
    image = load_image(need("samples", "facenet-pytorch", "multiface.jpg"))
    wall = np.ascontiguousarray(image[:150, :250])  # steps and wall above the group's heads
    assert detector.detect(wall) == []


def test_tiny_frame_has_no_face_instead_of_crashing(detector):
    assert detector.detect(np.full((12, 16, 3), 128, np.uint8)) == []


def test_downscaled_detection_maps_back_to_full_resolution(detector):
    with open_source(str(REAL_MOV), limit=1) as src:
        frame = src.read()
    assert max(frame.shape[:2]) > detector.max_side  # so detection ran on a downscaled copy
    full = detector.primary(frame)
    small = cv2.resize(frame, (480, 270), interpolation=cv2.INTER_AREA)  # the same copy the detector makes
    half = detector.primary(small)
    assert full is not None and half is not None
    np.testing.assert_allclose(full.box, half.box * 2, atol=0.05)
    np.testing.assert_allclose(full.landmarks, half.landmarks * 2, atol=0.05)
    _assert_plausible(full, frame.shape)
    assert full.width > 100  # a webcam face at 960×540, in full-frame pixels


def test_overlap_of_two_faces_is_their_boxes_iou():
    def face(x1, y1, x2, y2):
        return Face(np.array([x1, y1, x2, y2], np.float32), 1.0, np.zeros((5, 2), np.float32))

    a = face(0, 0, 100, 100)
    assert overlap(a, a) == 1.0
    assert overlap(a, face(200, 0, 300, 100)) == 0.0
    assert overlap(a, face(50, 0, 150, 100)) == pytest.approx(5000 / 15000)  # half of each: 1/3
    assert overlap(face(10, 10, 10, 10), face(10, 10, 10, 10)) == 0.0  # no area: no overlap, not NaN
