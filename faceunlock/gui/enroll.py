"""The enrolment wizard: who → fallback password (first time only) → capture with live guidance → done.

Changing an enrolled user (adding an appearance, or re-enrolling which replaces the templates) first asks for the
fallback password in a dialog (gui.proof_dialog, issue 9.6); a first enrolment is free, and with no password set
yet the wizard sets the first one before the capture.

Nothing is written until the capture is complete: the new templates are saved in one atomic store write at
the very end, so Cancel, a closed window or a crash leaves any previous enrolment exactly as it was.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from faceunlock.gui.enroll_capture import EnrollSummary, EnrollThread
from faceunlock.gui.enroll_pages import WizardPages
from faceunlock.gui.theme import APP_STYLE, COLORS, app_icon
from faceunlock.gui.workers import PreviewFrame, retire, retire_children, run_async
from faceunlock.proof import MIN_PASSWORD  # one rule for the GUI and the CLI
from faceunlock.reasons import Rejection

if TYPE_CHECKING:
    from faceunlock.auth import Engine


class EnrollWizard(WizardPages, QDialog):
    """Modal wizard. `mode` "new" enrols (or re-enrols, replacing) a user; "add" adds an appearance."""

    enrolled = Signal(object)  # EnrollSummary

    WELCOME, PASSWORD, CAPTURE, DONE = range(4)

    def __init__(self, engine_provider: Callable[[], Engine], source: str, *, user: str | None = None,
                 mode: str = "new", realtime: bool = True, skip: int = 0, parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.engine_provider, self.source, self.mode = engine_provider, source, mode
        self.realtime, self.skip = realtime, skip
        self.needs_password: bool | None = None
        self.proof_dialog = None  # the "confirm it's you" dialog while it is open
        self._asks_password = False  # fixed once known, so the step numbers do not shift
        self.thread: EnrollThread | None = None
        self.summary: EnrollSummary | None = None
        self.setWindowTitle("Add an appearance" if mode == "add" else "Set up face unlock")
        self.setWindowIcon(app_icon())
        self.setStyleSheet(APP_STYLE)
        self.resize(820, 640)
        self.stack = QStackedWidget()
        self.stack.addWidget(self._welcome_page(user or getpass.getuser()))
        self.stack.addWidget(self._password_page())
        self.stack.addWidget(self._capture_page())
        self.stack.addWidget(self._done_page())
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.clicked.connect(self.reject)
        self.next_btn = QPushButton("Next", objectName="primary")
        self.next_btn.setDefault(True)
        self.next_btn.clicked.connect(self._next)
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_btn)
        buttons.addStretch(1)
        buttons.addWidget(self.next_btn)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(28, 18, 28, 20)
        self.steps = QLabel(objectName="muted")
        self.steps.setTextFormat(Qt.TextFormat.RichText)
        lay.addWidget(self.steps)
        lay.addSpacing(6)
        lay.addWidget(self.stack, 1)
        lay.addLayout(buttons)
        self._go(self.WELCOME)
        run_async(self, self._check_keyring, self._keyring_checked, self._keyring_failed)

    # -- pages ---------------------------------------------------------------------------------------------
    @property
    def page(self) -> int:
        return self.stack.currentIndex()

    def _show_steps(self, index: int) -> None:
        """A breadcrumb ("Who · Password · Your face · Done") so people know how far they are."""
        names = [
            (self.WELCOME, "Who"),
            (self.PASSWORD, "Password"),
            (self.CAPTURE, "Your face"),
            (self.DONE, "Done"),
        ]
        if not self._asks_password:
            names = [n for n in names if n[0] != self.PASSWORD]
        parts = []
        for i, (page, name) in enumerate(names, 1):
            style = (
                f"color:{COLORS['accent']}; font-weight:600" if page == index else f"color:{COLORS['muted']}"
            )
            parts.append(f"<span style='{style}'>{i}&nbsp;&nbsp;{name}</span>")
        self.steps.setText(" &nbsp;&nbsp;—&nbsp;&nbsp; ".join(parts))

    def _go(self, index: int) -> None:
        self.stack.setCurrentIndex(index)
        self._show_steps(index)
        self.next_btn.setText({self.CAPTURE: "Capturing…", self.DONE: "Close"}.get(index, "Next"))
        self.next_btn.setEnabled(index == self.DONE)
        self.cancel_btn.setVisible(index != self.DONE)
        if index == self.WELCOME:
            self._validate_welcome()
        elif index == self.PASSWORD:
            self.pw1.setFocus()
            self._validate_password()
        elif index == self.CAPTURE:
            self._start_capture()

    def _next(self) -> None:
        if not self.next_btn.isEnabled():
            return
        if self.page == self.WELCOME:
            if self.needs_password:
                self._go(self.PASSWORD)
            elif self._changes_enrolled_user():
                self._ask_proof()
            else:
                self._go(self.CAPTURE)
        elif self.page == self.PASSWORD:
            self._set_password()
        elif self.page == self.DONE:
            self.accept()

    def _changes_enrolled_user(self) -> bool:
        from faceunlock.store import TemplateStore

        return TemplateStore().exists(self.user_edit.text().strip())

    def _ask_proof(self) -> None:
        """The fallback password before an enrolled user's templates are added to or replaced."""
        from faceunlock.gui.proof_dialog import ProofDialog

        user = self.user_edit.text().strip()
        what = f"Adding an appearance to {user}" if self.mode == "add" else f"Replacing {user}'s face data"
        d = ProofDialog(f"{what} changes who can unlock this computer.", self)
        self.proof_dialog = d

        def closed(result: int) -> None:
            self.proof_dialog = None
            if result == QDialog.DialogCode.Accepted and self.page == self.WELCOME:
                self._go(self.CAPTURE)

        d.finished.connect(closed)
        d.open()

    # -- welcome -------------------------------------------------------------------------------------------
    @staticmethod
    def _check_keyring() -> bool:
        from faceunlock.secrets import has_password

        return has_password()

    def _keyring_checked(self, has_password: bool) -> None:
        self.needs_password = self._asks_password = not has_password
        self._show_steps(self.page)
        self._validate_welcome()

    def _keyring_failed(self, message: str) -> None:
        self.needs_password = None
        self.welcome_note.setObjectName("error")
        self.welcome_note.setStyleSheet(f"color: {COLORS['bad']};")
        self.welcome_note.setText(f"The system keyring is not available, so nothing can be stored safely: {message}")
        self.next_btn.setEnabled(False)

    def _validate_welcome(self) -> None:
        if self.page != self.WELCOME or self.needs_password is None:
            return
        from faceunlock.store import TemplateStore, validate_user

        user = self.user_edit.text().strip()
        try:
            validate_user(user)
        except ValueError:
            self.welcome_note.setText("User names use letters, digits, '_', '.' and '-' only.")
            self.next_btn.setEnabled(False)
            return
        exists = TemplateStore().exists(user)
        if self.mode == "new" and exists:
            note = (f"{user} is already enrolled. Continuing replaces {user}'s face data, but only once the new "
                    "capture has finished; to keep it, cancel and use “Add appearance”.")  # fmt: skip
        elif self.mode == "add" and not exists:
            note = f"{user} is not enrolled yet: this will be their first appearance."
        else:
            note = "Ready when you are."
        if self.needs_password:
            note += " You will first choose a fallback password."
        self.welcome_note.setText(note)
        self.next_btn.setEnabled(True)

    # -- password ------------------------------------------------------------------------------------------
    def _validate_password(self) -> None:
        a, b = self.pw1.text(), self.pw2.text()
        ok = len(a) >= MIN_PASSWORD and a == b
        if len(a) < MIN_PASSWORD:
            self.pw_note.setText(f"At least {MIN_PASSWORD} characters.")
        elif b and a != b:
            self.pw_note.setText("The two passwords differ.")
        else:
            self.pw_note.setText("✓ The passwords match." if ok else "")
        colour = COLORS["bad"] if b and a != b else COLORS["good"] if ok else COLORS["muted"]
        self.pw_note.setStyleSheet(f"color: {colour};")
        self.next_btn.setEnabled(ok)

    def _set_password(self) -> None:
        pw = self.pw1.text()
        self.next_btn.setEnabled(False)
        self.pw_note.setText("Saving…")

        def save() -> None:
            from faceunlock.secrets import set_password

            set_password(pw)

        def saved(_: object) -> None:
            self.needs_password = False
            self.pw1.clear()
            self.pw2.clear()
            self._go(self.CAPTURE)

        def failed(message: str) -> None:
            self.pw_note.setText(f"Could not save the password: {message}")
            self.next_btn.setEnabled(True)

        run_async(self, save, saved, failed)

    # -- capture -------------------------------------------------------------------------------------------
    def _start_capture(self) -> None:
        user = self.user_edit.text().strip()
        label = (self.label_combo.currentText().strip() or "other") if self.mode == "add" else "default"
        self.view.set_placeholder("Loading the face model…")
        t = EnrollThread(self.source, self.engine_provider, user, label, replace=self.mode == "new",
                         realtime=self.realtime, skip=self.skip, parent=self)  # fmt: skip
        t.frame_ready.connect(self._on_frame)
        t.progress.connect(self._on_progress)
        t.status.connect(self._on_status)
        t.completed.connect(self._on_completed)
        t.enroll_failed.connect(self._on_enroll_failed)
        t.failed.connect(self._on_failed)
        self.thread = t
        t.start()

    def _on_status(self, kind: str, text: str) -> None:
        if kind == "loading" or kind == "camera":
            self.view.set_placeholder(text)
        elif kind == "saving":
            self.cancel_btn.setEnabled(False)  # the save is atomic, but "cancelled" must mean "not saved"
            self.finish_btn.setEnabled(False)
            self.capture_note.setText(text)
        elif kind == "ready":
            self.capture_note.setText("")

    def _on_frame(self, frame: PreviewFrame) -> None:
        self.view.set_frame(frame)
        r = frame.result
        if frame.note == "captured":
            self.view.set_guidance("Got it", ok=True)
        elif r is not None and r.quality is not None and Rejection.POSE_CAPTURED in r.quality.reasons:
            self.view.set_guidance("")  # the instruction above already says which pose is missing
        elif r is not None:
            self.view.set_guidance(r.message if not r.usable else "Hold still")

    def _on_progress(self, p: dict) -> None:
        self.bar.setValue(round(100 * p["fraction"]))
        self.instruction.setText(p["prompt"])
        for key, label, count, quota in p["poses"]:
            done = count >= quota
            lab = self.pose_labels[key]
            lab.setText(f"{'●' if done else '○'} {label}  {count}/{quota}")
            lab.setStyleSheet(f"color: {COLORS['good'] if done else COLORS['muted']}; font-weight: {600 if done else 400};")
        self.finish_btn.setEnabled(p["can_finish"])

    def _finish_now(self) -> None:
        if self.thread is not None:
            self.finish_btn.setEnabled(False)
            self.thread.finish_now()

    def _on_completed(self, summary: EnrollSummary) -> None:
        self.summary = summary
        poses = ", ".join(f"{label.lower()} {count}" for _, label, count, _ in summary.poses)
        what = "Face unlock is ready" if self.mode == "new" else f"Appearance “{summary.label}” added"
        self._set_mark(True)
        self.done_title.setText(what)
        self.done_text.setText(
            f"<p><b>{summary.user}</b> is enrolled: {summary.templates} templates from {summary.frames_usable} "
            f"good pictures ({poses}), made with the {summary.model} model and stored encrypted.</p>"
            "<p>Lock the screen and look at the camera to unlock. Wearing glasses or a beard sometimes? "
            "Use <i>Add appearance</i> in the main window.</p>")  # fmt: skip
        self._go(self.DONE)
        self.enrolled.emit(summary)

    def _on_enroll_failed(self, message: str) -> None:
        self._show_failure("Not enough good pictures", message)

    def _on_failed(self, message: str) -> None:
        self._show_failure("The camera or the face model failed", message)

    def _set_mark(self, ok: bool) -> None:
        colour = COLORS["good"] if ok else COLORS["bad"]
        self.done_mark.setText("✓" if ok else "!")
        self.done_mark.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.done_mark.setStyleSheet(f"background: {colour}; color: white; border-radius: 32px; font-size: 28pt;"
                                     "font-weight: 700;")  # fmt: skip

    def _show_failure(self, title: str, message: str) -> None:
        self._set_mark(False)
        self.done_title.setText(title)
        self.done_text.setText(f"<p>{message}</p><p>Nothing was changed: any earlier enrolment is kept as it was. "
                               "Check the light and the camera, then try again.</p>")  # fmt: skip
        self._go(self.DONE)

    # -- closing -------------------------------------------------------------------------------------------
    def _stop_thread(self) -> None:
        """Cancel without blocking the UI: the capture thread ends after its current frame and saves nothing; a
        keyring check or a save still running finishes in the background (closing never destroys a running
        thread: that aborts the process)."""
        t, self.thread = self.thread, None
        if t is not None:
            if self.summary is None:
                t.cancel()
            retire(t)
        retire_children(self)

    def reject(self) -> None:
        self._stop_thread()
        super().reject()

    def accept(self) -> None:
        self._stop_thread()
        super().accept()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self._stop_thread()
        super().closeEvent(event)
