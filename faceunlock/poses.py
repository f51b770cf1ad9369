"""Head-pose coverage for enrolment: a few frames looking straight, a few turned slightly each way.

Why: templates from one frozen pose fail as soon as the user sits a little sideways; Face ID and Windows Hello
ask for a slow head turn for the same reason. Pose is the landmark yaw from faceunlock.quality (0 = frontal,
> 0 = the person turned to their own left; the quality gate already refuses |yaw| > 0.30).

Core, not GUI: `EnrollmentSession` applies it for every front end (the CLI, the wizard, the daemon), so a
face enrolled from a terminal covers the same poses as one enrolled in the window. A frame whose pose is
already covered is reported as not usable, with the next instruction as its guidance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TURN_YAW = 0.12  # |yaw| from which a head counts as turned (frontal webcam frames stay within ±0.10)


@dataclass
class PoseBin:
    key: str
    label: str
    prompt: str
    lo: float
    hi: float
    quota: int
    count: int = 0

    @property
    def full(self) -> bool:
        return self.count >= self.quota


def default_bins(straight: int = 12, turned: int = 4) -> list[PoseBin]:
    return [
        PoseBin("straight", "Straight", "Look straight at the camera", -TURN_YAW, TURN_YAW, straight),
        PoseBin("left", "Turned left", "Turn your head slightly to your left", TURN_YAW, np.inf, turned),
        PoseBin("right", "Turned right", "Turn your head slightly to your right", -np.inf, -TURN_YAW, turned),
    ]


class PoseCoverage:
    """How many captured frames each pose still needs, and what to ask the user next."""

    def __init__(self, bins: list[PoseBin] | None = None) -> None:
        self.bins = bins or default_bins()

    @classmethod
    def for_frames(cls, n: int) -> PoseCoverage:
        """n frames in all: 60 % straight (at least 3), the rest split between the two turns (20 → 12 + 4 + 4)."""
        straight = max(3, math.ceil(0.6 * n))
        turned = max(0, n - straight) // 2
        return cls(default_bins(straight, turned))

    @property
    def total(self) -> int:
        return sum(b.quota for b in self.bins)

    @property
    def captured(self) -> int:
        return sum(min(b.count, b.quota) for b in self.bins)

    def classify(self, yaw: float) -> PoseBin:
        for b in self.bins:
            if b.lo <= yaw < b.hi:
                return b
        return self.bins[0] if abs(yaw) < TURN_YAW else (self.bins[1] if yaw > 0 else self.bins[2])

    def add(self, yaw: float) -> PoseBin:
        b = self.classify(yaw)
        b.count += 1
        return b

    @property
    def complete(self) -> bool:
        return all(b.full for b in self.bins)

    @property
    def basics_done(self) -> bool:
        """The frontal quota is met: enough to enrol if the user cannot (or a video does not) turn."""
        return self.bins[0].full

    def next_prompt(self) -> str:
        for b in self.bins:
            if not b.full:
                return b.prompt
        return "Hold still…"

    def snapshot(self) -> list[tuple[str, str, int, int]]:
        return [(b.key, b.label, min(b.count, b.quota), b.quota) for b in self.bins]
