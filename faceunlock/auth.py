"""One authentication attempt end to end, shared by the lock screen, the CLI and any login hook.

frames → detect → quality → liveness → align → embed → multi-frame verify, under the lockout policy: a locked-out
user gets no attempt at all, and every attempt that saw a face and did not match (or was a photo or a screen)
counts as a failure. Acceptance needs both: the verifier satisfied AND the liveness window live on the same frames.
Any error raises (the caller keeps the screen locked); nothing here ever returns "accepted" by default.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from faceunlock.calibrate import Calibration, find_calibration
from faceunlock.embed import Backbone
from faceunlock.errors import StoreError
from faceunlock.pipeline import FaceProcessor, FrameResult
from faceunlock.verify import Decision, Verifier

if TYPE_CHECKING:
    from faceunlock.liveness import LivenessChecker


@dataclass
class Engine:
    """The loaded model, its calibration and the face processor: build once, reuse for every attempt."""

    backbone: Backbone
    calibration: Calibration
    processor: FaceProcessor
    liveness: LivenessChecker | None = None

    @classmethod
    def load(cls, weights: str = "auto", device: str = "cpu", liveness: bool = True) -> Engine:
        """Everything an attempt needs; missing weights/calibration/liveness model raise (fail closed)."""
        from faceunlock.weights import resolve_backbone

        backbone = resolve_backbone(weights, device=device)
        calibration = find_calibration(backbone)
        calibration.check_for(backbone)
        checker = None
        if liveness:
            from faceunlock.liveness import LivenessChecker

            checker = LivenessChecker.load(device=device)
        return cls(backbone, calibration, FaceProcessor(backbone), checker)


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
        self.liveness = None
        if engine.liveness is not None:
            from faceunlock.liveness import LivenessSession

            self.liveness = LivenessSession(engine.liveness)
        self.frames_seen = 0
        self.rejected: Counter[str] = Counter()

    def offer(self, frame: np.ndarray) -> FrameResult:
        self.frames_seen += 1
        r = self.engine.processor.analyze(frame)
        if r.rejection:
            self.rejected[r.rejection] += 1
        elif not self.spoof:
            if self.liveness is not None:
                self.liveness.offer(frame, r.face)
            self.verifier.add(self.engine.processor.embed_one(r.chip))
        return r

    @property
    def spoof(self) -> bool:
        """A photo or screen was detected: final for this attempt."""
        return self.liveness is not None and self.liveness.spoof

    @property
    def accepted(self) -> bool:
        live = self.liveness is None or self.liveness.live
        return self.verifier.satisfied and live and not self.spoof

    @property
    def finished(self) -> bool:
        return self.accepted or self.spoof

    def decision(self, ended: str = "") -> Decision:
        d = self.verifier.decision(self.frames_seen, self.engine.backbone.name, self.rejected, ended)
        if self.liveness is not None:
            d.liveness = round(self.liveness.window_mean, 4) if self.liveness.decided else None
            if self.spoof:
                d.accepted = False
                d.spoof = True
                d.reason = f"presentation attack suspected: {self.liveness.message}"
            elif d.accepted and not self.accepted:
                d.accepted = False
                d.reason = f"face matched but liveness not confirmed yet ({self.liveness.message})"
        return d


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
        if session.finished:
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
        elif decision.frames_usable > 0:  # a face was there and did not pass (or was a photo/screen)
            lockout.record_failure()
    return decision
