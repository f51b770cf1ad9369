"""verify: `required` matching frames within the last `window`; one lucky frame never unlocks."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from faceunlock.calibrate import Calibration
from faceunlock.verify import Decision, Verifier

THRESHOLD = 0.5


def _calibration(threshold: float = THRESHOLD) -> Calibration:
    return Calibration(backbone="test-model", arch="dlib-resnet34", sha256="c" * 64, threshold=threshold,
                       target_far=1e-3, far=0.001, far_upper_95=0.002, tar=0.95, tar_lower_95=0.94, n_genuine=100,
                       n_impostor=10000, dataset="synthetic")  # fmt: skip


@pytest.fixture
def templates() -> np.ndarray:
    rng = np.random.default_rng(0)
    t = rng.normal(size=(3, 128))
    return (t / np.linalg.norm(t, axis=1, keepdims=True)).astype(np.float32)


def _genuine(templates: np.ndarray, rng: np.random.Generator, dist: float = 0.2) -> np.ndarray:
    """A frame embedding at exactly `dist` from template 0 (the other templates are ~1.4 away)."""
    v = rng.normal(size=templates.shape[1])
    v -= v @ templates[0] * templates[0]
    return templates[0] + dist * v / np.linalg.norm(v)


def _impostor(templates: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=templates.shape[1])
    return v / np.linalg.norm(v)


def test_accepts_only_with_required_matches_in_window(templates):
    rng = np.random.default_rng(1)
    v = Verifier(templates, _calibration(), required=3, window=5)
    pattern = "GIGIG"
    results = []
    for c in pattern:
        results.append(v.add(_genuine(templates, rng) if c == "G" else _impostor(templates, rng)))
    assert results == [False, False, False, False, True]
    d = v.decision(frames_seen=7, model="test-model")
    assert d.accepted and d.matches == 3 and d.frames_usable == 5 and d.frames_seen == 7 and d.required == 3
    assert f"{THRESHOLD:.4f}" in d.reason
    assert len(d.distances) == 5
    assert all((x <= THRESHOLD) == (c == "G") for x, c in zip(d.distances, pattern, strict=True))
    assert d.distances[0] == pytest.approx(0.2, abs=1e-5)


def test_matches_must_fall_within_the_window(templates):
    rng = np.random.default_rng(2)
    v = Verifier(templates, _calibration(), required=3, window=5)
    for c in "GGIIIIGGIIIIG":  # never 3 matches among 5 consecutive frames
        assert not v.add(_genuine(templates, rng) if c == "G" else _impostor(templates, rng))
    d = v.decision(frames_seen=13)
    assert not d.accepted and d.matches == 5
    assert "only 5 of 13" in d.reason and f"{THRESHOLD:.4f}" in d.reason


def test_one_lucky_frame_among_impostors_is_not_enough(templates):
    rng = np.random.default_rng(3)
    v = Verifier(templates, _calibration(), required=2, window=5)
    for i in range(20):
        lucky = i == 10
        assert not v.add(_genuine(templates, rng, 0.05) if lucky else _impostor(templates, rng))
    d = v.decision(frames_seen=20, ended="camera stopped")
    assert not d.accepted and d.matches == 1
    assert min(d.distances) == pytest.approx(0.05, abs=1e-5)
    assert "camera stopped" in d.reason and "best distance 0.0500" in d.reason


def test_threshold_is_inclusive_and_exact():
    v = Verifier(np.zeros((1, 2), np.float32), _calibration(0.5), required=1, window=1)
    assert v.distance(np.array([0.5, 0.0])) == 0.5
    assert v.add(np.array([0.5, 0.0]))
    v2 = Verifier(np.zeros((1, 2), np.float32), _calibration(0.5), required=1, window=1)
    assert not v2.add(np.array([0.5001, 0.0]))


def test_distance_is_to_the_nearest_template(templates):
    rng = np.random.default_rng(4)
    v = Verifier(templates, _calibration())
    e = _genuine(templates[::-1].copy(), rng, 0.3)  # near the last template
    assert v.distance(e) == pytest.approx(0.3, abs=1e-5)


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


def test_threshold_comes_from_calibration(templates):
    rng = np.random.default_rng(5)
    e = _genuine(templates, rng, 0.45)
    assert Verifier(templates, _calibration(0.5), required=1, window=1).add(e)
    assert not Verifier(templates, _calibration(0.4), required=1, window=1).add(e)
    assert not math.isnan(Verifier(templates, _calibration(0.4)).threshold)


def test_a_close_frame_that_is_not_live_is_no_match(templates):
    """Liveness and matching on the same frame: a close face judged a photo/screen does not count."""
    rng = np.random.default_rng(5)
    v = Verifier(templates, _calibration(), required=3, window=5)
    for live in (True, False, True, False, False):
        v.add(_genuine(templates, rng), live=live)
    assert not v.satisfied
    d = v.decision(frames_seen=5)
    assert d.matches == sum(v.matched) == 2 and not d.accepted
    assert all(x <= THRESHOLD for x in d.distances)  # every frame was close: liveness made the difference


def test_reset_forgets_the_window_not_the_record(templates):
    rng = np.random.default_rng(6)
    v = Verifier(templates, _calibration(), required=3, window=5)
    v.add(_genuine(templates, rng))
    v.add(_genuine(templates, rng))
    v.reset()  # another face took over
    assert not v.add(_genuine(templates, rng))
    assert len(v.distances) == 3 and sum(v.recent) == 1
    assert v.add(_genuine(templates, rng)) is False and v.add(_genuine(templates, rng)) is True
