"""AuthPolicy / Attempt / authenticate: when an attempt ends, when it counts against the lock-out, and that a
locked-out user gets no frame read. Real model, real frames (real.mov, fake.mp4, LFW), real lock-out files."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from faceunlock.auth import Attempt, AuthPolicy, authenticate
from faceunlock.liveness import DEFAULT_THRESHOLD
from faceunlock.lockout import Lockout
from tests.attacks.attempt_fixtures import (  # noqa: F401 - fixtures
    engine,
    enrolled,
    owner,
    owner_later,
    replay,
    stranger,
)

pytestmark = pytest.mark.usefixtures("keyring_session")
EMPTY = np.zeros((480, 640, 3), np.uint8)  # nobody in view


@pytest.fixture
def lockout(tmp_path) -> Lockout:
    return Lockout(tmp_path / "lockout.json")


class Reads:
    """A frame source that remembers how many frames were taken from it."""

    def __init__(self, frames) -> None:
        self.frames, self.taken = list(frames), 0

    def __iter__(self):
        for f in self.frames:
            self.taken += 1
            yield f


# -- the policy -------------------------------------------------------------------------------------------------
def test_policy_defaults_and_validation():
    p = AuthPolicy()
    assert (p.required, p.window, p.max_frames, p.timeout_s) == (3, 5, 60, None)
    assert p.live_threshold == DEFAULT_THRESHOLD
    assert AuthPolicy.for_window(7) == AuthPolicy(window=7, required=5)  # 60 % of the window
    assert AuthPolicy.for_window(None) == AuthPolicy() and AuthPolicy.for_window(1).window == 3
    for bad in ({"required": 0}, {"required": 6}, {"max_frames": 0}, {"max_judged": 2}):
        with pytest.raises(ValueError):
            AuthPolicy(**bad)


# -- how it ends, and whether it counts -------------------------------------------------------------------------
def test_accepted_resets_the_count(engine, owner, owner_later, lockout):  # noqa: F811
    lockout.record_failure()
    src = Reads(owner_later)
    d = authenticate(engine, owner, src, lockout=lockout)
    assert d.accepted and d.matches >= 3 and d.liveness >= 0.5
    assert src.taken < len(owner_later)  # stopped at acceptance
    assert lockout.failures == 0


def test_spoof_ends_at_once_and_counts(engine, owner, replay, lockout):  # noqa: F811
    src = Reads(replay)
    d = authenticate(engine, owner, src, lockout=lockout)
    assert d.spoof and not d.accepted and src.taken == 1
    assert lockout.failures == 1


def test_max_frames_with_nobody_there_does_not_count(engine, owner, lockout):  # noqa: F811
    d = authenticate(engine, owner, [EMPTY] * 5, lockout=lockout, policy=AuthPolicy(max_frames=3))
    assert not d.accepted and d.frames_seen == 3 and "gave up after 3 frames" in d.reason
    assert lockout.failures == 0  # the reservation was handed back: an empty room locks nobody out


def test_max_frames_after_a_judged_face_counts(engine, owner, stranger, lockout):  # noqa: F811
    d = authenticate(engine, owner, stranger + [EMPTY] * 5, lockout=lockout, policy=AuthPolicy(max_frames=4))
    assert not d.accepted and d.frames_usable == 2 and "gave up after 4 frames" in d.reason
    assert lockout.failures == 1


def test_max_judged_ends_the_attempt(engine, owner, stranger, lockout):  # noqa: F811
    a = Attempt(engine, owner, AuthPolicy(required=1, window=1, max_judged=1))
    a.offer(stranger[0])
    assert a.finished and not a.accepted and a.counts and a.ended == "not recognised in 1 frames"


def test_timeout(engine, owner, owner_later, lockout):  # noqa: F811
    src = Reads(owner_later)
    d = authenticate(engine, owner, src, lockout=lockout, policy=AuthPolicy(timeout_s=0.0))
    assert not d.accepted and "timed out" in d.reason and src.taken == 1


def test_source_ended(engine, owner, lockout):  # noqa: F811
    d = authenticate(engine, owner, [EMPTY, EMPTY], lockout=lockout)
    assert not d.accepted and "source ended" in d.reason and d.frames_seen == 2
    assert lockout.failures == 0


def test_cancelled_before_a_face_is_not_counted(engine, owner, owner_later, lockout):  # noqa: F811
    src = Reads(owner_later)
    d = authenticate(engine, owner, src, lockout=lockout, cancelled=lambda: True)
    assert not d.accepted and src.taken == 0 and "cancelled" in d.reason
    assert lockout.failures == 0


def test_cancelled_after_a_judged_face_counts(engine, owner, stranger, lockout):  # noqa: F811
    src = Reads(stranger * 3)
    d = authenticate(engine, owner, src, lockout=lockout, cancelled=lambda: src.taken >= 1)
    assert not d.accepted and src.taken == 1 and d.frames_usable == 1 and "cancelled" in d.reason
    assert lockout.failures == 1


def test_locked_out_reads_no_frame(engine, owner, owner_later, lockout):  # noqa: F811
    for _ in range(5):
        lockout.record_failure()
    src = Reads(owner_later)
    seen = []
    d = authenticate(engine, owner, src, lockout=lockout, on_frame=seen.append)
    assert not d.accepted and d.locked_out_s == pytest.approx(30, abs=2)
    assert src.taken == 0 and seen == [] and "too many failed attempts" in d.reason
    assert lockout.failures == 5  # a refused attempt is not another failure


def test_an_error_mid_attempt_hands_back_an_unjudged_reservation(engine, owner, lockout):  # noqa: F811
    def broken():
        yield EMPTY
        raise OSError("camera unplugged")

    with pytest.raises(OSError):
        authenticate(engine, owner, broken(), lockout=lockout)
    assert lockout.failures == 0


def test_without_a_lockout_nothing_is_written(engine, owner, stranger, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("FACEUNLOCK_HOME", str(tmp_path))
    authenticate(engine, owner, stranger)
    assert not list(tmp_path.rglob("lockout.json"))


# -- one tracked face ---------------------------------------------------------------------------------------------
def test_another_face_resets_the_evidence(engine, owner, owner_later, stranger):  # noqa: F811
    a, b, c, d, e = owner_later[33:38]  # real.mov 133–137: consecutive, usable, live, matching
    attempt = Attempt(engine, owner)
    for f in (a, b, stranger[0], c):
        attempt.offer(f)
    assert attempt.resets == 2  # to the stranger and back
    # 3 of the owner's frames, but not in one track: only the last is in the window, nothing was fused
    assert attempt.verifier.live_in_window == 1 and attempt.verifier.best is None and not attempt.accepted
    for f in (d, e):
        attempt.offer(f)
    assert attempt.accepted and "another face took over 2×" in attempt.decision().reason


def test_no_liveness_engine_still_runs(engine, owner, owner_later):  # noqa: F811
    """`--no-liveness`: matching alone (documented as only for cameras where liveness misjudges)."""
    bare = dataclasses.replace(engine, liveness=None)
    d = authenticate(bare, owner, owner_later)
    assert d.accepted and d.liveness is None


def test_a_calibration_without_an_attempt_threshold_refuses_to_load_the_engine(tmp_path, monkeypatch):
    """Fail closed on an older calibration file (per-pair only): the engine does not load, and says how to fix it
    — before any camera opens, so the lock screen keeps its password path (decision 019)."""
    import json

    from faceunlock.auth import Engine
    from faceunlock.backbones import dlib_resnet
    from faceunlock.errors import CalibrationError

    shipped = json.loads((dlib_resnet.BUNDLED_DIR / "calibration.json").read_text())
    del shipped["attempt"]
    monkeypatch.setenv("FACEUNLOCK_HOME", str(tmp_path))
    path = tmp_path / "data" / "models" / "calibrations" / f"{shipped['sha256'][:16]}.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(shipped))
    with pytest.raises(CalibrationError, match="faceunlock calibrate"):
        Engine.load("dlib-resnet34", liveness=False)
