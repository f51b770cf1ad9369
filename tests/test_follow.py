"""Following the face between frames (decision 024): searching around the previous frame's face finds the box the
whole-frame search finds, bit for bit, on real consecutive video frames — and the stream still searches the
whole frame when the face is not where it was, and every REFRESH_FRAMES-th frame, so a better-placed face takes
over from a bystander."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from faceunlock.capture import SlicedSource, open_source
from faceunlock.detect import FOLLOW_MIN_OVERLAP, Face, choose_primary, follow_zone
from faceunlock.images import load_image
from faceunlock.mtcnn import PNET_STRIDE, PNET_WINDOW, _area, _level_span
from faceunlock.pipeline import REFRESH_FRAMES, FaceProcessor, FaceStream
from faceunlock.weights import resolve_backbone
from tests.shared_data import REAL_MOV, need


@pytest.fixture(scope="module")
def processor() -> FaceProcessor:
    return FaceProcessor(resolve_backbone("dlib-resnet34", compiled=True))


def _consecutive(path, start: int, n: int) -> list[np.ndarray]:
    with SlicedSource(open_source(str(path)), skip=start, limit=n) as src:
        return list(src)


def test_a_level_block_gives_the_whole_levels_p_net_outputs(processor):
    """The pyramid cells of a block use the whole level's cell bounds, and P-Net's outputs on the block are the
    whole level's outputs there, bit for bit: the ground the following search stands on."""
    pnet = processor.detector._mtcnn.pnet  # the detector's own network, as the product runs it
    img = load_image(need("samples", "face_recognition", "two_people.jpg"))
    integral = cv2.integral(np.ascontiguousarray(img), sdepth=cv2.CV_64F)
    h, w = img.shape[:2]
    z, lh, lw = np.zeros(1, np.int64), int(h * 0.3 + 1), int(w * 0.3 + 1)
    whole = _area(integral, z, z, np.full(1, w), np.full(1, h), lh, lw)
    for rows, cols in ((_level_span(40.0, 160.0, 0.3, lh), _level_span(100.0, 300.0, 0.3, lw)),
                       (_level_span(200.0, 9e9, 0.3, lh), _level_span(-50.0, 90.0, 0.3, lw))):  # fmt: skip
        block = _area(integral, z, z, np.full(1, w), np.full(1, h), lh, lw, rows, cols)
        assert np.array_equal(block, whole[:, :, rows[0] : rows[1], cols[0] : cols[1]])
        (reg_w, prob_w), (reg_b, prob_b) = pnet(whole), pnet(block)
        r0, c0 = rows[0] // PNET_STRIDE, cols[0] // PNET_STRIDE
        oh, ow = prob_b.shape[2:]
        assert np.array_equal(prob_b, prob_w[:, :, r0 : r0 + oh, c0 : c0 + ow])
        assert np.array_equal(reg_b, reg_w[:, :, r0 : r0 + oh, c0 : c0 + ow])


