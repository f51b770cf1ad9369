"""The centre column of the lock screen: clock, who is locked, face status, password field, messages.

A widget only: what the buttons do and when the screen counts as locked is faceunlock.gui.lockscreen.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from faceunlock.gui.theme import COLORS, app_icon


def format_wait(seconds: float) -> str:
    s = max(0, int(seconds + 0.999))
    return f"{s // 60}:{s % 60:02d}"


class LockPanel(QWidget):
    """The centre column of the main lock window: clock, who is locked, face status, password."""

    submitted = Signal(str)

    def __init__(self, user: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lockpanel")
        self.setFixedWidth(540)
        lay = QVBoxLayout(self)
        lay.setSpacing(10)
        self.clock = QLabel(objectName="clock", alignment=Qt.AlignmentFlag.AlignCenter)
        self.date = QLabel(objectName="date", alignment=Qt.AlignmentFlag.AlignCenter)
        self.avatar = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        icon = app_icon()
        if not icon.isNull():
            self.avatar.setPixmap(icon.pixmap(96, 96))
        self.user = QLabel(user, objectName="user", alignment=Qt.AlignmentFlag.AlignCenter)
        self.face = QLabel("Starting face unlock…", objectName="face", alignment=Qt.AlignmentFlag.AlignCenter)
        self.face.setWordWrap(True)
        self.face_detail = QLabel("", objectName="detail", alignment=Qt.AlignmentFlag.AlignCenter)
        self.face_detail.setWordWrap(True)
        self.face_detail.hide()
        self.password = QLineEdit(objectName="password", placeholderText="Password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.returnPressed.connect(self._submit)
        self.button = QPushButton("Unlock", objectName="unlock")
        self.button.clicked.connect(self._submit)
        self.button.setCursor(Qt.CursorShape.PointingHandCursor)
        row = QHBoxLayout()
        row.setSpacing(8)
        row.addWidget(self.password, 1)
        row.addWidget(self.button)
        self.message = QLabel("", objectName="message", alignment=Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        # Shown instead of "locked" while another X client holds the keyboard/mouse grab (see module docstring).
        self.grab_warning = QLabel("", objectName="grabwarning", alignment=Qt.AlignmentFlag.AlignCenter)
        self.grab_warning.setWordWrap(True)
        self.grab_warning.hide()
        # Shown when frames come from a file given on the command line rather than a camera (tests, demos).
        self.source_note = QLabel("", objectName="sourcenote", alignment=Qt.AlignmentFlag.AlignCenter)
        self.source_note.setWordWrap(True)
        self.source_note.hide()
        lay.addWidget(self.grab_warning)
        for w in (self.clock, self.date):
            lay.addWidget(w)
        lay.addSpacing(28)
        for w in (self.avatar, self.user, self.face, self.face_detail):
            lay.addWidget(w)
        lay.addSpacing(14)
        lay.addLayout(row)
        lay.addWidget(self.message)
        lay.addWidget(self.source_note)
        self.setStyleSheet(f"""
            QLabel {{ color: white; background: transparent; }}
            QLabel#clock {{ font-size: 64pt; font-weight: 300; }}
            QLabel#date {{ font-size: 15pt; color: {COLORS["muted_on_dark"]}; }}
            QLabel#user {{ font-size: 18pt; font-weight: 600; }}
            QLabel#face {{ font-size: 12pt; color: {COLORS["muted_on_dark"]}; min-height: 2.8em; }}
            QLabel#detail {{ font-size: 9pt; color: {COLORS["muted_on_dark"]}; }}
            QLabel#message {{ font-size: 11pt; min-height: 2.6em; }}
            QLabel#grabwarning {{ font-size: 16pt; font-weight: 600; color: white; padding: 14px;
                                  border-radius: 10px; background: {COLORS["bad"]}; }}
            QLabel#sourcenote {{ font-size: 10pt; color: #f0b14a; }}
            QLineEdit {{ font-size: 13pt; padding: 9px 14px; border-radius: 8px; color: white;
                         border: 1px solid rgba(255,255,255,0.35); background: rgba(255,255,255,0.12); }}
            QLineEdit:focus {{ border-color: white; }}
            QLineEdit:disabled {{ color: #8893a0; background: rgba(255,255,255,0.05); }}
            QPushButton {{ font-size: 12pt; padding: 9px 18px; border-radius: 8px; border: none; color: white;
                           background: {COLORS["accent"]}; font-weight: 600; }}
            QPushButton:disabled {{ background: rgba(255,255,255,0.12); color: #8893a0; }}
        """)
        self.tick()

    def tick(self) -> None:
        now = datetime.now()
        self.clock.setText(now.strftime("%H:%M"))
        self.date.setText(now.strftime("%A %d %B").replace(" 0", " "))

    def _submit(self) -> None:
        pw = self.password.text()
        if pw and self.password.isEnabled():
            self.submitted.emit(pw)

    def set_face(self, kind: str, text: str, detail: str = "") -> None:
        colour = {"error": COLORS["bad"], "camera": "#f0b14a", "paused": "#f0b14a", "matched": "#5fd08a",
                  "scanning": "white"}.get(kind, COLORS["muted_on_dark"])  # fmt: skip
        self.face.setStyleSheet(f"color: {colour};")
        self.face.setText(text)
        self.face_detail.setText(detail)
        self.face_detail.setVisible(bool(detail))

    def set_message(self, text: str, kind: str = "error") -> None:
        colour = {"error": "#ff8a80", "warn": "#f0b14a", "info": COLORS["muted_on_dark"]}[kind]
        self.message.setStyleSheet(f"color: {colour};")
        self.message.setText(text)

    def set_grab_warning(self, text: str) -> None:
        """Non-empty: the screen is NOT locked (another client has the grab): say so in place of the clock."""
        self.grab_warning.setText(text)
        self.grab_warning.setVisible(bool(text))
        for w in (self.clock, self.date, self.password, self.button):  # no field that invites typing
            w.setVisible(not text)

    def set_source_note(self, text: str) -> None:
        self.source_note.setText(text)
        self.source_note.setVisible(bool(text))

    def set_input_enabled(self, enabled: bool) -> None:
        self.password.setEnabled(enabled)
        self.button.setEnabled(enabled)
        if enabled:
            self.password.setFocus()
