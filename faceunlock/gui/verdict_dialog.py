"""The frame both "Test recognition" dialogs share (in-app and through faceunlockd): the question, a middle area
(a camera preview, or the daemon's progress lines), the verdict with its numbers, and Try again / Close.

Subclasses start their own attempt in `start()` and report with `show_verdict` / `show_failure`.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from faceunlock.gui.theme import APP_STYLE, COLORS


class VerdictDialog(QDialog):
    def __init__(self, user: str, middle: list[tuple[QWidget, int]], size: tuple[int, int],
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.user = user
        self.setWindowTitle(f"Test recognition: {user}")
        self.setStyleSheet(APP_STYLE)
        self.resize(*size)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(24, 20, 24, 16)
        lay.addWidget(QLabel(f"Is this {user}?", objectName="title"))
        for widget, stretch in middle:
            lay.addWidget(widget, stretch)
        self.verdict = QLabel("Look at the camera…", objectName="section", alignment=Qt.AlignmentFlag.AlignCenter)
        self.detail = QLabel("", objectName="muted", wordWrap=True, alignment=Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(self.verdict)
        lay.addWidget(self.detail)
        row = QHBoxLayout()
        row.addStretch(1)
        self.again = QPushButton("Try again")
        self.again.clicked.connect(self.start)
        close = QPushButton("Close", objectName="primary")
        close.clicked.connect(self.accept)
        row.addWidget(self.again)
        row.addWidget(close)
        lay.addLayout(row)

    def start(self) -> None:
        raise NotImplementedError

    def show_waiting(self) -> None:
        self.again.setEnabled(False)
        self.verdict.setStyleSheet("")
        self.verdict.setText("Look at the camera…")
        self.detail.setText("")

    def show_verdict(self, recognised: bool, detail: str, ran: bool = True) -> None:
        self.again.setEnabled(True)
        self.verdict.setText(f"Recognised: this is {self.user}" if recognised else
                             f"Not recognised as {self.user}" if ran else "The test could not run")  # fmt: skip
        self.verdict.setStyleSheet(f"color: {COLORS['good'] if recognised else COLORS['bad']};")
        self.detail.setText(detail)

    def show_failure(self, message: str) -> None:
        self.show_verdict(False, message, ran=False)
