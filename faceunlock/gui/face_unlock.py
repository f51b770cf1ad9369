"""The lock screen's face side, in its own thread: re-arm delay, then the core's `Attempt`s (match and liveness
on the same frames of one tracked face) with each attempt reserved and settled in the lock-out.

Face unlock is not armed at once (Howdy's most-reported flaw is re-unlocking while the user is still seated
right after locking): it waits until the face has left the frame or `rearm_s` seconds of frames have passed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from faceunlock.gui.workers import FrameThread

if TYPE_CHECKING:
    import numpy as np

    from faceunlock.auth import Attempt, Engine
    from faceunlock.lockout import Lockout, Reservation
    from faceunlock.pipeline import FrameResult
    from faceunlock.policy import AuthPolicy

DEFAULT_REARM_S = 4.0
ABSENT_FRAMES_TO_ARM = 3  # consecutive frames without a face = the user stepped away


class FaceUnlockThread(FrameThread):
    """Arms after the re-arm delay, then runs the core's `Attempt`s back to back under the lock-out.

    An attempt is reserved in the lock-out just before its first face is judged (an empty room reserves and
    counts nothing) and settled when it ends: accepted (match AND live on the same frames, one tracked face),
    a photo or a screen, or `max_judged` frames (2 × window) without acceptance — each of the last two is one
    failure. The policy is the core's `AuthPolicy`; `window`/`required` only override its window.
    """

    accepted = Signal(object)  # verify.Decision
    attempt_failed = Signal(object)

    def __init__(self, source: str, engine_provider: Callable[[], Engine], user: str, lockout: Lockout, *,
                 window: int | None = None, required: int | None = None, policy: AuthPolicy | None = None,
                 rearm_s: float = DEFAULT_REARM_S, realtime: bool = True, skip: int = 0,
                 parent: QObject | None = None) -> None:  # fmt: skip
        super().__init__(source, engine_provider, realtime=realtime, skip=skip, parent=parent)
        self.user, self.lockout, self.rearm_s = user, lockout, rearm_s
        self.policy = lock_screen_policy(policy, window, required)
        self.templates = None
        self.armed = False
        self._first_frame_t: float | None = None
        self._absent = 0
        self._attempt: Attempt | None = None
        self._reservation: Reservation | None = None
        self._last_status = ""
        self._hold_until = 0.0

    def _status(self, kind: str, text: str, hold_s: float = 0.0) -> None:
        """One signal per change, not per frame; a `hold_s` message (a failed attempt) stays up that long."""
        now = time.monotonic()
        if text == self._last_status or (now < self._hold_until and kind == "scanning" and not hold_s):
            return
        self._last_status, self._hold_until = text, now + hold_s
        self.status.emit(kind, text)

    def prepare(self, engine: Engine) -> None:
        from faceunlock.auth import user_templates
        from faceunlock.store import TemplateStore

        self.templates = user_templates(TemplateStore(), self.user, engine.backbone)

    def paused(self) -> bool:
        if self._reservation is None and self.lockout.seconds_remaining() > 0:  # our own attempt is not a pause
            self._attempt = None
            self._status("paused", "Face unlock is paused for now")
            return True
        return False

    def _reserve(self) -> bool:
        self._reservation = self.lockout.reserve()
        return self._reservation.granted

    def _settle(self, accepted: bool) -> None:
        """End the current attempt in the lock-out (a failure unless accepted or no face was ever judged)."""
        a, r = self._attempt, self._reservation
        self._attempt, self._reservation = None, None
        if r is not None and r.granted:
            self.lockout.settle(r, accepted=accepted, counted=a is not None and a.counts)

    def process(self, engine: Engine, frame: np.ndarray) -> tuple[FrameResult | None, str]:
        now = time.monotonic()
        if not self.armed:
            r = engine.processor.analyze(frame)
            self._first_frame_t = self._first_frame_t or now
            self._absent = self._absent + 1 if r.face is None else 0
            left = self.rearm_s - (now - self._first_frame_t)
            if self._absent >= ABSENT_FRAMES_TO_ARM or left <= 0:
                self.armed = True
                self._status("scanning", "Looking for your face…")
            else:
                self._status("waiting", f"Face unlock starts in {math.ceil(left)} s, or as soon as you step away")
            return r, "waiting"
        from faceunlock.auth import Attempt

        if self._attempt is None:
            self._attempt = Attempt(engine, self.templates, self.policy, admit=self._reserve)
        a = self._attempt
        r = a.offer(frame)
        if a.locked_out:  # the back-off started elsewhere (password, CLI) between frames
            self._attempt, self._reservation = None, None
            self._status("paused", "Face unlock is paused for now")
            return r, ""
        if a.accepted:
            decision = a.decision()
            self._settle(accepted=True)
            self._status("matched", "Face recognised")
            self.accepted.emit(decision)
            self.requestInterruption()
            return r, "matched"
        if a.spoof:  # a photo or a screen: a failed attempt, and a fresh one for the next frames
            decision = a.decision("presentation attack")
            self._settle(accepted=False)
            self.attempt_failed.emit(decision)
            self._status("scanning", "That looks like a photo or a screen, not a live face", hold_s=3.0)
            return r, "spoof"
        if a.finished:
            decision = a.decision("attempt over")
            counted = a.counts
            self._settle(accepted=False)
            if counted:
                self.attempt_failed.emit(decision)
                self._status("scanning", "Face not recognised. Still looking… (or type your password)", hold_s=2.5)
                return r, "no match"
        if not r.usable:
            self._status("scanning", r.message)
        else:
            self._status("scanning", "Looking for your face…")
        return r, ""

    def after_loop(self, engine: Engine) -> None:
        self._settle(accepted=False)

    def run(self) -> None:
        try:
            super().run()
        finally:
            # stopped mid-attempt (unlocked by password, shut down, an error): the reservation is settled, so
            # an attempt that judged a face stays a failure and one that did not is handed back
            self._settle(accepted=False)


def lock_screen_policy(policy: AuthPolicy | None = None, window: int | None = None,
                       required: int | None = None) -> AuthPolicy:  # fmt: skip
    """The lock screen's attempts: the core policy (optionally another window), over after 2 × window judged
    frames, so a camera that never stops gives a sequence of attempts, each counted (and after max_frames, as
    everywhere: one that judged a face counts, an empty room does not)."""
    from dataclasses import replace

    from faceunlock.policy import AuthPolicy

    base = policy or AuthPolicy()
    base = replace(base, window=window or base.window, required=required or base.required)
    return replace(base, max_judged=base.max_judged or 2 * base.window)
