"""Pose coverage: frames are sorted by head yaw, a covered pose stops accepting frames, the prompt moves on —
inside the core EnrollmentSession, so the CLI, the wizard and the daemon enrol the same way."""

from __future__ import annotations

import numpy as np

from faceunlock.detect import Face
from faceunlock.enrollment import EnrollmentSession
from faceunlock.pipeline import FrameResult
from faceunlock.poses import PoseCoverage
from faceunlock.quality import Quality
from faceunlock.reasons import Rejection


def test_classify_and_prompts():
    c = PoseCoverage()
    assert [c.classify(y).key for y in (0.0, 0.05, -0.11, 0.15, 0.3, -0.2)] == [
        "straight", "straight", "straight", "left", "left", "right"]  # fmt: skip
    assert c.next_prompt() == "Look straight at the camera" and c.total == 20
    for _ in range(12):
        c.add(0.0)
    assert c.basics_done and not c.complete
    assert c.next_prompt() == "Turn your head slightly to your left"
    for _ in range(4):
        c.add(0.2)
    assert c.next_prompt() == "Turn your head slightly to your right"
    for _ in range(4):
        c.add(-0.2)
    assert c.complete and c.captured == 20


def test_quotas_for_a_frame_count():
    assert [b.quota for b in PoseCoverage.for_frames(20).bins] == [12, 4, 4]
    assert [b.quota for b in PoseCoverage.for_frames(10).bins] == [6, 2, 2]
    assert [b.quota for b in PoseCoverage.for_frames(3).bins] == [3, 0, 0]


class YawProcessor:
    """Stands in for FaceProcessor with a chosen head yaw and a face that moves each frame (pose logic only;
    tests/test_enrollment.py runs the session on real frames)."""

    def __init__(self) -> None:
        self.yaw, self.n = 0.0, 0

    def analyze(self, frame):
        self.n += 1
        lm = np.full((5, 2), 3.0 * self.n, np.float32)  # moves: never a duplicate frame
        face = Face(np.array([0, 0, 100, 100], np.float32), 0.99, lm)
        return FrameResult(face, Quality(True, yaw=self.yaw), np.zeros((150, 150, 3), np.uint8), 1)


def test_session_refuses_frames_of_a_covered_pose_with_the_next_instruction():
    proc = YawProcessor()
    s = EnrollmentSession(proc, calibration=None, target_frames=20)  # type: ignore[arg-type]
    for _ in range(12):
        assert s.offer(None).usable
    assert s.can_finish and not s.done and len(s.chips) == 12
    r = s.offer(None)
    assert not r.usable and r.message == "Turn your head slightly to your left"
    assert r.quality.reasons == [Rejection.POSE_CAPTURED] and len(s.chips) == 12
    proc.yaw = 0.2
    assert s.offer(None).usable and len(s.chips) == 13  # the missing pose still gets in
    assert s.rejected[Rejection.POSE_CAPTURED] == 1 and s.rejected["pose already captured"] == 1  # a str key too
