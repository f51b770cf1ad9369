"""The main window says in plain words what is ready and what to do, lists who is enrolled, and its actions
reach the wizard, the recognition test and removal."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMessageBox

from faceunlock import health
from faceunlock.gui.app import MainWindow
from faceunlock.gui.recognition import RecognitionDialog
from faceunlock.gui.settings import Settings
from faceunlock.gui.workers import ENGINES
from faceunlock.secrets import set_password
from faceunlock.store import TemplateStore
from tests.gui.conftest import WEIGHTS, install_alice


@pytest.fixture
def fast_model(monkeypatch, engine):
    """Reuse the session's engine instead of loading the model again for every window."""
    monkeypatch.setattr(health, "check_engine", lambda weights, device, loaded=None: (health.describe_engine(engine), engine))


def wait_status(qtbot, w: MainWindow) -> None:
    qtbot.waitUntil(lambda: w.status is not None, timeout=60000)


def test_status_in_plain_words_and_users_listed(qtbot, gui_home, wizard_run, real_mov):
    """The real checks: loads the model, reads the keyring, opens the source, decrypts the user list."""
    set_password("correct horse")
    install_alice(wizard_run, gui_home)
    w = MainWindow(Settings(source=str(real_mov)), weights=WEIGHTS)
    qtbot.addWidget(w)
    w.show()
    wait_status(qtbot, w)
    states = {k: (line.state, line.text.text()) for k, line in w.lines.items()}
    assert states["model"][0] == "ok" and "dlib-resnet34" in states["model"][1]
    assert states["calibration"][0] == "ok" and "threshold" in states["calibration"][1]
    assert states["liveness"] == ("ok", "Photos and screens are refused.")
    assert states["keyring"] == ("ok", "Unlocked; your fallback password is set.")
    assert states["camera"][0] == "warn" and "real.mov" in states["camera"][1] and "instead of a webcam" in states["camera"][1]
    assert w.user_rows() == [("alice", "1 appearance: default (dlib-resnet34)")]
    assert "does not lock at login" in w.login_note.text()
    assert w.selected_user() == "alice"
    assert all(b.isEnabled() for b in (w.enrol_btn, w.add_btn, w.test_btn, w.remove_btn, w.lock_btn))
    assert ENGINES.peek(WEIGHTS) is not None  # kept for the wizard and the recognition test


def test_missing_camera_and_no_password_say_what_to_do(qtbot, gui_home, fast_model, keyring_session):
    import keyring

    from faceunlock.secrets import PASSWORD_USER, SERVICE, has_password

    if has_password():
        keyring.delete_password(SERVICE, PASSWORD_USER)
    w = MainWindow(Settings(source="/nonexistent/cam.mp4"))
    qtbot.addWidget(w)
    wait_status(qtbot, w)
    cam = w.lines["camera"]
    assert cam.state == "error" and "given with --source" in cam.text.text()
    assert w.lines["keyring"].state == "warn" and "choose one when you enrol" in w.lines["keyring"].text.text()
    assert w.users.count() == 0 and w.empty_hint.isVisibleTo(w)
    assert w.enrol_btn.isEnabled() and not w.test_btn.isEnabled() and not w.lock_btn.isEnabled()


def test_missing_calibration_is_explained(qtbot, gui_home, monkeypatch):
    from faceunlock import calibrate
    from faceunlock.errors import CalibrationError

    def none(backbone):
        raise CalibrationError("no calibration for model dlib-resnet34")

    monkeypatch.setattr(calibrate, "find_calibration", none)
    rows, engine = health.check_engine(WEIGHTS, "cpu")
    assert engine is None
    cal = next(r for r in rows if r.key == "calibration")
    assert cal.state == "error" and "faceunlock calibrate" in cal.text


def test_locked_keyring_is_reported(monkeypatch):
    """Locked and absent keyrings are told apart by the error's type, not by its wording."""
    from faceunlock import secrets
    from faceunlock.errors import KeyringLocked, KeyringUnavailable

    def locked():
        raise KeyringLocked("whatever the backend says")

    monkeypatch.setattr(secrets, "has_password", locked)
    row, has = health.check_keyring()
    assert row.state == "error" and row.text.startswith("The keyring is locked") and not has

    def absent():
        raise KeyringUnavailable("no D-Bus")

    monkeypatch.setattr(secrets, "has_password", absent)
    row, has = health.check_keyring()
    assert row.state == "error" and row.text.startswith("No secure keyring is running") and not has


