"""The capture behind the enrolment wizard, in its own thread: frames → pose gate → EnrollmentSession, then the
templates are embedded and saved in one atomic store write, only if the capture was not cancelled."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal

from faceunlock.gui.workers import FrameThread
from faceunlock.poses import PoseCoverage

if TYPE_CHECKING:
    import numpy as np

    from faceunlock.auth import Engine
    from faceunlock.pipeline import FrameResult


@dataclass
class EnrollSummary:
    user: str
    label: str
    templates: int
    frames_seen: int
    frames_usable: int
    poses: list[tuple[str, str, int, int]]
    model: str


class EnrollThread(FrameThread):
    """Feeds frames to EnrollmentSession through the pose gate; at the end embeds and saves (in this thread)."""

    progress = Signal(object)  # dict: fraction, poses, prompt, captured
    completed = Signal(object)  # EnrollSummary
    enroll_failed = Signal(str)

    def __init__(self, source: str, engine_provider: Callable[[], Engine], user: str, label: str, replace: bool,
                 **kw) -> None:  # fmt: skip
        super().__init__(source, engine_provider, **kw)
        self.user, self.label, self.replace = user, label, replace
        self.coverage = PoseCoverage()
        self.session = None
        self._cancel = threading.Event()
        self._finish = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()
        self.requestInterruption()

    def finish_now(self) -> None:
        """Stop capturing and enrol with the frames so far (allowed once the frontal quota is met)."""
        self._finish.set()
        self.requestInterruption()

    def prepare(self, engine: Engine) -> None:
        from faceunlock.enrollment import EnrollmentSession

        self.session = EnrollmentSession(engine.processor, engine.calibration, coverage=self.coverage)
        self.status.emit("ready", self.coverage.next_prompt())

    def process(self, engine: Engine, frame: np.ndarray) -> tuple[FrameResult | None, str]:
        s = self.session
        before = len(s.chips)
        r = s.offer(frame)
        captured = len(s.chips) > before
        self.progress.emit({"fraction": self.coverage.captured / self.coverage.total, "captured": captured,
                            "poses": self.coverage.snapshot(), "prompt": self.coverage.next_prompt(),
                            "can_finish": s.can_finish})  # fmt: skip
        if s.done:
            self._finish.set()
            self.requestInterruption()
        return r, "captured" if captured else ""

    def after_loop(self, engine: Engine) -> None:
        if self._cancel.is_set() or self.session is None:
            return
        from faceunlock.enrollment import EnrollmentError

        self.status.emit("saving", "Saving your face data…")
        try:
            result = self.session.finish()
        except EnrollmentError as e:
            self.enroll_failed.emit(str(e))
            return
        if self._cancel.is_set():
            return
        self._save(engine, result)
        self.completed.emit(EnrollSummary(self.user, self.label, len(result.embeddings), result.frames_seen,
                                          result.frames_usable, self.coverage.snapshot(), engine.backbone.name))  # fmt: skip

    def _save(self, engine: Engine, result) -> None:
        from faceunlock.store import TemplateEntry, TemplateStore

        bb = engine.backbone
        entry = TemplateEntry.create(result.embeddings, bb.name, bb.sha256, self.label)
        TemplateStore().put_appearance(self.user, entry, replace_all=self.replace)
