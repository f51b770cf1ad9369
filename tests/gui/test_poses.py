"""Pose coverage: frames are sorted by head yaw, a covered pose stops accepting frames, the prompt moves on."""

from __future__ import annotations

import numpy as np

from faceunlock.detect import Face
from faceunlock.gui.poses import PoseCoverage, PoseGate
from faceunlock.pipeline import FrameResult
from faceunlock.quality import Quality


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


class FakeProcessor:
    backbone = object()

    def __init__(self, yaw: float) -> None:
        self.yaw = yaw

    def analyze(self, frame):
        face = Face(np.array([0, 0, 100, 100], np.float32), 0.99, np.zeros((5, 2), np.float32))
        return FrameResult(face, Quality(True, yaw=self.yaw), np.zeros((150, 150, 3), np.uint8), 1)


def test_gate_refuses_frames_of_a_covered_pose_with_the_next_instruction():
    c = PoseCoverage()
    gate = PoseGate(FakeProcessor(0.0), c)
    assert gate.analyze(None).usable
    for _ in range(12):
        c.add(0.0)
    r = gate.analyze(None)
    assert not r.usable and r.message == "Turn your head slightly to your left"
    assert r.quality.reasons == ["pose already captured"]
    assert PoseGate(FakeProcessor(0.2), c).analyze(None).usable  # the missing pose still gets in
