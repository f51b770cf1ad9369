""""Test recognition" through faceunlockd, when it runs: the daemon's camera, store and policy decide, as for sudo.

Why a separate dialog: the daemon owns the camera (no preview reaches the GUI), so it shows the daemon's progress
lines and then the decision. Closing it hangs up, which cancels the attempt and frees the camera at once. The
main window uses `store_in_use` to say which store answers.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QThread, Signal
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from faceunlock.daemon_client import Connection, DaemonClient, DaemonError, daemon_answers, system_socket
from faceunlock.gui.theme import APP_STYLE, COLORS
from faceunlock.gui.verdict_dialog import VerdictDialog
from faceunlock.gui.workers import stop_or_retire


def store_in_use(path: str | Path | None = None) -> str:
    """One line for the main window: which store and decision-maker face unlock uses on this machine."""
    status = daemon_answers(path)
    if status is None:
        return "Face data: your own encrypted store (key in your keyring); decisions made in this app."
    return (f"Face data: the system store of faceunlockd (model {status.get('model', '?')}); it decides for sudo, "
            "the desktop's lock screen and Test recognition.")  # fmt: skip


def enrolled_in_daemon(user: str, path: str | Path | None = None) -> bool:
    """Whether the daemon (default: the system one) answers and holds a face for `user` (as this process sees)."""
    found = path if path is not None else system_socket()
    if found is None:
        return False
    try:
        reply = DaemonClient(found, timeout=2.0).list_users()
    except DaemonError:
        return False
    return reply.ok and any(u.get("user") == user and not u.get("error") for u in reply.users)


class DaemonVerifyThread(QThread):
    """One VERIFY request; `info` per progress line, then `decided(word, text, decision dict or None)`."""

    info = Signal(str)
    decided = Signal(str, str, object)
    failed = Signal(str)

    def __init__(self, path: str | Path, user: str, ranges: dict | None = None, parent=None) -> None:
        super().__init__(parent)
        self.path, self.user, self.ranges = path, user, ranges or {}
        self.connection: Connection | None = None

    def run(self) -> None:
        def keep(conn: Connection) -> None:
            self.connection = conn

        try:
            reply = DaemonClient(self.path).verify(self.user, self.info.emit, on_connect=keep, **self.ranges)
        except DaemonError as e:
            if not self.isInterruptionRequested():
                self.failed.emit(str(e))
            return
        self.decided.emit(reply.word, reply.text, reply.decision)

    def cancel(self) -> None:
        self.requestInterruption()
        if self.connection is not None:
            self.connection.hang_up()


class DaemonRecognitionDialog(VerdictDialog):
    def __init__(self, path: str | Path, user: str, *, ranges: dict | None = None, parent: QWidget | None = None) -> None:
        note = QLabel("Asked of the system face service (faceunlockd): its camera, its stored face.",
                      objectName="muted", wordWrap=True)  # fmt: skip
        self.progress = QLabel("", alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        super().__init__(user, [(note, 0), (self.progress, 1)], (560, 320), parent)
        self.path, self.ranges = path, ranges
        self.thread: DaemonVerifyThread | None = None
        self.word: str | None = None
        self.decision: dict | None = None
        self.start()

    def start(self) -> None:
        self._stop()
        self.word, self.decision = None, None
        self.show_waiting()
        t = DaemonVerifyThread(self.path, self.user, self.ranges, parent=self)
        t.info.connect(self.progress.setText)
        t.decided.connect(self._on_decided)
        t.failed.connect(self.show_failure)
        self.thread = t
        t.start()

    def _on_decided(self, word: str, text: str, decision: dict | None) -> None:
        self.word, self.decision = word, decision
        good = word == "OK"
        detail = text
        if decision and decision.get("frames_usable") and "threshold" in decision:  # root sees the numbers
            from faceunlock.verify import Decision

            detail = f"{Decision.from_dict(decision).summary()}. {'' if good else text}"
        self.show_verdict(good, detail, ran=word in ("OK", "FAIL"))

    def _stop(self) -> None:
        if self.thread is not None:
            self.thread.cancel()
            stop_or_retire(self.thread, 5000)
            self.thread = None

    def done(self, result: int) -> None:
        self._stop()  # hanging up cancels the daemon's attempt and frees its camera
        super().done(result)


def open_if_daemon(parent: QWidget, user: str) -> bool:
    """Open the daemon's Test recognition when the system daemon answers and holds `user`'s face."""
    path = system_socket()
    if path is None or not enrolled_in_daemon(user, path):
        return False
    DaemonRecognitionDialog(path, user, parent=parent).open()
    return True


# -- enrol / remove through the daemon ---------------------------------------------------------------------------
def daemon_users(path: str | Path | None = None) -> list:
    """The faces the system daemon holds that this process may see (root: all; a user: their own), as UserInfo."""
    from faceunlock.health import UserInfo

    found = path if path is not None else system_socket()
    if found is None:
        return []
    try:
        reply = DaemonClient(found, timeout=2.0).list_users()
    except DaemonError:
        return []
    if not reply.ok:
        return []
    return [UserInfo(u["user"], [f"{a['label']} ({a['model']}, system store)" for a in u.get("appearances", [])],
                     u.get("error", "")) for u in reply.users]  # fmt: skip


def ask_account_password(parent: QWidget, user: str) -> str | None:
    """The account password the daemon checks by PAM (root needs none: returns ""); None when cancelled."""
    import os

    if os.geteuid() == 0:
        return ""
    from PySide6.QtWidgets import QInputDialog, QLineEdit

    text, ok = QInputDialog.getText(parent, "Your account password",
                                    f"The system face service checks it before it changes the face of {user}:",
                                    QLineEdit.EchoMode.Password)  # fmt: skip
    return text if ok else None


class DaemonEnrollThread(QThread):
    info = Signal(str)
    decided = Signal(str, str)
    failed = Signal(str)

    def __init__(self, path: str | Path, user: str, label: str, password: str, ranges: dict | None = None,
                 parent=None) -> None:  # fmt: skip
        super().__init__(parent)
        self.path, self.user, self.label, self._password = path, user, label, password
        self.ranges = ranges or {}
        self.connection: Connection | None = None

    def run(self) -> None:
        def keep(conn: Connection) -> None:
            self.connection = conn

        try:
            reply = DaemonClient(self.path, timeout=600).enroll(self.user, self.label, password=lambda _: self._password,
                                                                on_info=self.info.emit, on_connect=keep, **self.ranges)  # fmt: skip
        except DaemonError as e:
            if not self.isInterruptionRequested():
                self.failed.emit(str(e))
            return
        self.decided.emit(reply.word, reply.text)

    def cancel(self) -> None:
        self.requestInterruption()
        if self.connection is not None:
            self.connection.hang_up()


class DaemonEnrollDialog(QDialog):
    """Enrol (or add an appearance) in the daemon's system store: its camera; progress, then the result."""

    def __init__(self, path: str | Path, user: str, password: str, *, label: str = "default",
                 ranges: dict | None = None, parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.word: str | None = None
        self.setWindowTitle(f"Enrol {user} (system face service)")
        self.setStyleSheet(APP_STYLE)
        self.resize(520, 260)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(24, 20, 24, 16)
        lay.addWidget(QLabel(f"Enrolling {user}", objectName="title"))
        lay.addWidget(QLabel("Look at the camera and turn your head a little. The system face service takes the "
                             "pictures and keeps the face where only it can read it.", objectName="muted",
                             wordWrap=True))  # fmt: skip
        self.progress = QLabel("", alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        lay.addWidget(self.progress, 1)
        self.result = QLabel("", objectName="section", alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        lay.addWidget(self.result)
        row = QHBoxLayout()
        row.addStretch(1)
        close = QPushButton("Close", objectName="primary")
        close.clicked.connect(self.accept)
        row.addWidget(close)
        lay.addLayout(row)
        self.thread = DaemonEnrollThread(path, user, label, password, ranges, parent=self)
        self.thread.info.connect(self.progress.setText)
        self.thread.decided.connect(self._on_decided)
        self.thread.failed.connect(lambda m: self._on_decided("UNAVAIL", m))
        self.thread.start()

    def _on_decided(self, word: str, text: str) -> None:
        import json

        self.word = word
        if word == "OK":
            info = json.loads(text)
            self.result.setText(f"Enrolled: {info['templates']} templates from {info['frames_usable']} good frames.")
            self.result.setStyleSheet(f"color: {COLORS['good']};")
        else:
            self.result.setText(f"Not enrolled: {text}")
            self.result.setStyleSheet(f"color: {COLORS['bad']};")

    def done(self, result: int) -> None:
        if self.thread is not None:
            self.thread.cancel()  # closing mid-capture cancels: nothing is saved
            stop_or_retire(self.thread, 5000)
            self.thread = None
        super().done(result)


def enrol_if_daemon(parent: QWidget, user: str | None = None, label: str = "default") -> DaemonEnrollDialog | None:
    """When the system daemon answers, enrol `user` (default: this login) there and return the open dialog."""
    import getpass

    path = system_socket()
    if path is None or daemon_answers(path) is None:
        return None
    user = user or getpass.getuser()
    password = ask_account_password(parent, user)
    if password is None:
        return None
    d = DaemonEnrollDialog(path, user, password, label=label, parent=parent)
    d.open()
    return d


def remove_if_daemon(parent: QWidget, user: str) -> bool | None:
    """Remove `user`'s face from the system store when the daemon holds it: True/False = done/refused, None =
    not the daemon's (the caller removes from the user's own store)."""
    from PySide6.QtWidgets import QMessageBox

    path = system_socket()
    if path is None or not enrolled_in_daemon(user, path):
        return None
    password = ask_account_password(parent, user)
    if password is None:
        return False
    try:
        reply = DaemonClient(path).remove(user, password=lambda _: password)
    except DaemonError as e:
        QMessageBox.warning(parent, "Remove face data", str(e))
        return False
    if not reply.ok:
        QMessageBox.warning(parent, "Remove face data", f"The system face service refused: {reply.text}")
    return reply.ok
