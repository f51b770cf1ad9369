"""Attempt-level simulation: each attempt's accept threshold is exactly the Verifier's decision, and the rates
come from real descriptors (dlib's own, of lfw-dev faces) and the enrolment's own template choice."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faceunlock.attempts import (
    Person,
    calibrate_attempts,
    calibrate_sets,
    people_from,
    simulate,
    window_means,
)
from faceunlock.calibrate import AttemptCalibration, Calibration, upper_bound
from faceunlock.embed import pairwise_distances
from faceunlock.errors import DatasetError
from faceunlock.policy import AuthPolicy
from faceunlock.verify import Verifier
from tests.shared_data import need


def _calibration(threshold: float, required: int = 1) -> Calibration:
    return Calibration(backbone="dlib-resnet34", arch="dlib-resnet34", sha256="a" * 64, threshold=0.6,
                       target_far=1e-3, far=0.0, far_upper_95=0.0, tar=0.0, tar_lower_95=0.0, n_genuine=0,
                       n_impostor=0, dataset="test",
                       attempt=AttemptCalibration(threshold=threshold, enrol_threshold=0.6, target_far=1e-3,
                                                  required=required, window=required, enrol=1, probe=1))  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(-1, 1), st.floats(-1, 1)), min_size=1, max_size=9), st.integers(1, 4),
       st.integers(0, 3), st.floats(0.05, 1.2))  # fmt: skip
def test_accept_threshold_is_the_verifiers_rule(frames, required, extra, threshold):
    """For any frames and any threshold: accepted by the Verifier ⇔ the attempt's accept threshold ≤ threshold."""
    window = required + extra
    probe = np.asarray(frames, np.float32)
    templates = np.array([[0.1, -0.2], [0.3, 0.0]], np.float32)
    means = window_means(probe, required, window)
    t_accept = float(pairwise_distances(means, templates.mean(0, keepdims=True)).min()) if len(means) else np.inf
    v = Verifier(templates, _calibration(threshold), required, window)
    accepted = any([v.add(f) for f in probe])
    assert accepted == (t_accept <= threshold) or abs(t_accept - threshold) < 1e-5


def test_people_split_in_file_order():
    emb = np.arange(12, dtype=np.float32)[:, None]
    labels = ["a"] * 5 + ["b"] * 4 + ["c"] * 2 + ["d"]
    people = {p.name: p for p in people_from(emb, labels, 2, 2)}
    assert list(people) == ["a", "b", "c"]  # d has one photo: it can neither enrol nor probe
    a, b, c = people["a"], people["b"], people["c"]
    assert a.genuine and b.genuine and not c.genuine
    assert a.enrol.ravel().tolist() == [0, 1] and a.probe.ravel().tolist() == [2, 3]
    assert b.enrol.ravel().tolist() == [5, 6] and b.probe.ravel().tolist() == [7, 8]
    assert c.enrol.ravel().tolist() == [9, 10] and c.probe.ravel().tolist() == [9, 10]  # an impostor's photos


@pytest.fixture(scope="module")
def dlib_people() -> list[Person]:
    """dlib's own descriptors of 79 lfw-dev faces; people with two photos: one enrols, one probes."""
    ref = need("dlib-reference")
    emb = np.load(ref / "descriptors.npy")
    labels = [line.split("/")[0] for line in (ref / "files.txt").read_text().split()]
    return [p for p in people_from(emb, labels, 1, 1) if p.genuine]


def test_simulation_on_real_descriptors(dlib_people):
    policy = AuthPolicy(required=1, window=1)  # one probe photo per attempt here
    rates = simulate(dlib_people, 0.6, policy, check=_calibration(0.6))  # also re-decided by the Verifier
    n = len(dlib_people)
    assert n >= 30 and len(rates.genuine) == n and len(rates.impostor) == n * (n - 1)
    at = rates.at(0.6)  # dlib's own threshold for its descriptors
    assert at["frr"] <= 0.15 and at["far"] <= 0.02 and at["far_upper_95"] >= at["far"]
    t = rates.threshold_for_far(0.001)
    assert rates.at(t)["far"] <= 0.001 and t < 0.6
    assert rates.at(10.0)["frr"] == 0.0 and rates.at(10.0)["far"] == 1.0


def test_the_worst_population_sets_the_attempt_threshold(dlib_people):
    """Two populations: each gets the threshold its own FAR bound allows, and the smaller one is shipped; each
    population's rates at it are recorded."""
    half = len(dlib_people) // 2
    pops = {"first": dlib_people[:half], "second": dlib_people[half:]}
    cal, rates = calibrate_attempts(pops, 0.6, 0.05, 1, 1, AuthPolicy(required=1, window=1))
    own = {r["population"]: r["own_threshold"] for r in cal.populations}
    assert cal.threshold == min(own.values()) and own["first"] != own["second"]
    for r in cal.populations:
        assert r["far_upper_95"] == upper_bound(r["false_accepts"], r["impostor"]) <= 0.05
        assert r["far"] == rates[r["population"]].at(cal.threshold)["far"]
    assert (cal.required, cal.window, cal.enrol, cal.probe, cal.enrol_threshold) == (1, 1, 1, 1, 0.6)


def test_calibrating_needs_people_with_enough_photos():
    emb = np.random.default_rng(0).normal(size=(6, 8)).astype(np.float32)
    with pytest.raises(DatasetError, match="usable photos"):
        calibrate_sets({"tiny": (emb, ["a", "a", "b", "b", "c", "c"])}, 0.6, 1e-4)
