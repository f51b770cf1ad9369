"""Mechanics with a model the test makes itself (pretrained InceptionResnetV1 weights can't be downloaded here).

A seeded random InceptionResnetV1 is saved to a temp file and calibrated with `faceunlock calibrate` on ORL.
With such a model these tests check the plumbing — weights by path, calibration bound to the file's sha256,
the refusal of untrained weights — not accuracy.
"""

from __future__ import annotations

import json

import pytest

from tests.cli.helpers import faceunlock
from tests.shared_data import REAL_MOV, need

ALLOW = {"FACEUNLOCK_ALLOW_UNTRAINED": "1"}


@pytest.fixture(scope="module")
def random_model(tmp_path_factory):
    from faceunlock.weights import random_backbone, save_backbone

    d = tmp_path_factory.mktemp("random-model")
    path = d / "inception-random.pt"
    sha = save_backbone(random_backbone("inception", seed=1234), path, untrained=True)
    return path, sha


@pytest.fixture(scope="module")
def calibrated(random_model, tmp_path_factory):
    path, sha = random_model
    home = tmp_path_factory.mktemp("home")
    r = faceunlock("calibrate", need("orl"), "--weights", path, "--max-per-identity", "4", "--target-far", "0.01",
                   "--enrol", "1", "--probe", "3", "--json", home=home, env=ALLOW)  # fmt: skip
    assert r.rc == 0, r.err
    return home, r.json()


def test_calibration_is_bound_to_the_weights_file(random_model, calibrated):
    _, sha = random_model
    home, cal = calibrated
    assert cal["sha256"] == sha
    assert cal["n_genuine"] == 40 * 6 and cal["n_impostor"] == (160 * 159) // 2 - 240
    saved = json.loads(open(cal["calibration"]).read())
    assert saved["threshold"] == cal["threshold"] > 0
    a = saved["attempt"]  # the decision's threshold, from 40 genuine and 40 × 39 impostor attempts
    assert (a["enrol"], a["probe"]) == (1, 3) and a["threshold"] > 0
    assert a["populations"][0]["genuine"] == 40 and a["populations"][0]["impostor"] == 40 * 39


def test_untrained_weights_are_refused_without_the_test_switch(random_model, calibrated):
    path, _ = random_model
    home, _ = calibrated
    r = faceunlock("verify", "x", "--source", REAL_MOV, "--weights", path, home=home)
    assert r.rc == 2


@pytest.mark.usefixtures("keyring_session")
def test_enroll_and_verify_run_with_weights_by_path(random_model, calibrated):
    path, _ = random_model
    home, _ = calibrated
    r = faceunlock("enroll", "carol", "--source", REAL_MOV, "--weights", path, "--max-frames", "40", "--frames", "8",
                   "--json", home=home, env=ALLOW)  # fmt: skip
    assert r.rc == 0, r.err
    assert r.json()["model"] == "inception-resnet-v1"
    r = faceunlock("verify", "carol", "--source", REAL_MOV, "--skip", "100", "--frames", "10", "--weights", path,
                   "--json", home=home, env=ALLOW)  # fmt: skip
    assert r.rc in (0, 1), r.err  # a random model decides arbitrarily; the plumbing must still give a verdict
    assert len(r.json()["distances"]) > 0
    # templates made by one model are never compared with another model's embeddings
    r = faceunlock("verify", "carol", "--source", REAL_MOV, "--skip", "100", "--weights", "dlib-resnet34", home=home)
    assert r.rc == 2 and "Enrol again with the current model" in r.err


def test_calibration_for_another_model_is_refused(random_model, calibrated, tmp_path):
    path, _ = random_model
    home, cal = calibrated
    other = tmp_path / "other.pt"
    from faceunlock.weights import random_backbone, save_backbone

    save_backbone(random_backbone("inception", seed=99), other, untrained=True)
    # put the first model's calibration beside the second model's weights
    (tmp_path / "calibration.json").write_text(open(cal["calibration"]).read())
    r = faceunlock("verify", "carol", "--source", REAL_MOV, "--weights", other, home=home, env=ALLOW)
    assert r.rc == 2 and "made for another model" in r.err
