"""The lock screen's face side, in its own thread: re-arm delay, attempts, the core's match-and-liveness decision,
and the lock-out count.

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

    from faceunlock.auth import Engine
    from faceunlock.lockout import Lockout
    from faceunlock.pipeline import FrameResult

DEFAULT_REARM_S = 4.0
ABSENT_FRAMES_TO_ARM = 3  # consecutive frames without a face = the user stepped away


class FaceUnlockThread(FrameThread):
    """Arms after the re-arm delay, then runs AuthSession attempts; records face failures in the lockout.

    An attempt is `2 × window` usable frames; one that ends without `required` matches in a `window` counts as
    one failure, and so does one the core's liveness check calls a photo or a screen (frames without a usable
    face never do, so an empty room does not lock the owner out). Acceptance is the core's: match AND live.
    """

    accepted = Signal(object)  # verify.Decision
    attempt_failed = Signal(object)

    def __init__(self, source: str, engine_provider: Callable[[], Engine], user: str, lockout: Lockout, *,
                 window: int = 5, required: int = 3, rearm_s: float = DEFAULT_REARM_S, realtime: bool = True,
                 skip: int = 0, parent: QObject | None = None) -> None:  # fmt: skip
        super().__init__(source, engine_provider, realtime=realtime, skip=skip, parent=parent)
        self.user, self.lockout = user, lockout
        self.decision_window, self.required, self.rearm_s = window, required, rearm_s
        self.templates = None
        self.armed = False
        self._first_frame_t: float | None = None
        self._absent = 0
        self._session = None
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
        if self.lockout.seconds_remaining() > 0:
            self._session = None
            self._status("paused", "Face unlock is paused for now")
            return True
        return False

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
        from faceunlock.auth import AuthSession

        if self._session is None:
            self._session = AuthSession(engine, self.templates, self.required, self.decision_window)
        s = self._session
        r = s.offer(frame)
        if s.accepted and not self.paused():
            self.lockout.record_success()
            self._status("matched", "Face recognised")
            self.accepted.emit(s.decision())
            self.requestInterruption()
            return r, "matched"
        if s.spoof:  # a photo or a screen: a failed attempt, and a fresh session for the next one
            self.lockout.record_failure()
            self.attempt_failed.emit(s.decision("presentation attack"))
            self._session = None
            self._status("scanning", "That looks like a photo or a screen, not a live face", hold_s=3.0)
            return r, "spoof"
        if len(s.verifier.distances) >= 2 * self.decision_window:
            self.lockout.record_failure()
            self.attempt_failed.emit(s.decision("attempt over"))
            self._session = None
            self._status("scanning", "Face not recognised. Still looking… (or type your password)", hold_s=2.5)
            return r, "no match"
        if not r.usable:
            self._status("scanning", r.message)
        else:
            self._status("scanning", "Looking for your face…")
        return r, ""
