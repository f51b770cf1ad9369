"""One authentication attempt end to end, shared by the lock screen, the CLI, "Test recognition" and the daemon.

frames → detect → quality → align → embed → liveness → multi-frame verify, under one `AuthPolicy` and the lockout:
a locked-out user gets no attempt at all (no frame is read), and every attempt that judged a face and did not
match (or was a photo or a screen) counts as a failure.

Per frame, in this order (docs/decisions/009-one-attempt.md has the attacks each rule closes):
- one tracked face: a usable face far from the last one (box jump) or of another person (embedding) resets the
  evidence: frames of a stranger and frames of the owner never add up;
- no replays of a still: a frame (almost) identical to any judged frame of this face is no new evidence;
- liveness on that same frame: a frame matches only if it is also judged live, and one frame judged a photo or
  a screen ends the attempt as a presentation attack.
Any error raises (the caller keeps the screen locked); nothing here ever returns "accepted" by default.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from faceunlock.calibrate import Calibration, find_calibration
from faceunlock.embed import Backbone
from faceunlock.pipeline import FaceProcessor, FaceStream, FrameResult
from faceunlock.policy import AuthPolicy
from faceunlock.reasons import Rejection
from faceunlock.verify import Decision, Verifier

if TYPE_CHECKING:
    from faceunlock.detect import Face
    from faceunlock.liveness import LivenessChecker
    from faceunlock.lockout import Lockout


DEFAULT_POLICY = AuthPolicy()


@dataclass
class Engine:
    """The loaded model, its calibration and the face processor: build once, reuse for every attempt."""

    backbone: Backbone
    calibration: Calibration
    processor: FaceProcessor
    liveness: LivenessChecker | None = None

    @classmethod
    def load(cls, weights: str = "auto", device: str = "cpu", liveness: bool = True) -> Engine:
        """Everything an attempt needs; missing weights/calibration/liveness model raise (fail closed).

        The networks come from the graph folder (faceunlock/runtime.py). When one is not exported yet (first run,
        new weights, a cleared cache), a child process loads the same engine and exports them, and this process
        then reads the folder: exporting imports torch, and a process that imported it keeps its ~300 MiB."""
        from faceunlock import runtime

        if os.environ.get(_EXPORT_HERE) != "1":
            try:
                with runtime.cached_only():
                    return cls._load(weights, device, liveness)
            except runtime.GraphMissing:
                _export_in_child(weights, device, liveness)
        return cls._load(weights, device, liveness)  # exports here only if the child could not (its error, raised)

    @classmethod
    def _load(cls, weights: str, device: str, liveness: bool) -> Engine:
        from faceunlock.cpu import apply_inference_policy
        from faceunlock.weights import resolve_backbone

        apply_inference_policy()  # every process that unlocks (CLI, GUI, lock screen, daemon) builds its engine here
        backbone = resolve_backbone(weights, device=device, compiled=True)
        calibration = find_calibration(backbone)
        calibration.check_for(backbone)
        _ = calibration.decision  # a calibration that cannot decide (an older file) fails here, saying how to fix it
        checker = None
        if liveness:
            from faceunlock.liveness import LivenessChecker

            checker = LivenessChecker.load(device=device)
        return cls(backbone, calibration, FaceProcessor(backbone), checker)


_EXPORT_HERE = "FACEUNLOCK_EXPORT_HERE"  # set in the exporting child: it must not start a child of its own
_EXPORT_CODE = "import sys\nfrom faceunlock.auth import Engine\nEngine.load(sys.argv[1], sys.argv[2], sys.argv[3] == '1')"


def _export_in_child(weights: str, device: str, liveness: bool) -> None:
    """Export the engine's missing graphs in a short-lived process (same environment, so the same folder). Its
    failure is not reported here: the caller's own load then exports in-process and raises the real error."""
    import subprocess
    import sys

    env = dict(os.environ, **{_EXPORT_HERE: "1"})
    cmd = [sys.executable, "-c", _EXPORT_CODE, weights, device, "1" if liveness else "0"]
    try:
        subprocess.run(cmd, env=env, capture_output=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired):
        pass