def test_remove_asks_then_deletes(qtbot, gui_home, wizard_run, fast_model, monkeypatch):
    set_password("correct horse")
    install_alice(wizard_run, gui_home)
    w = MainWindow(Settings(source="/nonexistent/cam.mp4"))
    qtbot.addWidget(w)
    wait_status(qtbot, w)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    w.remove_btn.click()
    assert TemplateStore().exists("alice")
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    w.remove_btn.click()
    assert not TemplateStore().exists("alice")
    # the refresh the removal started has finished (its button is enabled again) and lists nobody; `status` alone
    # still held the first check's result, so the test once returned with the check's thread running
    qtbot.waitUntil(lambda: w.refresh_btn.isEnabled() and w.users.count() == 0, timeout=30000)


def test_recognition_test_recognises_alice(qtbot, gui_home, wizard_run, provider, real_mov):
    install_alice(wizard_run, gui_home)
    d = RecognitionDialog(provider, str(real_mov), "alice", 5, 3, realtime=False, skip=180)
    qtbot.addWidget(d)
    d.show()
    qtbot.waitUntil(lambda: d.decision is not None, timeout=60000)
    assert d.decision.accepted, d.detail.text()
    assert "Recognised" in d.verdict.text() and "threshold" in d.detail.text()
    d.accept()


def test_a_thread_that_will_not_stop_is_retired_not_destroyed(qapp):
    """`stop_or_retire`: a worker still running after the wait (a daemon that does not hang up, a slow frame) is
    kept alive until it ends, so deleting its parent widget does not destroy a running QThread (which aborts the
    process). The daemon dialogs close this way."""
    from PySide6.QtCore import QThread
    from PySide6.QtWidgets import QWidget

    from faceunlock.gui.workers import stop_or_retire, wait_retired

    class Stubborn(QThread):
        def run(self) -> None:
            self.msleep(1500)  # ignores requestInterruption, like a blocking call

    parent = QWidget()
    t = Stubborn(parent)
    t.start()
    t.requestInterruption()
    stop_or_retire(t, 100)
    assert t.isRunning() and t.parent() is None  # retired: no longer owned by the widget
    _delete_now(parent)
    del parent
    assert wait_retired(5000) and not t.isRunning()

    quick = Stubborn()
    quick.start()
    stop_or_retire(quick, 5000)  # ends within the wait: nothing to retire
    assert not quick.isRunning()


def test_a_retired_thread_already_deleted_counts_as_ended(qapp):
    """run_async's threads delete themselves when they finish; one that finishes just as it is retired can be
    deleted while still listed (CI, 2026-12-05: "Internal C++ object (FunctionThread) already deleted" when the
    test teardown waited for retired threads). Waiting skips it: Qt never deletes a running thread."""
    import shiboken6
    from PySide6.QtCore import QCoreApplication, QEvent

    from faceunlock.gui import workers

    t = workers.run_async(None, lambda: None)
    assert t.wait(5000)
    for _ in range(3):  # the queued deleteLater, then the deferred delete it posts
        QCoreApplication.sendPostedEvents(None, 0)
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert not shiboken6.isValid(t)
    workers._RETIRED.add(t)  # the state the race leaves
    assert workers.wait_retired(1000) and t not in workers._RETIRED


def test_closing_retires_every_running_thread_of_the_window(qapp):
    """`retire_children` (MainWindow and the enrolment wizard call it when they close): a run_async thread still
    running — a status check, a keyring check, a save — is retired, so deleting the window does not destroy it
    (that aborts the process: CI, 2026-12-05), and its work still completes."""
    import time

    from PySide6.QtWidgets import QWidget

    from faceunlock.gui.workers import retire_children, run_async, wait_retired

    finished: list[str] = []

    def slow() -> str:
        time.sleep(1.0)
        finished.append("done")
        return "done"

    parent = QWidget()
    t = run_async(parent, slow)
    retire_children(parent)
    assert t.isRunning() and t.parent() is None
    _delete_now(parent)
    del parent
    assert wait_retired(5000) and finished == ["done"]


def _delete_now(widget) -> None:  # noqa: ANN001
    """Delete `widget` (and its children) now: deleteLater runs only when the event loop handles deferred
    deletes, which processEvents() does not — a test deleting this way without it deleted nothing."""
    from PySide6.QtCore import QCoreApplication, QEvent

    widget.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
