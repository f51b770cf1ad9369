"""Attempt-level simulation: each attempt's accept threshold is exactly the Verifier's decision, and the rates
come from real descriptors (dlib's own, of lfw-dev faces) and the enrolment's own template choice."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faceunlock.attempts import Person, accept_thresholds, people_from, simulate
from faceunlock.calibrate import Calibration
from faceunlock.policy import AuthPolicy
from faceunlock.verify import Verifier
from tests.shared_data import need


def _calibration(threshold: float) -> Calibration:
    return Calibration(backbone="dlib-resnet34", arch="dlib-resnet34", sha256="a" * 64, threshold=threshold,
                       target_far=1e-3, far=0.0, far_upper_95=0.0, tar=0.0, tar_lower_95=0.0, n_genuine=0,
                       n_impostor=0, dataset="test")  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.05, 1.5), min_size=1, max_size=9), st.integers(1, 4), st.integers(0, 3),
       st.floats(0.1, 1.2))  # fmt: skip
def test_accept_threshold_is_the_verifiers_rule(dists, required, extra, threshold):
    """For any frame distances and any threshold: accepted by the Verifier ⇔ accept threshold ≤ threshold."""
    window = required + extra
    d = np.asarray(dists)
    t_accept = float(accept_thresholds(d[None], required, window)[0])
    # feed the Verifier embeddings at exactly these distances from a single template
    templates = np.zeros((1, 1), np.float32)
    v = Verifier(templates, _calibration(threshold), required, window)
    accepted = any([v.add(np.array([x], np.float32)) for x in d.astype(np.float32)])
    assert accepted == (t_accept <= threshold + 1e-6) or abs(t_accept - threshold) < 1e-6


def test_people_split_in_file_order():
    emb = np.arange(12, dtype=np.float32)[:, None]
    labels = ["a"] * 5 + ["b"] * 4 + ["c"] * 3
    people = people_from(emb, labels, 2, 2)
    assert [p.name for p in people] == ["a", "b"]  # c has only 3 photos
    assert people[0].enrol.ravel().tolist() == [0, 1] and people[0].probe.ravel().tolist() == [2, 3]
    assert people[1].enrol.ravel().tolist() == [5, 6] and people[1].probe.ravel().tolist() == [7, 8]


@pytest.fixture(scope="module")
def dlib_people() -> list[Person]:
    """dlib's own descriptors of 79 lfw-dev faces; people with two photos: one enrols, one probes."""
    ref = need("dlib-reference")
    emb = np.load(ref / "descriptors.npy")
    labels = [line.split("/")[0] for line in (ref / "files.txt").read_text().split()]
    return people_from(emb, labels, 1, 1)


def test_simulation_on_real_descriptors(dlib_people):
    policy = AuthPolicy(required=1, window=1)  # one probe photo per attempt here
    rates = simulate(dlib_people, _calibration(0.6), policy)  # also re-decides attempts with the Verifier
    n = len(dlib_people)
    assert n >= 30 and len(rates.genuine) == n and len(rates.impostor) == n * (n - 1)
    at = rates.at(0.6)  # dlib's own threshold for its descriptors
    assert at["frr"] <= 0.15 and at["far"] <= 0.02 and at["far_upper_95"] >= at["far"]
    t = rates.threshold_for_far(0.001)
    assert rates.at(t)["far"] <= 0.001 and t < 0.6
    assert rates.at(10.0)["frr"] == 0.0 and rates.at(10.0)["far"] == 1.0


def test_more_frames_per_attempt_lower_the_impostor_threshold():
    """Each attempt keeps its best window: with 3-of-5 the accept threshold is the 3rd smallest distance."""
    d = np.array([[0.9, 0.3, 0.8, 0.4, 0.5]])
    assert accept_thresholds(d, 3, 5)[0] == pytest.approx(0.5)
    assert accept_thresholds(d, 1, 1)[0] == pytest.approx(0.3)
    assert accept_thresholds(d, 2, 2)[0] == pytest.approx(0.5)  # windows (0.9,0.3) (0.3,0.8) (0.8,0.4) (0.4,0.5)
    assert np.isinf(accept_thresholds(d[:, :2], 3, 5)[0])
