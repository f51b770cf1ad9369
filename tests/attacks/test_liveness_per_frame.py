"""Attack 1 (issue 9): liveness and matching judged on different frames.

Two live frames of a stranger then three phone-replay frames of the owner (fake.mp4 36–38, each ≈ 0.2 live)
used to unlock: liveness was a 5-frame mean (≈ 0.53 here) while the matches came from the replay. Now a frame
matches only if that same frame is judged live, one frame judged a photo/screen ends the attempt, and the frames
of one attempt must come from one tracked face. Also through the lock screen's own attempt loop.
"""

from __future__ import annotations

import numpy as np
import pytest

from faceunlock.auth import authenticate
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


def old_rule_accepts(engine, templates, frames) -> bool:  # noqa: F811
    """The rule before the fix, on these very frames: 3 of the last 5 frames matched (each frame's closest
    template within the per-pair threshold) and the mean live score of those 5 frames ≥ 0.5 (liveness averaged
    over the window, matching frame by frame)."""
    from faceunlock.embed import pairwise_distances

    t = np.concatenate(templates)
    matched, live = [], []
    for f in frames:
        r = engine.processor.analyze(f)
        assert r.usable
        e = engine.processor.embed_one(r.chip)
        matched.append(pairwise_distances(e[None], t).min() <= engine.calibration.threshold)
        live.append(engine.liveness.score(f, r.face))
    return sum(matched[-5:]) >= 3 and float(np.mean(live[-5:])) >= 0.5


@pytest.mark.parametrize("order", ["stranger first", "alternated"])
def test_live_stranger_frames_do_not_vouch_for_a_replay_of_the_owner(engine, owner, stranger, replay, order, tmp_path):  # noqa: F811
    frames = stranger + replay if order == "stranger first" else [replay[0], stranger[0], replay[1], stranger[1],
                                                                 replay[2]]  # fmt: skip
    assert old_rule_accepts(engine, owner, frames), "the attack must be real: the old rule unlocked on these frames"
    lockout = Lockout(tmp_path / "lockout.json")
    d = authenticate(engine, owner, frames, lockout=lockout)
    assert not d.accepted and d.spoof
    assert "presentation attack" in d.reason
    assert d.matches == 0  # no replay frame counted as a match
    assert lockout.failures == 1  # a judged face that did not pass: one failure


def test_the_replay_alone_ends_at_its_first_frame(engine, owner, replay):  # noqa: F811
    from faceunlock.auth import Attempt

    a = Attempt(engine, owner)
    a.offer(replay[0])
    assert a.finished and a.spoof and not a.accepted
    assert a.live_scores[0] < 0.3  # measured 0.22
    a.offer(replay[1])  # a finished attempt judges nothing more
    assert a.frames_judged == 1


def test_the_lock_screen_attempt_refuses_it_too(engine, enrolled, owner, stranger, replay, tmp_path, monkeypatch):  # noqa: F811
    """gui/face_unlock.py's FaceUnlockThread, driven frame by frame (its own process(), no camera, no window)."""
    from faceunlock.gui.face_unlock import FaceUnlockThread

    lockout = Lockout(tmp_path / "lockout.json")
    t = FaceUnlockThread("unused", lambda: engine, "alice", lockout, rearm_s=0.0)
    accepted, failed = [], []
    t.accepted.connect(accepted.append)
    t.attempt_failed.connect(failed.append)
    t.prepare(engine)
    t.process(engine, np.zeros((480, 640, 3), np.uint8))  # arms (nobody there)
    notes = [t.process(engine, f)[1] for f in stranger + replay]
    assert accepted == [] and "matched" not in notes
    assert notes == ["", "", "spoof", "spoof", "spoof"] and all(d.spoof for d in failed)
    assert lockout.failures == 3  # each replay frame began a fresh attempt, and each was refused and counted


def test_the_owner_still_gets_in(engine, owner, owner_later, tmp_path):  # noqa: F811
    lockout = Lockout(tmp_path / "lockout.json")
    lockout.record_failure()
    d = authenticate(engine, owner, owner_later, lockout=lockout)
    assert d.accepted, d.reason
    assert d.matches >= 3 and not d.spoof
    assert d.liveness is not None and d.liveness >= 0.5
    assert lockout.failures == 0


def test_the_owner_gets_in_through_the_lock_screen_attempt(engine, owner, owner_later, tmp_path):  # noqa: F811
    from faceunlock.gui.face_unlock import FaceUnlockThread

    lockout = Lockout(tmp_path / "lockout.json")
    t = FaceUnlockThread("unused", lambda: engine, "alice", lockout, rearm_s=0.0)
    accepted = []
    t.accepted.connect(accepted.append)
    t.prepare(engine)
    t.process(engine, np.zeros((480, 640, 3), np.uint8))
    for f in owner_later:
        if t.process(engine, f)[1] == "matched":
            break
    assert accepted and accepted[0].accepted
    assert lockout.failures == 0
