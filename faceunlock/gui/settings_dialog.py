"""Settings: which camera (or a video file / image folder instead), frames per decision, lock at login.

Lock-at-login calls the same faceunlock.system.autostart functions as `faceunlock autostart`, so the checkbox
always shows the real state of the autostart entry.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from faceunlock.gui.settings import MAX_WINDOW, MIN_WINDOW, Settings, required_matches
from faceunlock.gui.theme import APP_STYLE

CAMERAS = 4  # indexes offered in the list; any other index can be typed as a path-less number


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
        self.kind.addItem("A video file or an image folder", "file")
        self.path = QLineEdit(placeholderText="/path/to/video.mp4 or a folder of photos")
        self.browse_file = QPushButton("File…")
        self.browse_dir = QPushButton("Folder…")
        self.browse_file.clicked.connect(self._pick_file)
        self.browse_dir.clicked.connect(self._pick_dir)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path, 1)
        path_row.addWidget(self.browse_file)
        path_row.addWidget(self.browse_dir)
        self.path_box = QWidget()
        self.path_box.setLayout(path_row)
        path_row.setContentsMargins(0, 0, 0, 0)
        src = settings.source
        if src.isdigit() and int(src) < CAMERAS:
            self.kind.setCurrentIndex(int(src))
        else:
            self.kind.setCurrentIndex(CAMERAS)
            self.path.setText(src)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        form.addRow("Camera", self.kind)
        form.addRow("", self.path_box)
        form.addRow("", QLabel("Without a webcam, a video or a folder of photos stands in for it (also for tests).",
                               objectName="muted", wordWrap=True))  # fmt: skip

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
        self._kind_changed()
        self._window_changed()

    def _kind_changed(self) -> None:
        self.path_box.setVisible(self.kind.currentData() == "file")

    def _window_changed(self) -> None:
        n = self.window_spin.value()
        self.window_help.setText(f"The face must match in {required_matches(n)} of {n} good frames in a row. "
                                 "More frames: harder to fool, a little slower to unlock.")  # fmt: skip

    def _pick_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a video or photo", self.path.text(),
                                              "Videos and images (*.mp4 *.mov *.avi *.mkv *.webm *.jpg *.jpeg *.png);;All files (*)")  # fmt: skip
        if path:
            self.path.setText(path)

    def _pick_dir(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a folder of photos", self.path.text())
        if path:
            self.path.setText(path)

    def chosen_source(self) -> str:
        data = self.kind.currentData()
        return self.path.text().strip() if data == "file" else data

    def accept(self) -> None:
        """Save the file, then apply lock-at-login; stay open and say why if either fails."""
        from faceunlock.system import autostart

        source = self.chosen_source()
        if not source:
            self.error.setText("Choose a video file or an image folder, or pick a camera.")
            return
        self.settings.source = source
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
