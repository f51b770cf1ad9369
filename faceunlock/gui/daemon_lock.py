"""The lock screen's face side through faceunlockd, when the system daemon holds the user's face.

Why: the daemon answers in well under a second with the model already loaded, and its store, camera, policy and
lockout are out of the user's reach. Same signals as `FaceUnlockThread`, so `LockScreen` treats both alike:
attempts run back to back (each one an AUTH exchange), the daemon's back-off pauses the face, anything the
daemon cannot answer hands over to the password. Unlocking or shutting down hangs up, which cancels the attempt.
A recorded source given on the command line (tests, demos) keeps the in-process thread.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal

from faceunlock.daemon_client import Connection, DaemonClient, DaemonError, system_socket

BUSY_RETRY_S = 1.0
PAUSED_RETRY_S = 5.0


class DaemonFaceThread(QThread):
    status = Signal(str, str)  # kind ("waiting", "scanning", "paused", "matched"), text
    failed = Signal(str)
    source_ended = Signal(str)
    accepted = Signal(object)
    attempt_failed = Signal(object)
    frame_ready = Signal(object)  # never emitted: the daemon's frames stay in the daemon

    def __init__(self, path: str | Path, user: str, *, rearm_s: float = 0.0, ranges: dict | None = None,
                 parent: QObject | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.path, self.user, self.rearm_s, self.ranges = path, user, rearm_s, ranges or {}
        self.connection: Connection | None = None
        self.attempts = 0

    # -- stopping ----------------------------------------------------------------------------------------------
    def requestInterruption(self) -> None:  # noqa: N802 - Qt name
        super().requestInterruption()
        if self.connection is not None:
            self.connection.hang_up()  # the daemon cancels the attempt and frees its camera

    def stop(self, wait_ms: int = 10000) -> None:
        self.requestInterruption()
        self.wait(wait_ms)

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless interrupted; False when interrupted."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self.isInterruptionRequested():
                return False
            time.sleep(min(0.1, end - time.monotonic()))
        return not self.isInterruptionRequested()

    # -- attempts ----------------------------------------------------------------------------------------------
    def run(self) -> None:
        start = time.monotonic()
        while (left := self.rearm_s - (time.monotonic() - start)) > 0:
            self.status.emit("waiting", f"Face unlock starts in {math.ceil(left)} s")
            if not self._sleep(min(1.0, left)):
                return
        self.status.emit("scanning", "Looking for your face…")
        while not self.isInterruptionRequested():
            try:
                reply = DaemonClient(self.path).verify(self.user, lambda t: self.status.emit("scanning", t),
                                                       on_connect=self._keep, **self.ranges)  # fmt: skip
            except DaemonError as e:
                if not self.isInterruptionRequested():
                    self.failed.emit(f"the face service stopped answering: {e}")
                return
            finally:
                self.connection = None
            self.attempts += 1
            if self.isInterruptionRequested():
                return
            decision = _decision(reply.decision, reply.text)
            if reply.word == "OK":
                self.status.emit("matched", "Face recognised")
                self.accepted.emit(decision)
                return
            if reply.word == "FAIL" and reply.text.startswith("too many failed attempts"):
                self.status.emit("paused", "Face unlock is paused for now")
                if not self._sleep(PAUSED_RETRY_S):
                    return
            elif reply.word == "FAIL":
                self.attempt_failed.emit(decision)
                self.status.emit("scanning", "Face not recognised. Still looking… (or type your password)")
            elif reply.word == "UNAVAIL" and reply.text.startswith("busy"):
                if not self._sleep(BUSY_RETRY_S):
                    return
            elif reply.word == "UNAVAIL" and reply.text.startswith("no usable face"):
                continue  # nobody in view yet: ask again
            else:  # IGNORE (not enrolled there), DENIED, camera or model trouble: the password it is
                self.failed.emit(f"{reply.word} {reply.text}")
                return

    def _keep(self, conn: Connection) -> None:
        self.connection = conn
        if self.isInterruptionRequested():
            conn.hang_up()


def _decision(d: dict | None, text: str):
    """The daemon's Decision as the core type when it fits (the lock screen only reads it), else a bare one."""
    from faceunlock.verify import Decision

    try:
        return Decision(**d) if d else Decision(False, text, 0.0)
    except TypeError:
        return Decision(bool(d.get("accepted")), str(d.get("reason", text)), float(d.get("threshold", 0.0)))


def daemon_face_thread(user: str, source: str, rearm_s: float, parent: QObject | None = None) -> DaemonFaceThread | None:
    """A daemon-backed face thread when the source is the camera and the system daemon holds `user`'s face."""
    from faceunlock.capture import is_camera
    from faceunlock.gui.daemon_test import enrolled_in_daemon

    path = system_socket()
    if path is None or not is_camera(source) or not enrolled_in_daemon(user, path):
        return None
    return DaemonFaceThread(path, user, rearm_s=rearm_s, parent=parent)
