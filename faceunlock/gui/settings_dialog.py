"""Settings: which camera, frames per decision, lock at login.

Only a camera can be chosen (issue 9.7): the settings file decides what the lock screen looks at, and a video
named there would unlock it with nobody at the camera. A video or folder stands in for a camera only when given
on a command line for one run (`faceunlock gui --source`, `faceunlock lock --source`); the dialog says so.

Lock-at-login calls the same faceunlock.system.autostart functions as `faceunlock autostart`, so the checkbox
always shows the real state of the autostart entry.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from faceunlock.capture import is_camera
from faceunlock.gui.settings import Settings
from faceunlock.gui.theme import APP_STYLE
from faceunlock.policy import MAX_WINDOW, MIN_WINDOW, AuthPolicy

CAMERAS = 10  # camera indexes offered in the list


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from faceunlock.system import autostart

        self.settings = settings
        self.setWindowTitle("Settings")
        self.setStyleSheet(APP_STYLE)
        self.setMinimumWidth(660)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(24, 20, 24, 16)
        title = QLabel("Settings", objectName="title")
        lay.addWidget(title)
        form = QFormLayout()
        form.setVerticalSpacing(12)

        self.kind = QComboBox()
        for i in range(CAMERAS):
            self.kind.addItem(f"Camera {i}", str(i))
        src = settings.source
        if is_camera(src) and int(src) < CAMERAS:
            self.kind.setCurrentIndex(int(src))
        form.addRow("Camera", self.kind)
        self.source_note = QLabel(objectName="muted", wordWrap=True)
        if not is_camera(src):
            self.source_note.setText(f"This run reads {src} (given with --source) instead of a camera. Settings "
                                     "only ever store a camera: the lock screen looks at nothing else.")  # fmt: skip
        else:
            self.source_note.setText("The lock screen only looks at a camera. For a test or demo, give a video "
                                     "or folder of photos with --source on the command line.")  # fmt: skip
        form.addRow("", self.source_note)

        self.window_spin = QSpinBox(minimum=MIN_WINDOW, maximum=MAX_WINDOW, value=settings.window)
        self.window_help = QLabel(objectName="muted", wordWrap=True)
        self.window_spin.valueChanged.connect(self._window_changed)
        form.addRow("Frames per decision", self.window_spin)
        form.addRow("", self.window_help)

        self.autostart = QCheckBox("Lock the screen when I log in (face or password unlocks it)")
        self._autostart_was = bool(autostart.status()["enabled"])
        self.autostart.setChecked(self._autostart_was)
        form.addRow("At login", self.autostart)
        lay.addLayout(form)
        lay.addStretch(1)
        self.error = QLabel(objectName="error", wordWrap=True)
        lay.addWidget(self.error)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        cancel = QPushButton("Cancel")
        cancel.clicked.connect(self.reject)
        self.save_btn = QPushButton("Save", objectName="primary")
        self.save_btn.setDefault(True)
        self.save_btn.clicked.connect(self.accept)
        buttons.addWidget(cancel)
        buttons.addWidget(self.save_btn)
        lay.addLayout(buttons)
        self._window_changed()

    def _window_changed(self) -> None:
        n = self.window_spin.value()
        self.window_help.setText(f"Your face is judged on the average of up to {n} good frames in a row (at least "
                                 f"{AuthPolicy.for_window(n).required}, each judged live). More frames: harder to "
                                 "fool, a little slower to unlock.")  # fmt: skip

    def chosen_source(self) -> str:
        return self.kind.currentData()

    def accept(self) -> None:
        """Save the file, then apply lock-at-login; stay open and say why if either fails."""
        from faceunlock.system import autostart

        self.settings.source = self.chosen_source()
        self.settings.window = self.window_spin.value()
        try:
            self.settings.save()
            want = self.autostart.isChecked()
            if want != self._autostart_was:
                if want:
                    autostart.enable()
                else:
                    autostart.disable()
                self._autostart_was = want
        except (OSError, ValueError, RuntimeError) as e:
            QMessageBox.warning(self, "Settings", f"Could not save the settings: {e}")
            return
        super().accept()
