"""Head-pose coverage for enrolment: a few frames looking straight, a few turned slightly each way.

Why: templates from one frozen pose fail as soon as the user sits a little sideways; Face ID and Windows Hello
ask for a slow head turn for the same reason. Pose is the landmark yaw from faceunlock.quality (0 = frontal,
> 0 = the person turned to their own left; the quality gate already refuses |yaw| > 0.30).

No Qt here: the gate wraps the core's FaceProcessor so that EnrollmentSession keeps doing all the counting,
de-duplication and template selection; a frame whose pose is already covered is reported as "not usable" with
the next instruction as its guidance.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from faceunlock.pipeline import FaceProcessor, FrameResult

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


class PoseGate:
    """A FaceProcessor stand-in for EnrollmentSession: frames whose pose is already covered are not usable."""

    def __init__(self, processor: FaceProcessor, coverage: PoseCoverage) -> None:
        self.inner = processor
        self.backbone = processor.backbone
        self.coverage = coverage

    def analyze(self, frame: np.ndarray) -> FrameResult:
        r = self.inner.analyze(frame)
        if r.usable and r.quality is not None and self.coverage.classify(r.quality.yaw).full:
            q = dataclasses.replace(r.quality, ok=False, reasons=["pose already captured"],
                                    guidance=self.coverage.next_prompt())  # fmt: skip
            return FrameResult(r.face, q, None, r.n_faces)
        return r

    def embed_one(self, chip: np.ndarray) -> np.ndarray:
        return self.inner.embed_one(chip)