def test_a_level_span_holds_every_output_whose_box_reaches_the_span():
    """Every P-Net output of the whole level whose box reaches [lo, hi] is among the block's outputs, and the
    block reads no cell past its end (even length, or it ends where the level ends)."""
    rng = np.random.default_rng(7)
    for _ in range(3000):
        s, n = float(rng.uniform(0.02, 0.6)), int(rng.integers(12, 400))
        lo = float(rng.uniform(-100, n / s + 50))
        hi = lo + float(rng.uniform(0, 300))
        a, b = _level_span(lo, hi, s, n)
        k = np.arange((n + 1) // 2 - 5)  # the whole level's outputs
        x1 = np.floor((PNET_STRIDE * k + 1).astype(np.float32) / np.float32(s))
        x2 = np.floor((PNET_STRIDE * k + PNET_WINDOW).astype(np.float32) / np.float32(s))
        reach = k[(x2 >= lo) & (x1 <= hi)]
        assert a % PNET_STRIDE == 0 and ((b - a) % 2 == 0 or b == n)
        outputs = max(0, (b - a + 1) // 2 - 5)  # what P-Net makes from the block
        assert all(a // PNET_STRIDE <= r < a // PNET_STRIDE + outputs for r in reach), (lo, hi, s, n, a, b)


@pytest.mark.parametrize(("video", "start"), [(REAL_MOV, 100), ("samples/face_recognition/short_hamilton_clip.mp4", 120)])
def test_following_finds_the_whole_frame_searchs_box(processor, video, start):
    path = video if video == REAL_MOV else need(*video.split("/"))
    stream, followed = FaceStream(processor), 0
    for frame in _consecutive(path, start, 25):
        full, mine = processor.analyze(frame), stream.analyze(frame)
        assert (full.face is None) == (mine.face is None)
        if mine.followed:
            followed += 1
            assert np.array_equal(mine.face.box, full.face.box)
            assert np.array_equal(mine.face.landmarks, full.face.landmarks)
            assert (mine.chip is None) == (full.chip is None)
            if mine.chip is not None:
                assert np.array_equal(mine.chip, full.chip)
    assert followed >= 20  # 25 frames: the first and the refresh search the whole frame


def test_every_refresh_frames_th_frame_searches_the_whole_frame(processor):
    stream = FaceStream(processor)
    flags = [stream.analyze(f).followed for f in _consecutive(REAL_MOV, 100, 2 * REFRESH_FRAMES)]
    assert flags[0] is False and flags[REFRESH_FRAMES] is False
    assert all(flags[1:REFRESH_FRAMES]) and all(flags[REFRESH_FRAMES + 1 :])


def test_a_face_that_moved_away_is_searched_for_in_the_whole_frame(processor):
    frames = _consecutive(REAL_MOV, 100, 2)
    stream = FaceStream(processor)
    first = stream.analyze(frames[0])
    moved = np.ascontiguousarray(np.roll(frames[1], frames[1].shape[1] // 2, axis=1))  # the face jumps half a frame
    r = stream.analyze(moved)
    assert not r.followed
    assert r.face is not None and abs(r.face.centre[0] - first.face.centre[0]) > frames[1].shape[1] / 4
    assert np.array_equal(r.face.box, processor.analyze(moved).face.box)


def test_a_better_placed_face_takes_over_from_a_bystander_by_the_refresh(processor):
    """The stream starts on the one face in view; when the face the whole-frame search prefers comes into view,
    following keeps the first until the next whole-frame search, which chooses the primary face afresh."""
    img = load_image(need("samples", "face_recognition", "two_people.jpg"))
    primary = processor.analyze(img).face
    faces = processor.detector.detect(img)
    assert primary is not None and len(faces) == 2
    other = next(f for f in faces if not _same(f, primary))
    hidden = img.copy()
    x1, y1, x2, y2 = (int(v) for v in primary.box)
    hidden[max(y1 - 40, 0) : y2 + 40, max(x1 - 40, 0) : x2 + 40] = 0  # the primary face not yet in view
    stream = FaceStream(processor)
    assert _same(stream.analyze(hidden).face, other)
    seen = [stream.analyze(img) for _ in range(REFRESH_FRAMES)]
    assert all(r.followed and _same(r.face, other) for r in seen[:-1])
    assert not seen[-1].followed and _same(seen[-1].face, primary)


def test_the_zone_is_the_face_grown_by_half_its_width():
    face = Face(np.array([100.0, 50.0, 200.0, 170.0]), 1.0, np.zeros((5, 2)))
    zone = follow_zone(face, 0.5)
    assert zone.box == (25.0, 0.0, 125.0, 110.0)
    assert (zone.min_window, zone.max_window) == (25.0, 150.0)
    assert zone.face == (50.0, 25.0, 100.0, 85.0) and zone.min_overlap == FOLLOW_MIN_OVERLAP > 0


def test_candidates_barely_overlapping_the_face_are_dropped_before_r_net_and_change_nothing(processor):
    """On consecutive frames of the interview clip (a second face, a busy background), the candidates that
    overlap the followed face by under FOLLOW_MIN_OVERLAP are a third of R-Net's batch; leaving them out gives
    the same faces, bit for bit, as keeping them."""
    mtcnn = processor.detector._mtcnn
    frames = _consecutive(need("samples", "face_recognition", "short_hamilton_clip.mp4"), 120, 12)
    small = [cv2.resize(f, (480, 270), interpolation=cv2.INTER_AREA) for f in frames]
    seen, rnet = [0], mtcnn.rnet

    def counting(x):
        seen[-1] += len(x)
        return rnet(x)

    mtcnn.rnet = counting
    try:
        prev, batches = None, {}
        for img in small:
            prev = prev or choose_primary(processor.detector.detect(img), img.shape)
            zone = follow_zone(prev)
            out = {}
            for floor in (zone.min_overlap, 0.0):
                seen.append(0)
                out[floor] = mtcnn.detect(img, 20, zone=dataclasses.replace(zone, min_overlap=floor))
                batches.setdefault(floor, []).append(seen[-1])
            for a, b in zip(out[zone.min_overlap], out[0.0], strict=True):
                assert np.array_equal(a, b)
            boxes, _, marks = out[0.0]
            prev = Face(boxes[0], 1.0, marks[0]) if len(boxes) else None
    finally:
        mtcnn.rnet = rnet
    assert sum(batches[FOLLOW_MIN_OVERLAP]) < 0.8 * sum(batches[0.0])


def _same(a: Face | None, b: Face) -> bool:
    return a is not None and float(np.abs(a.centre - b.centre).max()) < 0.25 * b.width
