""""Test recognition": one attempt exactly as the lock screen makes it, with the numbers shown.

Why: after enrolling (or adding glasses) people want to know it works before they rely on it. Test attempts do
not count towards the lock-out: the session is already unlocked, so they gain an attacker nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from faceunlock.gui.camera_view import CameraView
from faceunlock.gui.face_unlock import lock_screen_policy
from faceunlock.gui.verdict_dialog import VerdictDialog
from faceunlock.gui.workers import FrameThread, PreviewFrame, retire

if TYPE_CHECKING:
    import numpy as np

    from faceunlock.auth import Attempt, Engine
    from faceunlock.pipeline import FrameResult
    from faceunlock.policy import AuthPolicy


class RecognitionThread(FrameThread):
    """One lock-screen attempt (`lock_screen_policy`): stops at acceptance, a photo/screen verdict or
    `2 × window` judged frames, and emits the Decision."""

    decided = Signal(object)

    def __init__(self, source: str, engine_provider: Callable[[], Engine], user: str, window: int | None = None,
                 required: int | None = None, *, policy: AuthPolicy | None = None, **kw) -> None:  # fmt: skip
        super().__init__(source, engine_provider, **kw)
        self.user = user
        self.policy = lock_screen_policy(policy, window, required)
        self.session: Attempt | None = None

    def prepare(self, engine: Engine) -> None:
        from faceunlock.auth import Attempt, user_templates
        from faceunlock.store import TemplateStore

        templates = user_templates(TemplateStore(), self.user, engine.backbone)
        self.session = Attempt(engine, templates, self.policy)

    def process(self, engine: Engine, frame: np.ndarray) -> tuple[FrameResult | None, str]:
        s = self.session
        r = s.offer(frame)
        if s.finished and (s.counts or s.accepted):
            self.decided.emit(s.decision())
            self.requestInterruption()
        elif s.finished:  # nobody in view for max_frames: keep looking, as the lock screen does
            from faceunlock.auth import Attempt

            self.session = Attempt(engine, s.verifier.templates, self.policy)
        return r, ""

    def after_loop(self, engine: Engine) -> None:
        if self.session is not None and not self.session.accepted and not self.isInterruptionRequested():
            self.decided.emit(self.session.decision("the source ended"))


class RecognitionDialog(VerdictDialog):
    def __init__(self, engine_provider: Callable[[], Engine], source: str, user: str, window: int | None = None,
                 required: int | None = None, *, realtime: bool = True, skip: int = 0,
                 parent: QWidget | None = None) -> None:  # fmt: skip
        self.view = CameraView()
        super().__init__(user, [(self.view, 1)], (760, 600), parent)
        self.engine_provider, self.source = engine_provider, source
        self.decision_window, self.required, self.realtime, self.skip = window, required, realtime, skip
        self.thread: RecognitionThread | None = None
        self.decision = None
        self.start()

    def start(self) -> None:
        if self.thread is not None:
            retire(self.thread)
        self.decision = None
        self.show_waiting()
        t = RecognitionThread(self.source, self.engine_provider, self.user, self.decision_window, self.required,
                              realtime=self.realtime, skip=self.skip, parent=self)  # fmt: skip
        t.frame_ready.connect(self._on_frame)
        t.status.connect(self._on_status)
        t.decided.connect(self._on_decided)
        t.failed.connect(self._on_failed)
        self.thread = t
        t.start()

    def _on_status(self, kind: str, text: str) -> None:
        if kind in ("loading", "camera"):
            self.view.set_placeholder(text)

    def _on_frame(self, frame: PreviewFrame) -> None:
        self.view.set_frame(frame)
        if frame.result is not None and self.decision is None:
            self.view.set_guidance(frame.result.message if not frame.result.usable else "Checking…")

    def _on_decided(self, decision) -> None:
        self.decision = decision
        why = "" if decision.accepted else f" {decision.reason[:1].upper()}{decision.reason[1:]}."
        self.show_verdict(decision.accepted, f"{decision.summary()}.{why}")
        self.view.set_guidance("Recognised" if decision.accepted else "", ok=decision.accepted)

    def _on_failed(self, message: str) -> None:
        self.show_failure(message)
        self.view.set_placeholder("No picture")

    def done(self, result: int) -> None:
        if self.thread is not None:
            retire(self.thread)
            self.thread = None
        super().done(result)
