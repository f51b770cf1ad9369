"""The enrolment wizard's four pages as widgets (who, fallback password, capture, done): layout only.

The flow — which page follows which, what each button does, the capture thread — is faceunlock.gui.enroll.
The pages keep references to the widgets the flow reads and updates (self.user_edit, self.progress …).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from faceunlock.gui.camera_view import CameraView
from faceunlock.gui.theme import app_icon
from faceunlock.proof import MIN_PASSWORD  # one rule for the GUI and the CLI

APPEARANCES = ["glasses", "beard", "hat", "contact lenses off", "other"]


def _label(text: str, name: str = "", wrap: bool = True) -> QLabel:
    lab = QLabel(text)
    if name:
        lab.setObjectName(name)
    lab.setWordWrap(wrap)
    return lab


class WizardPages:
    """Builds the wizard's pages; mixed into EnrollWizard (a QDialog), whose flow methods the buttons call."""

    def _welcome_page(self, user: str) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        add = self.mode == "add"
        icon = QLabel()
        if not app_icon().isNull():
            icon.setPixmap(app_icon().pixmap(72, 72))
        lay.addWidget(icon)
        lay.addSpacing(6)
        lay.addWidget(_label("Add another appearance" if add else "Set up face unlock", "title"))
        lay.addWidget(_label(
            "Enrol how you look with glasses, a beard or a hat, so face unlock keeps recognising you."
            if add else "Your computer will recognise your face and unlock for you, and for nobody else.",
            "subtitle"))  # fmt: skip
        lay.addSpacing(12)
        form = QFormLayout()
        self.user_edit = QLineEdit(user)
        self.user_edit.setReadOnly(add)
        self.user_edit.textChanged.connect(self._validate_welcome)
        form.addRow("User", self.user_edit)
        self.label_combo = QComboBox()
        self.label_combo.setEditable(True)
        self.label_combo.addItems(APPEARANCES if add else ["default"])
        self.label_combo.setVisible(add)
        if add:
            form.addRow("Appearance", self.label_combo)
        lay.addLayout(form)
        lay.addSpacing(12)
        steps = ("<ol style='margin-left:-20px; line-height:150%'>"
                 "<li>Sit in front of the camera in good, even light.</li>"
                 "<li>Look at the camera, then turn your head slightly left and right when asked.</li>"
                 "<li>It takes about half a minute. Nothing is saved until it has finished.</li></ol>"
                 "<p>Your face is stored only on this computer, as encrypted numbers, not as pictures. "
                 "The key stays in your system keyring.</p>")  # fmt: skip
        lay.addWidget(_label(steps))
        self.welcome_note = _label("Checking your keyring…", "muted")
        lay.addWidget(self.welcome_note)
        lay.addStretch(1)
        return page

    def _password_page(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.addWidget(_label("Choose a fallback password", "title"))
        lay.addWidget(_label(
            "When the camera cannot see you (dark room, no camera, a new haircut), this password unlocks the "
            "screen. Only a slow, salted hash of it is kept, in your system keyring.", "subtitle"))  # fmt: skip
        lay.addSpacing(12)
        form = QFormLayout()
        self.pw1 = QLineEdit(echoMode=QLineEdit.EchoMode.Password)
        self.pw2 = QLineEdit(echoMode=QLineEdit.EchoMode.Password)
        self.pw1.textChanged.connect(self._validate_password)
        self.pw2.textChanged.connect(self._validate_password)
        self.pw2.returnPressed.connect(self._next)
        form.addRow("Password", self.pw1)
        form.addRow("Repeat it", self.pw2)
        lay.addLayout(form)
        self.pw_note = _label(f"At least {MIN_PASSWORD} characters.", "muted")
        lay.addWidget(self.pw_note)
        lay.addStretch(1)
        return page

    def _capture_page(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        self.instruction = _label("Look straight at the camera", "title")
        self.instruction.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(self.instruction)
        self.view = CameraView()
        lay.addWidget(self.view, 1)
        row = QHBoxLayout()
        self.pose_labels: dict[str, QLabel] = {}
        for key, text in (("straight", "Straight"), ("left", "Turned left"), ("right", "Turned right")):
            lab = QLabel(f"○ {text}")
            lab.setObjectName("muted")
            self.pose_labels[key] = lab
            row.addWidget(lab)
        row.addStretch(1)
        self.finish_btn = QPushButton("Finish now")
        self.finish_btn.setToolTip("Enrol with the frames captured so far (turned poses help but are optional)")
        self.finish_btn.clicked.connect(self._finish_now)
        self.finish_btn.setEnabled(False)
        row.addWidget(self.finish_btn)
        lay.addLayout(row)
        self.bar = QProgressBar(maximum=100, textVisible=False)
        lay.addWidget(self.bar)
        self.capture_note = _label("", "muted")
        lay.addWidget(self.capture_note)
        return page

    def _done_page(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        self.done_mark = QLabel(alignment=Qt.AlignmentFlag.AlignLeft)
        self.done_mark.setFixedSize(64, 64)
        lay.addSpacing(12)
        lay.addWidget(self.done_mark)
        lay.addSpacing(8)
        self.done_title = _label("", "title")
        self.done_text = _label("")
        self.done_text.setTextFormat(Qt.TextFormat.RichText)
        lay.addWidget(self.done_title)
        lay.addSpacing(8)
        lay.addWidget(self.done_text)
        lay.addStretch(1)
        return page

    # -- navigation ----------------------------------------------------------------------------------------
