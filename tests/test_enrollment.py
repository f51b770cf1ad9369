"""enrollment: real webcam frames become a few diverse templates; no face, or two people, is refused with a reason."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from faceunlock.calibrate import AttemptCalibration, Calibration
from faceunlock.capture import open_source
from faceunlock.detect import FaceDetector
from faceunlock.embed import pairwise_distances
from faceunlock.enrollment import EnrollmentError, EnrollmentSession, farthest_point_sample
from faceunlock.images import load_image
from faceunlock.pipeline import FaceProcessor
from faceunlock.poses import PoseCoverage, default_bins
from faceunlock.weights import resolve_backbone
from tests.shared_data import REAL_MOV, need


# -- farthest point sampling -----------------------------------------------------------------------------------
def test_farthest_point_sample_small_sets_are_returned_whole():
    emb = np.eye(4)
    assert farthest_point_sample(emb, 4) == [0, 1, 2, 3]
    assert farthest_point_sample(emb, 10) == [0, 1, 2, 3]
    assert farthest_point_sample(np.zeros((0, 3)), 2) == []


def test_farthest_point_sample_spreads_out():
    # a tight cluster at the origin plus four far corners: the medoid starts, then the corners
    rng = np.random.default_rng(0)
    cluster = rng.normal(0, 0.01, (20, 2))
    corners = np.array([[5.0, 5.0], [-5.0, 5.0], [5.0, -5.0], [-5.0, -5.0]])
    emb = np.vstack([cluster, corners])
    sel = farthest_point_sample(emb, 5)
    assert sel[0] < 20  # the medoid is in the cluster
    assert sorted(sel[1:]) == [20, 21, 22, 23]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 40), k=st.integers(1, 12), dim=st.integers(1, 16), seed=st.integers(0, 2**32 - 1))
def test_farthest_point_sample_properties(n, k, dim, seed):
    emb = np.random.default_rng(seed).normal(size=(n, dim))  # distinct rows (continuous draws)
    sel = farthest_point_sample(emb, k)
    assert len(sel) == min(n, k)
    assert len(set(sel)) == len(sel) and all(0 <= i < n for i in sel)
    if n <= k:
        return
    d = pairwise_distances(emb, emb)
    assert sel[0] == int(np.argmin(d.sum(1)))  # starts at the medoid
    for j in range(1, len(sel)):  # greedy: each pick is a farthest point from those already picked
        min_to_chosen = d[:, sel[:j]].min(1)
        assert min_to_chosen[sel[j]] == pytest.approx(min_to_chosen.max())


def test_farthest_point_sample_never_repeats_with_duplicate_rows():
    emb = np.array([[0, 0], [1, 0], [0, 1]] * 2, float)
    sel = farthest_point_sample(emb, 5)
    assert len(set(sel)) == len(sel)


# -- the session, on real frames ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def processor() -> FaceProcessor:
    torch.set_num_threads(min(torch.get_num_threads(), 2))
    backbone = resolve_backbone("dlib-resnet34")
    return FaceProcessor(backbone, FaceDetector(device=backbone.device))


@pytest.fixture(scope="module")
def calibration(processor) -> Calibration:
    bb = processor.backbone
    return Calibration(backbone=bb.name, arch=bb.arch, sha256=bb.sha256, threshold=0.5, target_far=1e-3,
                       far=0.001, far_upper_95=0.002, tar=0.95, tar_lower_95=0.94, n_genuine=100, n_impostor=10000,
                       dataset="test stand-in",
                       attempt=AttemptCalibration(threshold=0.4, enrol_threshold=0.5, target_far=1e-4, required=3,
                                                  window=5, enrol=4, probe=5))  # fmt: skip


@pytest.fixture(scope="module")
def mov_frames() -> list[np.ndarray]:
    """Every 5th of the first 60 frames of real.mov: 12 frames, the pose variety of 4 seconds of video."""
    need("liveness", "webcam-replay", "real.mov")
    with open_source(str(REAL_MOV), limit=12, step=5) as src:
        frames = list(src)
    assert len(frames) == 12
    return frames


@pytest.fixture(scope="module")
def enrolled(processor, calibration, mov_frames):
    straight = PoseCoverage(default_bins(10, 0))  # these tests are about frames and people, not poses
    session = EnrollmentSession(processor, calibration, n_templates=5, coverage=straight)
    results = [session.offer(f) for f in mov_frames]
    return session, results, session.finish()


@pytest.mark.slow
def test_enrol_from_real_video(enrolled, processor, calibration):
    session, results, res = enrolled
    assert session.frames_seen == 12 and res.frames_seen == 12
    assert session.done and session.progress == 1.0
    assert res.frames_usable == len(session.chips) == 10
    assert sum(r.usable for r in results) >= 10
    assert res.outliers == 0
    assert res.embeddings.shape[1] == 128 and 1 <= len(res.embeddings) <= 5
    assert len(np.unique(res.embeddings, axis=0)) == len(res.embeddings)  # diverse, not copies
    # every template is the same person as the video's faces
    chips_emb = processor.backbone.embed(np.stack(session.chips))
    d = pairwise_distances(res.embeddings, chips_emb)
    assert np.median(d) < calibration.threshold
    usable = next(r for r in results if r.usable)
    assert usable.message == "Face found" and usable.n_faces >= 1 and usable.chip.shape == (150, 150, 3)


@pytest.mark.slow
def test_a_strict_threshold_makes_everything_an_outlier(enrolled, calibration):
    session, _, _ = enrolled
    strict = EnrollmentSession(session.processor, replace(calibration, attempt=replace(calibration.attempt, enrol_threshold=1e-3)), target_frames=10)
    strict.chips, strict.frames_seen = list(session.chips), session.frames_seen  # the same accepted chips
    with pytest.raises(EnrollmentError, match="do not match the others"):
        strict.finish()


def test_frames_without_a_face_are_refused_with_the_reason(processor, calibration):
    session = EnrollmentSession(processor, calibration, target_frames=8)
    for _ in range(4):
        r = session.offer(np.full((480, 640, 3), 120, np.uint8))
        assert r.face is None and not r.usable and r.message.startswith("No face found")
    assert session.progress == 0.0 and not session.done
    with pytest.raises(EnrollmentError) as ei:
        session.finish()
    msg = str(ei.value)
    assert "only 0 usable frames of 4" in msg and "no face: 4" in msg


def test_duplicate_still_is_counted_once(processor, calibration):
    image = load_image(need("yale", "subject01", "subject01.normal.gif"))
    session = EnrollmentSession(processor, calibration, target_frames=4)
    assert session.offer(image).usable
    assert session.offer(image).usable  # usable, but the same picture again
    assert len(session.chips) == 1 and session.rejected["duplicate frame"] == 1
    with pytest.raises(EnrollmentError, match="duplicate frame: 1"):
        session.finish()


@pytest.mark.slow
def test_two_people_are_refused(processor, calibration, mov_frames):
    session = EnrollmentSession(processor, calibration, coverage=PoseCoverage(default_bins(11, 0)))
    for f in mov_frames[:7]:
        session.offer(f)
    for d, f in [
        ("subject02", "normal"),
        ("subject03", "normal"),
        ("subject04", "normal"),
        ("subject05", "normal"),
    ]:
        r = session.offer(load_image(need("yale", d, f"{d}.{f}.gif")))
        assert r.usable, r.quality
    assert len(session.chips) >= 10
    with pytest.raises(EnrollmentError, match="one person only"):
        session.finish()


def test_quality_rejections_are_counted(processor, calibration, mov_frames):
    session = EnrollmentSession(processor, calibration, target_frames=4)
    dark = (mov_frames[0].astype(np.float32) * 0.15).astype(np.uint8)
    r = session.offer(dark)
    if r.face is None:
        pytest.skip("MTCNN does not see the darkened face")
    assert not r.usable and r.message.startswith("Too dark")
    assert session.rejected["too dark"] == 1


@pytest.mark.slow
def test_default_pose_quotas_on_real_video(processor, calibration, mov_frames):
    """With the default quotas (60 % straight) a straight-on video fills the straight quota, then its further
    straight frames are refused with the next instruction; it can still be finished (the wizard's button, the
    CLI at the end of the source)."""
    session = EnrollmentSession(processor, calibration, target_frames=10)
    results = [session.offer(f) for f in mov_frames]
    straight, left, right = session.coverage.bins
    assert straight.quota == 6 and straight.count == 6 and len(session.chips) == 6 + left.count + right.count
    assert session.can_finish
    covered = [r for r in results if r.quality is not None and "pose already captured" in r.quality.reasons]
    assert covered and all(r.message.startswith("Turn your head") for r in covered)
    assert session.rejected["pose already captured"] == len(covered)
    assert len(session.finish().embeddings) >= 3
