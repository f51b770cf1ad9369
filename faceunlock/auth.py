"""One authentication attempt end to end, shared by the lock screen, the CLI and any login hook.

frames → detect → quality → align → embed → multi-frame verify, under the lockout policy: a locked-out user
gets no attempt at all, and every attempt that saw a face and did not match counts as a failure.
Any error raises (the caller keeps the screen locked); nothing here ever returns "accepted" by default.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from faceunlock.calibrate import Calibration, find_calibration
from faceunlock.embed import Backbone
from faceunlock.errors import StoreError
from faceunlock.pipeline import FaceProcessor, FrameResult
from faceunlock.verify import Decision, Verifier


@dataclass
class Engine:
    """The loaded model, its calibration and the face processor: build once, reuse for every attempt."""

    backbone: Backbone
    calibration: Calibration
    processor: FaceProcessor

    @classmethod
    def load(cls, weights: str = "auto", device: str = "cpu") -> Engine:
        from faceunlock.weights import resolve_backbone

        backbone = resolve_backbone(weights, device=device)
        calibration = find_calibration(backbone)
        calibration.check_for(backbone)
        return cls(backbone, calibration, FaceProcessor(backbone))


def user_templates(store, user: str, backbone: Backbone) -> np.ndarray:
    """The user's templates made by this exact model; other models' templates cannot be compared."""
    templates = store.load(user).embeddings_for(backbone.sha256)
    if len(templates) == 0:
        raise StoreError(f"user '{user}' was enrolled with another model; enrol again with {backbone.name}")
    return templates


class AuthSession:
    """Frame-by-frame attempt (the GUI worker feeds it); `decision()` summarises."""

    def __init__(self, engine: Engine, templates: np.ndarray, required: int = 3, window: int = 5) -> None:
        self.engine = engine
        self.verifier = Verifier(templates, engine.calibration, required, window)
        self.frames_seen = 0
        self.rejected: Counter[str] = Counter()

    def offer(self, frame: np.ndarray) -> FrameResult:
        self.frames_seen += 1
        r = self.engine.processor.analyze(frame)
        if r.face is None:
            self.rejected["no face"] += 1
        elif not r.usable:
            self.rejected[r.quality.reasons[0].split(" (")[0]] += 1
        else:
            self.verifier.add(self.engine.processor.embed_one(r.chip))
        return r

    @property
    def accepted(self) -> bool:
        return self.verifier.satisfied

    def decision(self, ended: str = "") -> Decision:
        return self.verifier.decision(self.frames_seen, self.engine.backbone.name, self.rejected, ended)


def authenticate(engine: Engine, templates: np.ndarray, frames: Iterable[np.ndarray], lockout=None,
                 max_frames: int = 60, timeout_s: float | None = None, required: int = 3, window: int = 5,
                 on_frame: Callable[[FrameResult], None] | None = None) -> Decision:  # fmt: skip
    """Run one attempt over `frames` (stops at acceptance, max_frames, timeout or the end of the source)."""
    if lockout is not None and (wait := lockout.seconds_remaining()) > 0:
        return Decision(False, f"too many failed attempts: try again in {wait:.0f} s", engine.calibration.threshold,
                        model=engine.backbone.name)  # fmt: skip
    session = AuthSession(engine, templates, required, window)
    start = time.monotonic()
    ended = "source ended"
    for frame in frames:
        r = session.offer(frame)
        if on_frame:
            on_frame(r)
        if session.accepted:
            ended = ""
            break
        if session.frames_seen >= max_frames:
            ended = f"gave up after {max_frames} frames"
            break
        if timeout_s is not None and time.monotonic() - start > timeout_s:
            ended = f"timed out after {timeout_s:.0f} s"
            break
    decision = session.decision(ended)
    if lockout is not None:
        if decision.accepted:
            lockout.record_success()
        elif decision.frames_usable > 0:
            lockout.record_failure()
    return decision