Templates = np.ndarray | Sequence[np.ndarray]  # one block, or one per appearance


def user_templates(store, user: str, backbone: Backbone) -> list[np.ndarray]:
    """The user's templates made by this exact model, one block per appearance (the Verifier compares with each
    appearance's centroid); other models' templates cannot be compared."""
    return store.load(user).appearances_for(backbone.sha256)


_GREY = np.array([0.299, 0.587, 0.114], np.float32)


def grey(chip: np.ndarray) -> np.ndarray:
    """An aligned RGB chip as float grey levels (0–255), the form repeated frames are compared in."""
    return chip.astype(np.float32) @ _GREY if chip.ndim == 3 else chip.astype(np.float32)


def chip_change(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute grey-level difference (0–255) of two aligned chips (RGB or grey): 0 for a repeated frame."""
    return float(np.abs(grey(a) - grey(b)).mean())


@dataclass
class _Track:
    """The face being followed: the last judged frame's box and embedding, and every judged chip (grey)."""

    face: Face
    embedding: np.ndarray
    chips: list[np.ndarray]


class Attempt:
    """One attempt, frame by frame (the CLI, the GUI workers and the daemon feed it); `decision()` summarises.

    `admit`, when given, is asked once, just before the first face is judged (the lock screen reserves the
    attempt in the lockout there, so an empty room reserves nothing); False ends the attempt unread.
    """

    def __init__(self, engine: Engine, templates: Templates, policy: AuthPolicy = DEFAULT_POLICY, *,
                 admit: Callable[[], bool] | None = None) -> None:  # fmt: skip
        self.engine, self.policy = engine, policy
        self.verifier = Verifier(templates, engine.calibration, policy.required, policy.window)
        self.track_distance = (
            policy.track_distance if policy.track_distance is not None else engine.calibration.threshold
        )
        self.frames_seen = 0
        self.rejected: Counter[Rejection] = Counter()
        self.live_scores: list[float] = []  # per judged frame, in order
        self.resets = 0  # times another face took over
        self.ended = ""  # why the attempt stopped short of a verdict (max frames, timeout, locked out)
        self.locked_out = False
        self._admit = admit
        self._spoof = False
        self._track: _Track | None = None
        self._window_live: list[float] = []
        self._stream = FaceStream(engine.processor)  # this attempt's frames are one camera's, in order
        self._start = time.monotonic()

    # -- one frame --------------------------------------------------------------------------------------------
    def offer(self, frame: np.ndarray) -> FrameResult:
        """Analyse one RGB frame and, if it holds a usable face, judge it; a finished attempt judges nothing."""
        if self.finished:
            return self._stream.analyze(frame)
        self.frames_seen += 1
        r = self._stream.analyze(frame)
        if r.rejection:
            self.rejected[r.rejection] += 1
        else:
            self._judge(frame, r)
        self._check_limits()
        return r

    def _judge(self, frame: np.ndarray, r: FrameResult) -> None:
        if self._admit is not None:
            admit, self._admit = self._admit, None
            if not admit():
                self.locked_out = True
                self.ended = "locked out"
                return
        embedding, g = self.engine.processor.embed_one(r.chip), grey(r.chip)
        t = self._track
        if t is None or not self._same_face(t, r.face, embedding):
            if t is not None:
                self.resets += 1
                self.verifier.reset()  # a stranger's frames and the owner's never add up
                self._window_live.clear()
            t = self._track = _Track(r.face, embedding, [])
        elif any(chip_change(c, g) < self.policy.min_change for c in t.chips):
            self.rejected[Rejection.REPEATED] += 1  # a looped still or a frozen camera: no new evidence
            return
        t.face, t.embedding = r.face, embedding
        t.chips.append(g)
        live = True
        if self.engine.liveness is not None:
            score = self.engine.liveness.score(frame, r.face)
            self.live_scores.append(score)
            self._window_live = (self._window_live + [score])[-self.policy.window :]
            live = score >= self.policy.live_threshold
            self._spoof = self._spoof or not live
        self.verifier.add(embedding, live=live)

    def _same_face(self, prev: _Track, face: Face, embedding: np.ndarray) -> bool:
        """Box continuity and embedding consistency with the last judged frame."""
        w = max(prev.face.width, 1.0)
        shift = float(np.linalg.norm(face.centre - prev.face.centre)) / w
        scale = max(face.width, 1.0) / w
        if shift > self.policy.max_shift or not 1 / self.policy.max_scale <= scale <= self.policy.max_scale:
            return False
        return float(np.linalg.norm(embedding - prev.embedding)) <= self.track_distance

    def _check_limits(self) -> None:
        if self.finished:
            return
        p = self.policy
        if p.max_judged is not None and self.frames_judged >= p.max_judged:
            self.ended = f"not recognised in {p.max_judged} frames"
        elif self.frames_seen >= p.max_frames:
            self.ended = f"gave up after {p.max_frames} frames"
        elif p.timeout_s is not None and time.monotonic() - self._start > p.timeout_s:
            self.ended = f"timed out after {p.timeout_s:.0f} s"

    # -- state ----------------------------------------------------------------------------------------------
    @property
    def frames_judged(self) -> int:
        return len(self.verifier.distances)

    @property
    def spoof(self) -> bool:
        """A frame was judged a photo or a screen: final for this attempt."""
        return self._spoof

    @property
    def accepted(self) -> bool:
        return self.verifier.satisfied and not self._spoof and not self.locked_out

    @property
    def finished(self) -> bool:
        return self.accepted or self._spoof or bool(self.ended)

    @property
    def counts(self) -> bool:
        """Whether this attempt, if not accepted, is a failure for the lockout: a face was judged."""
        return self.frames_judged > 0 or self._spoof

    def decision(self, ended: str = "") -> Decision:
        """The verdict so far; `ended` says why the caller stopped feeding frames (source ended, cancelled)."""
        ended = self.ended or ended
        d = self.verifier.decision(self.frames_seen, self.engine.backbone.name, self.rejected, ended)
        if self._window_live:
            d.liveness = round(float(np.mean(self._window_live)), 4)
        if self._spoof:
            d.accepted, d.spoof = False, True
            worst = min(self.live_scores)
            d.reason = (f"presentation attack suspected: a frame scored {worst:.2f} live (< "
                        f"{self.policy.live_threshold}): a photo or a screen, not a live face")  # fmt: skip
        elif self.locked_out:
            d.accepted = False
        if self.resets:
            d.reason += f"; another face took over {self.resets}×"
        return d


def authenticate(engine: Engine, templates: Templates, frames: Iterable[np.ndarray], lockout: Lockout | None = None,
                 policy: AuthPolicy | None = None, on_frame: Callable[[FrameResult], None] | None = None,
                 cancelled: Callable[[], bool] | None = None) -> Decision:  # fmt: skip
    """Run one attempt over `frames` (stops at acceptance, a spoof, max frames, timeout, cancel or the source's end).

    The attempt is reserved in `lockout` before the first frame is read — atomically, so parallel attempts cannot
    all pass the limit — and settled after: accepted resets the count, a judged face that did not pass stays
    counted, an attempt that never judged a face (or was cancelled before one) is handed back.
    """
    policy = policy or AuthPolicy()
    reservation = None
    if lockout is not None:
        reservation = lockout.reserve()
        if not reservation.granted:
            return Decision(False, f"too many failed attempts: try again in {reservation.wait_s:.0f} s",
                            engine.calibration.decision.threshold, model=engine.backbone.name,
                            locked_out_s=reservation.wait_s)  # fmt: skip
    attempt: Attempt | None = None
    try:
        attempt = Attempt(engine, templates, policy)
        ended = "source ended"
        it = iter(frames)
        while True:
            if cancelled is not None and cancelled():
                ended = "cancelled"
                break
            frame = next(it, None)
            if frame is None:
                break
            r = attempt.offer(frame)
            if on_frame:
                on_frame(r)
            if attempt.finished:
                ended = ""
                break
        decision = attempt.decision(ended)
    except BaseException:
        if reservation is not None:
            lockout.settle(reservation, accepted=False, counted=attempt is not None and attempt.counts)
        raise
    if reservation is not None:
        lockout.settle(reservation, accepted=decision.accepted, counted=attempt.counts)
    return decision
