"""verify: the live frames of the window, fused, against each appearance's centroid; one lucky frame never unlocks."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from faceunlock.calibrate import AttemptCalibration, Calibration
from faceunlock.errors import CalibrationError
from faceunlock.verify import Decision, Verifier, appearance_centroids, fused_distance

THRESHOLD = 0.5


def _calibration(threshold: float = THRESHOLD, required: int = 1) -> Calibration:
    return Calibration(backbone="test-model", arch="dlib-resnet34", sha256="c" * 64, threshold=0.6,
                       target_far=1e-3, far=0.001, far_upper_95=0.002, tar=0.95, tar_lower_95=0.94, n_genuine=100,
                       n_impostor=10000, dataset="synthetic",
                       attempt=AttemptCalibration(threshold=threshold, enrol_threshold=0.6, target_far=1e-4,
                                                  required=required, window=5, enrol=4, probe=5))  # fmt: skip


@pytest.fixture
def templates() -> np.ndarray:
    """Three templates of one appearance, 0.1 around their centroid (other directions are ~1.4 away)."""
    rng = np.random.default_rng(0)
    c = rng.normal(size=128)
    c /= np.linalg.norm(c)
    return np.stack([_at(c, rng, 0.1) for _ in range(3)]).astype(np.float32)


def _at(centre: np.ndarray, rng: np.random.Generator, dist: float) -> np.ndarray:
    """A point at exactly `dist` from `centre`, in a random direction orthogonal to it."""
    v = rng.normal(size=centre.shape[0])
    v -= v @ centre / (centre @ centre) * centre
    return centre + dist * v / np.linalg.norm(v)


def _centroid(templates: np.ndarray) -> np.ndarray:
    return templates.mean(axis=0)


def _impostor(templates: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=templates.shape[1])
    return v / np.linalg.norm(v)


def test_the_fused_window_decides_not_single_frames(templates):
    """Five frames each 0.55 from the centroid (each would fail 0.5 alone), in independent directions: their
    mean is far closer, so the attempt is accepted — what fusion buys; it needs 3 frames first."""
    rng = np.random.default_rng(1)
    c = _centroid(templates)
    v = Verifier(templates, _calibration(required=3), required=3, window=5)
    frames = [_at(c, rng, 0.55) for _ in range(5)]
    results = [v.add(f) for f in frames[:3]]  # the attempt stops once accepted
    assert results == [False, False, True]
    d = v.decision(frames_seen=7, model="test-model")
    assert d.accepted and d.matches == 3 and d.frames_usable == 3 and d.frames_seen == 7 and d.required == 3
    assert all(x == pytest.approx(0.55, abs=1e-4) for x in d.distances)
    assert d.fused_distance == pytest.approx(fused_distance(np.stack(frames[:3]), c[None]), abs=1e-4)
    assert d.fused_distance < 0.4 and f"{THRESHOLD:.4f}" in d.reason


def test_one_lucky_frame_among_impostors_is_not_enough(templates):
    rng = np.random.default_rng(3)
    v = Verifier(templates, _calibration(required=3), required=3, window=5)
    for i in range(20):
        lucky = i == 10
        assert not v.add(_at(_centroid(templates), rng, 0.05) if lucky else _impostor(templates, rng))
    d = v.decision(frames_seen=20, ended="camera stopped")
    assert not d.accepted
    assert min(d.distances) == pytest.approx(0.05, abs=1e-5)
    assert "camera stopped" in d.reason and "best fused distance" in d.reason and d.fused_distance > THRESHOLD


def test_threshold_is_inclusive_and_exact():
    v = Verifier(np.zeros((1, 2), np.float32), _calibration(0.5), required=1, window=1)
    assert v.distance(np.array([0.5, 0.0])) == 0.5
    assert v.add(np.array([0.5, 0.0]))
    v2 = Verifier(np.zeros((1, 2), np.float32), _calibration(0.5), required=1, window=1)
    assert not v2.add(np.array([0.5001, 0.0]))


def test_each_appearance_has_its_centroid(templates):
    """Glasses and no glasses are two appearances: frames near either centroid match, and their centroids are
    not averaged into a point between them that matches neither."""
    rng = np.random.default_rng(4)
    other = np.stack([_at(_impostor(templates, rng), rng, 0.1) for _ in range(3)]).astype(np.float32)
    v = Verifier([templates, other], _calibration(), required=1, window=1)
    assert appearance_centroids([templates, other]).shape == (2, 128)
    assert v.distance(_at(_centroid(other), rng, 0.3)) == pytest.approx(0.3, abs=1e-5)
    assert v.add(_at(_centroid(other), rng, 0.3))
    mixed = Verifier(np.concatenate([templates, other]), _calibration(), required=1, window=1)
    assert not mixed.add(_at(_centroid(other), rng, 0.3))  # one block = one appearance: its centroid is between


def test_nan_embedding_never_matches(templates):
    v = Verifier(templates, _calibration(), required=1, window=1)
    assert not v.add(np.full(128, np.nan))
    assert not v.decision(1).accepted


def test_decision_without_usable_frames_and_serialisable(templates):
    v = Verifier(templates, _calibration())
    d = v.decision(frames_seen=30, model="m", rejected={"too dark": 30}, ended="timeout")
    assert isinstance(d, Decision) and not d.accepted
    assert d.reason == "no usable face in any frame (timeout)"
    assert d.threshold == THRESHOLD and d.distances == [] and d.rejected_frames == {"too dark": 30}
    assert json.loads(json.dumps(d.to_dict()))["frames_seen"] == 30


def test_invalid_setups(templates):
    with pytest.raises(ValueError, match="enrol"):
        Verifier(np.zeros((0, 128), np.float32), _calibration())
    with pytest.raises(ValueError):
        Verifier(templates[0], _calibration())  # one vector, not a template matrix
    with pytest.raises(ValueError):
        Verifier(templates, _calibration(), required=4, window=3)
    with pytest.raises(ValueError):
        Verifier(templates, _calibration(), required=0, window=3)
    old = _calibration()
    old.attempt = None  # a calibration file from before attempt-level calibration
    with pytest.raises(CalibrationError, match="faceunlock calibrate"):
        Verifier(templates, old)


def test_never_fewer_fused_frames_than_calibrated(templates):
    """A window a person chose that needs 2 frames still fuses the calibration's 3: fewer frames would have a
    higher FAR than the one measured."""
    rng = np.random.default_rng(7)
    v = Verifier(templates, _calibration(required=3), required=2, window=3)
    assert v.required == 3 and v.window == 3
    c = _centroid(templates)
    assert not v.add(_at(c, rng, 0.1)) and not v.add(_at(c, rng, 0.1)) and v.add(_at(c, rng, 0.1))


def test_threshold_comes_from_the_attempt_calibration(templates):
    rng = np.random.default_rng(5)
    e = _at(_centroid(templates), rng, 0.45)
    assert Verifier(templates, _calibration(0.5), required=1, window=1).add(e)
    assert not Verifier(templates, _calibration(0.4), required=1, window=1).add(e)
    assert not math.isnan(Verifier(templates, _calibration(0.4)).threshold)


def test_a_close_frame_that_is_not_live_is_not_fused(templates):
    """Liveness and matching on the same frame: close faces judged a photo/screen do not count."""
    rng = np.random.default_rng(5)
    v = Verifier(templates, _calibration(required=3), required=3, window=5)
    for live in (True, False, True, False, False):
        v.add(_at(_centroid(templates), rng, 0.1), live=live)
    assert not v.satisfied
    d = v.decision(frames_seen=5)
    assert d.matches == v.live_in_window == 2 and not d.accepted and d.fused_distance is None
    assert all(x <= THRESHOLD for x in d.distances)  # every frame was close: liveness made the difference
    assert "never 3 live frames" in d.reason


def test_reset_forgets_the_window_not_the_record(templates):
    rng = np.random.default_rng(6)
    c = _centroid(templates)
    v = Verifier(templates, _calibration(required=3), required=3, window=5)
    v.add(_at(c, rng, 0.1))
    v.add(_at(c, rng, 0.1))
    v.reset()  # another face took over
    assert not v.add(_at(c, rng, 0.1))
    assert len(v.distances) == 3 and v.live_in_window == 1
    assert v.add(_at(c, rng, 0.1)) is False and v.add(_at(c, rng, 0.1)) is True
