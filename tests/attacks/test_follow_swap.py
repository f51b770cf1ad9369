"""Attack on following (decision 024): the attempt searches only around the face it had in the previous frame,
so an attacker who puts a phone replay of the owner exactly where the owner's live face was gets it *followed* —
found by the zone search, not the whole-frame one. Following only decides where to look: the replayed face is
judged like any other (liveness per frame), so the attempt ends as a presentation attack. Beside it, the owner's
own consecutive frames are followed and accepted.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceunlock.auth import Attempt
from tests.attacks.attempt_fixtures import (  # noqa: F401 - fixtures
    engine,
    enrolled,
    owner,
    owner_later,
    replay,
)

pytestmark = pytest.mark.usefixtures("keyring_session")


def _moved_onto(frame: np.ndarray, src_box: np.ndarray, dst_box: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """`frame` scaled and shifted so the face in `src_box` lands on `dst_box`, on a canvas of `shape`."""
    s = float(dst_box[2] - dst_box[0]) / float(src_box[2] - src_box[0])
    tx, ty = dst_box[0] - s * src_box[0], dst_box[1] - s * src_box[1]
    m = np.array([[s, 0.0, tx], [0.0, s, ty]], np.float32)
    return cv2.warpAffine(frame, m, (shape[1], shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def test_a_replay_put_where_the_owners_face_was_is_followed_and_refused(engine, owner, owner_later, replay):  # noqa: F811
    a, b = owner_later[33:35]  # real.mov 133–134: the owner, live and matching
    attempt = Attempt(engine, owner)
    first, second = attempt.offer(a), attempt.offer(b)
    assert second.followed and not attempt.finished
    spoof_face = engine.processor.analyze(replay[0]).face
    assert spoof_face is not None
    forged = _moved_onto(replay[0], spoof_face.box, second.face.box, b.shape)
    r = attempt.offer(forged)
    assert r.followed, "the forged frame must reach the zone search, or this test does not test following"
    assert float(np.abs(r.face.centre - second.face.centre).max()) < 0.2 * second.face.width
    assert attempt.spoof and attempt.finished and not attempt.accepted
    d = attempt.decision()
    assert not d.accepted and d.spoof and "presentation attack" in d.reason
    assert first.face is not None


def test_the_owner_is_followed_and_accepted_on_the_same_distances(engine, owner, owner_later, monkeypatch):  # noqa: F811
    """The owner coming back (real.mov 100–198) is accepted with following on, and every judged frame's distance
    is the one the whole-frame search gives (a stream refreshing every frame: every frame searched whole)."""
    from faceunlock import auth, pipeline

    def run() -> tuple[Attempt, list]:
        attempt, results = Attempt(engine, owner), []
        for f in owner_later:
            results.append(attempt.offer(f))
            if attempt.finished:
                break
        return attempt, results

    followed, results = run()
    assert followed.accepted
    assert not results[0].followed and sum(r.followed for r in results) >= len(results) // 2
    monkeypatch.setattr(auth, "FaceStream", lambda processor: pipeline.FaceStream(processor, refresh=1))
    whole, results = run()
    assert not any(r.followed for r in results)
    assert whole.accepted and whole.verifier.distances == followed.verifier.distances
