"""The main window: is everything in place (model, calibration, keyring, camera), who is enrolled, and the
actions (enrol, add an appearance, test, remove, settings, lock now).

The window appears at once; the status checks (which load the model and open the camera) run in a worker
thread and fill it in, and the loaded model is kept for the wizard and the recognition test.
"""

from __future__ import annotations

import subprocess
import sys

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from faceunlock.gui.settings import Settings
from faceunlock.gui.theme import APP_STYLE, STATUS_ICONS, app_icon
from faceunlock.gui.workers import (
    ENGINES,
    GuiThreadGC,
    retire_children,
    run_async,
    wait_children,
    wait_retired,
)
from faceunlock.health import Health

STATUS_KEYS = [("model", "Face model"), ("calibration", "Calibration"), ("liveness", "Photo and screen check"),
               ("keyring", "Keyring"), ("camera", "Camera")]  # fmt: skip


def _card() -> tuple[QFrame, QVBoxLayout]:
    frame = QFrame(objectName="card")
    lay = QVBoxLayout(frame)
    lay.setContentsMargins(20, 16, 20, 16)
    lay.setSpacing(10)
    return frame, lay


class StatusLine(QWidget):
    """One status row: a coloured mark, a title, and a sentence that says what to do if it is not fine."""

    def __init__(self, title: str) -> None:
        super().__init__()
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 2, 0, 2)
        grid.setHorizontalSpacing(12)
        self.mark = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.mark.setFixedSize(26, 26)
        self.title = QLabel(title, objectName="section")
        self.text = QLabel("Checking…", objectName="muted", wordWrap=True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        grid.addWidget(self.mark, 0, 0, 2, 1, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(self.title, 0, 1)
        grid.addWidget(self.text, 1, 1)
        grid.setColumnStretch(1, 1)
        self.set("busy", "Checking…")

    def set(self, state: str, text: str, detail: str = "") -> None:
        self.state = state
        self.setToolTip(detail if detail and detail != text else "")
        glyph, colour = STATUS_ICONS[state]
        self.mark.setText(glyph)
        self.mark.setStyleSheet(f"background: {colour}; color: white; border-radius: 13px; font-weight: 700;")
        self.text.setText(text)


class MainWindow(QMainWindow):
    def __init__(self, settings: Settings | None = None, weights: str = "auto", device: str = "cpu") -> None:
        super().__init__()
        self.settings = settings or Settings.load()
        self.weights, self.device = weights, device
        self.status: Health | None = None
        self._checking = None
        self.setWindowTitle("Face unlock")
        self.setWindowIcon(app_icon())
        self.setStyleSheet(APP_STYLE)
        self.resize(1040, 640)
        self.setMinimumSize(860, 560)

        root = QWidget()
        outer = QVBoxLayout(root)
        outer.setContentsMargins(28, 22, 28, 20)
        outer.setSpacing(16)
        header = QHBoxLayout()
        icon = QLabel()
        if not app_icon().isNull():
            icon.setPixmap(app_icon().pixmap(52, 52))
        header.addWidget(icon)
        titles = QVBoxLayout()
        titles.setSpacing(0)
        titles.addWidget(QLabel("Face unlock", objectName="title"))
        titles.addWidget(QLabel("Unlock this computer by looking at it. Your password always works too.",
                                objectName="subtitle"))  # fmt: skip
        header.addLayout(titles, 1)
        self.lock_btn = QPushButton("Lock now")
        self.lock_btn.setToolTip("Lock the screen now (needs a fallback password)")
        self.lock_btn.clicked.connect(self.lock_now)
        self.settings_btn = QPushButton("Settings…")
        self.settings_btn.clicked.connect(self.open_settings)
        header.addWidget(self.settings_btn, 0, Qt.AlignmentFlag.AlignTop)
        header.addWidget(self.lock_btn, 0, Qt.AlignmentFlag.AlignTop)
        # The desktop's own lock screen (GNOME, KDE, …) uses the face too once `faceunlock system install` ran.
        self.desktop_lock_btn = QPushButton("Lock with the desktop's lock screen")
        self.desktop_lock_btn.setToolTip("loginctl lock-session: your desktop's locker; with `sudo faceunlock system "
                                         "install` it accepts your face as well as your password")  # fmt: skip
        self.desktop_lock_btn.clicked.connect(self.lock_with_desktop)
        header.addWidget(self.desktop_lock_btn, 0, Qt.AlignmentFlag.AlignTop)
        outer.addLayout(header)

        body = QHBoxLayout()
        body.setSpacing(16)
        status_card, sl = _card()
        head = QHBoxLayout()
        head.addWidget(QLabel("Status", objectName="section"))
        head.addStretch(1)
        self.refresh_btn = QPushButton("Check again")
        self.refresh_btn.clicked.connect(self.refresh)
        head.addWidget(self.refresh_btn)
        sl.addLayout(head)
        self.lines = {key: StatusLine(title) for key, title in STATUS_KEYS}
        for line in self.lines.values():
            sl.addWidget(line)
        self.store_problem = QLabel("", objectName="error", wordWrap=True)
        self.store_problem.hide()
        sl.addWidget(self.store_problem)
        sl.addStretch(1)
        self.login_note = QLabel("", objectName="muted", wordWrap=True)
        sl.addWidget(self.login_note)
        self.store_note = QLabel("", objectName="muted", wordWrap=True)  # which store decides (daemon or own)
        sl.addWidget(self.store_note)
        body.addWidget(status_card, 5)

        users_card, ul = _card()
        ul.addWidget(QLabel("People who can unlock", objectName="section"))
        self.users = QListWidget()
        self.users.itemSelectionChanged.connect(self._update_actions)
        ul.addWidget(self.users, 1)
        self.empty_hint = QLabel("Nobody is enrolled yet. Start with “Enrol my face”.", objectName="muted",
                                 wordWrap=True)  # fmt: skip
        ul.addWidget(self.empty_hint)
        grid = QGridLayout()
        self.enrol_btn = QPushButton("Enrol my face…", objectName="primary")
        self.add_btn = QPushButton("Add appearance…")
        self.add_btn.setToolTip("Glasses, a beard, a hat: enrol how you look then, too")
        self.test_btn = QPushButton("Test recognition…")
        self.remove_btn = QPushButton("Remove…", objectName="danger")
        self.enrol_btn.clicked.connect(self.enrol)
        self.add_btn.clicked.connect(self.add_appearance)
        self.test_btn.clicked.connect(self.test_recognition)
        self.remove_btn.clicked.connect(self.remove_user)
        grid.addWidget(self.enrol_btn, 0, 0, 1, 2)
        grid.addWidget(self.add_btn, 1, 0)
        grid.addWidget(self.test_btn, 1, 1)
        grid.addWidget(self.remove_btn, 2, 0, 1, 2)
        ul.addLayout(grid)
        body.addWidget(users_card, 4)
        outer.addLayout(body, 1)
        self.setCentralWidget(root)
        self._update_actions()
        self.refresh()

    # -- status ------------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-run the checks in a worker thread (the window stays usable meanwhile)."""
        if self._checking is not None:
            return
        from faceunlock.health import check_all

        for line in self.lines.values():
            line.set("busy", "Checking…")
        self.refresh_btn.setEnabled(False)
        settings, weights, device = self.settings, self.weights, self.device
        loaded = ENGINES.peek(weights, device)  # the model does not change while the app runs: load it once
        self._checking = run_async(self, lambda: check_all(settings.source, weights, device, loaded), self._show_status,
                                   self._status_failed)  # fmt: skip

    def _show_status(self, status: Health) -> None:
        self._checking = None
        self.status = status
        self.refresh_btn.setEnabled(True)
        if status.engine is not None and ENGINES.peek(self.weights, self.device) is None:
            ENGINES.put(status.engine, self.weights, self.device)
        for row in status.checks:
            if row.key in self.lines:
                self.lines[row.key].set(row.state, row.text, row.detail)
        store = [r for r in status.checks if r.key == "store"]
        self.store_problem.setVisible(bool(store))
        self.store_problem.setText(store[0].text if store else "")
        selected = self.selected_user()
        self.users.clear()
        from faceunlock.gui.daemon_test import daemon_users

        local = {u.name for u in status.users}  # faces the system daemon holds are listed too (marked so)
        for u in [*status.users, *(d for d in daemon_users() if d.name not in local)]:
            item = self._user_item(u)
            if u.name == selected or (selected is None and self.users.count() == 1):
                item.setSelected(True)
        self.empty_hint.setVisible(not status.users)
        self._show_login_note()
        from faceunlock.gui.daemon_test import store_in_use

        self.store_note.setText(store_in_use())
        self._update_actions()

    def _user_item(self, u) -> QListWidgetItem:
        item = QListWidgetItem()
        item.setData(Qt.ItemDataRole.UserRole, u.name)
        box = QWidget()
        box.setStyleSheet("background: transparent;")
        lay = QVBoxLayout(box)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.setSpacing(2)
        name = QLabel(u.name, objectName="section")
        if u.problem:
            detail = QLabel(f"Cannot read this face data: {u.problem}", objectName="error", wordWrap=True)
        else:
            n = len(u.appearances)
            detail = QLabel(f"{n} appearance{'s' if n != 1 else ''}: {', '.join(u.appearances)}", objectName="muted",
                            wordWrap=True)  # fmt: skip
        detail.setProperty("role", "detail")
        lay.addWidget(name)
        lay.addWidget(detail)
        item.setSizeHint(box.sizeHint())
        self.users.addItem(item)
        self.users.setItemWidget(item, box)
        return item

    def user_rows(self) -> list[tuple[str, str]]:
        """(name, the line under it) for each listed user, as shown."""
        rows = []
        for i in range(self.users.count()):
            item = self.users.item(i)
            labels = self.users.itemWidget(item).findChildren(QLabel)
            rows.append((item.data(Qt.ItemDataRole.UserRole), labels[-1].text()))
        return rows

    def _show_login_note(self) -> None:
        from faceunlock.system import autostart

        try:
            on = bool(autostart.status()["enabled"])
        except (OSError, ValueError, RuntimeError):
            on = False
        self.login_note.setText("The screen locks when you log in (change it in Settings)." if on else
                                "The screen does not lock at login; you can turn that on in Settings.")  # fmt: skip

    def _status_failed(self, message: str) -> None:
        self._checking = None
        self.refresh_btn.setEnabled(True)
        self.lines["model"].set("error", message)

    def selected_user(self) -> str | None:
        items = self.users.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None

    def _update_actions(self) -> None:
        ready = self.status is not None and self.status.ready
        has_user = self.selected_user() is not None
        self.enrol_btn.setEnabled(ready)
        self.add_btn.setEnabled(ready and has_user)
        self.test_btn.setEnabled(ready and has_user)
        self.remove_btn.setEnabled(has_user)
        self.lock_btn.setEnabled(self.status is not None and self.status.has_password)
        self.enrol_btn.setText("Enrol a face…" if self.status and self.status.users else "Enrol my face…")

    def engine(self):
        """Called in worker threads: the model loaded by the status check, or load it now."""
        return ENGINES.get(self.weights, self.device)

    # -- actions ---------------------------------------------------------------------------------------------
    def _wizard(self, mode: str, user: str | None) -> None:
        from faceunlock.gui.enroll import EnrollWizard

        w = EnrollWizard(self.engine, self.settings.source, user=user, mode=mode, parent=self)
        w.finished.connect(lambda _: self.refresh())
        w.open()

    def enrol(self) -> None:
        from faceunlock.gui.daemon_test import enrol_if_daemon

        if (d := enrol_if_daemon(self)) is not None:  # the system daemon runs: enrol there (its camera, its store)
            d.finished.connect(lambda _: self.refresh())
            return
        self._wizard("new", None)

    def add_appearance(self) -> None:
        if (user := self.selected_user()) is not None:
            from faceunlock.gui.daemon_test import enrol_if_daemon, enrolled_in_daemon

            if enrolled_in_daemon(user) and (d := enrol_if_daemon(self, user, label="extra")) is not None:
                d.finished.connect(lambda _: self.refresh())
                return
            self._wizard("add", user)

    def test_recognition(self) -> None:
        from faceunlock.gui.recognition import RecognitionDialog

        if (user := self.selected_user()) is None:
            return
        from faceunlock.gui.daemon_test import open_if_daemon

        if open_if_daemon(self, user):  # the system daemon holds this face: it decides, as for sudo
            return
        d = RecognitionDialog(self.engine, self.settings.source, user, self.settings.policy.window, self.settings.policy.required,
                              parent=self)  # fmt: skip
        d.open()

    def remove_user(self) -> None:
        user = self.selected_user()
        if user is None:
            return
        answer = QMessageBox.question(self, "Remove face data",
                                      f"Delete all face data of {user}? Face unlock stops working for {user} "
                                      "until they enrol again; their password still works.")  # fmt: skip
        if answer != QMessageBox.StandardButton.Yes:
            return
        from faceunlock.gui.daemon_test import remove_if_daemon

        if remove_if_daemon(self, user) is not None:  # the system daemon held it (removed, or refused and said so)
            self.refresh()
            return
        from faceunlock.store import TemplateStore

        TemplateStore().remove(user)
        self.refresh()

    def open_settings(self) -> None:
        from faceunlock.gui.settings_dialog import SettingsDialog

        d = SettingsDialog(self.settings, parent=self)
        d.accepted.connect(self.refresh)
        d.open()

    def lock_now(self) -> None:
        """Start `faceunlock lock` as its own process: the lock must outlive (and not depend on) this window."""
        try:
            subprocess.Popen([sys.executable, "-m", "faceunlock", "lock"], start_new_session=True)
        except OSError as e:
            QMessageBox.warning(self, "Lock now", f"Could not start the lock screen: {e}")

    def lock_with_desktop(self) -> None:
        """`loginctl lock-session`: logind asks the session's own locker to lock (it runs PAM, so the face module)."""
        try:
            r = subprocess.run(["loginctl", "lock-session"], capture_output=True, text=True, timeout=10)
            error = (r.stderr or r.stdout).strip() if r.returncode else ""
        except (OSError, subprocess.TimeoutExpired) as e:
            error = str(e)
        if error:
            QMessageBox.warning(self, "Lock with the desktop's lock screen",
                                f"The desktop's lock screen could not be started (loginctl lock-session): {error}\n"
                                "Use “Lock now” instead.")  # fmt: skip

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self._checking = None
        retire_children(self)
        super().closeEvent(event)


def run_app(weights: str = "auto", device: str = "cpu", source: str | None = None) -> int:
    """Start the Qt app (the `faceunlock gui` command)."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("faceunlock")
    app.setApplicationDisplayName("Face unlock")
    app.setDesktopFileName("faceunlock")
    app.setStyle("Fusion")
    app.setWindowIcon(app_icon())
    settings = Settings.load()
    if source:
        settings.source = source  # this run only: Settings stores a camera only (issue 9.7), never this
    collector = GuiThreadGC(parent=app)
    collector.start()
    win = MainWindow(settings, weights, device)
    win.show()
    code = app.exec()
    wait_children(win)
    wait_retired()
    return code

