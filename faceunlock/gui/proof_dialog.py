""""Confirm it's you": the fallback password asked before an enrolled user's face data is changed (issue 9.6).

The check (faceunlock.proof.prove: scrypt + keyring, counted against the lockout like a try at the lock screen)
runs in a worker thread so the dialog stays responsive; a wrong password keeps the dialog open and says so.
"""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from faceunlock.gui.theme import APP_STYLE, COLORS
from faceunlock.gui.workers import run_async, wait_children


class ProofDialog(QDialog):
    """Accepted only once the right fallback password was typed; Cancel changes nothing."""

    def __init__(self, reason: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Confirm it's you")
        self.setStyleSheet(APP_STYLE)
        self.setMinimumWidth(480)
        self.checking = False
        lay = QVBoxLayout(self)
        lay.setContentsMargins(24, 20, 24, 16)
        lay.addWidget(QLabel("Confirm it's you", objectName="title"))
        text = QLabel(f"{reason} Type your fallback password (the one that unlocks the screen).", wordWrap=True)
        lay.addWidget(text)
        self.edit = QLineEdit(echoMode=QLineEdit.EchoMode.Password, placeholderText="Fallback password")
        self.edit.returnPressed.connect(self.submit)
        lay.addWidget(self.edit)
        self.note = QLabel("", objectName="muted", wordWrap=True)
        lay.addWidget(self.note)
        row = QHBoxLayout()
        row.addStretch(1)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.clicked.connect(self.reject)
        self.ok_btn = QPushButton("Confirm", objectName="primary")
        self.ok_btn.clicked.connect(self.submit)
        self.cancel_btn.setAutoDefault(False)  # Return in the field must never mean Cancel
        self.ok_btn.setDefault(True)
        row.addWidget(self.cancel_btn)
        row.addWidget(self.ok_btn)
        lay.addLayout(row)

    def submit(self) -> None:
        pw = self.edit.text()
        if not pw or self.checking:
            return
        self.checking = True
        self.ok_btn.setEnabled(False)
        self.edit.setEnabled(False)
        self.note.setStyleSheet(f"color: {COLORS['muted']};")
        self.note.setText("Checking…")

        def check() -> str:
            from faceunlock.proof import PasswordRefused, prove

            try:
                prove(pw)
            except PasswordRefused as e:
                return str(e)
            return ""

        run_async(self, check, self._checked, self._failed)

    def _checked(self, refusal: str) -> None:
        self.checking = False
        self.edit.clear()
        if not refusal:
            self.accept()
            return
        self._show_error(refusal[:1].upper() + refusal[1:] + ".")

    def _failed(self, message: str) -> None:
        self.checking = False
        self.edit.clear()
        self._show_error(f"Your password cannot be checked: {message}")

    def _show_error(self, text: str) -> None:
        self.note.setStyleSheet(f"color: {COLORS['bad']};")
        self.note.setText(text)
        self.ok_btn.setEnabled(True)
        self.edit.setEnabled(True)
        self.edit.setFocus()

    def done(self, result: int) -> None:  # accept/reject/close: never while a check is still running
        wait_children(self, 10000)
        super().done(result)
