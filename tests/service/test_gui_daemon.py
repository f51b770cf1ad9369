"""The GUI asks the daemon when it runs: Test recognition through faceunlockd (a real daemon on real.mov), closing
the dialog mid-attempt hangs up and frees the camera, and the window's store line says which store decides."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any Qt import: no display needed

import json
import shutil

import pytest

from tests.service.helpers import Daemon, account, need_root, public_dir, request
from tests.shared_data import REAL_MOV, need


@pytest.fixture(scope="module")
def daemon():
    need_root()
    need("liveness", "webcam-replay", "real.mov")
    base = public_dir("fu-gui-daemon-")
    try:
        with account() as (name, _, _), Daemon(base, REAL_MOV) as d:
            assert request(d.socket, f"ENROLL 1 {name} limit=100")[-1].startswith("OK")
            yield d, name
    finally:
        shutil.rmtree(base, ignore_errors=True)


def cancelled(d: Daemon) -> int:
    return json.loads(request(d.socket, "STATUS 1")[-1][3:])["cancelled"]


def test_recognition_dialog_asks_the_daemon(qtbot, daemon):
    from faceunlock.gui.daemon_test import DaemonRecognitionDialog, enrolled_in_daemon

    d, user = daemon
    assert enrolled_in_daemon(user, d.socket) and not enrolled_in_daemon("root", d.socket)
    dialog = DaemonRecognitionDialog(d.socket, user, ranges={"skip": 100})
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.word is not None, timeout=60000)
    assert dialog.word == "OK" and dialog.verdict.text() == f"Recognised: this is {user}"
    assert dialog.decision["accepted"] is True and "threshold" in dialog.detail.text()
    dialog.accept()


def test_closing_the_dialog_cancels_the_attempt(qtbot, daemon):
    from faceunlock.gui.daemon_test import DaemonRecognitionDialog

    d, user = daemon
    before = cancelled(d)
    dialog = DaemonRecognitionDialog(d.socket, user, ranges={"skip": 100})
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.progress.text() != "", timeout=30000)  # the daemon took the camera
    dialog.reject()
    qtbot.waitUntil(lambda: cancelled(d) == before + 1, timeout=5000)
    assert dialog.word is None
    assert request(d.socket, f"AUTH 1 {user} skip=100")[-1].startswith("OK")  # camera free again


def test_store_line_says_which_store_decides(daemon):
    from faceunlock.gui.daemon_test import store_in_use

    d, _ = daemon
    assert "system store of faceunlockd" in store_in_use(d.socket)
    assert "your own encrypted store" in store_in_use(d.base / "absent.sock")


def test_lock_screen_unlocks_through_the_daemon_without_loading_a_model(qtbot, daemon, tmp_path, monkeypatch):
    from faceunlock.gui.daemon_lock import DaemonFaceThread
    from faceunlock.gui.lockscreen import LockScreen

    d, user = daemon
    monkeypatch.setenv("FACEUNLOCK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FACEUNLOCK_SOCKET", str(d.socket))

    def no_model():
        raise AssertionError("the lock screen loaded a model although the daemon holds the face")

    lock = LockScreen(user, "0", no_model, password_checker=lambda pw: False, rearm_s=0.0, grab=False)
    lock.lock()
    qtbot.waitUntil(lambda: lock.face_thread is not None, timeout=5000)
    assert isinstance(lock.face_thread, DaemonFaceThread)
    with qtbot.waitSignal(lock.unlocked, timeout=60000) as got:
        pass
    assert got.args == ["face"] and lock.unlocked_by == "face"
    lock.shutdown(wait_ms=5000)
    for w in lock.windows:
        w.deleteLater()


def test_a_recorded_source_or_an_unenrolled_user_keeps_the_local_face_thread(daemon, monkeypatch):
    from faceunlock.gui.daemon_lock import daemon_face_thread

    d, user = daemon
    monkeypatch.setenv("FACEUNLOCK_SOCKET", str(d.socket))
    assert daemon_face_thread(user, "0", 0.0) is not None
    assert daemon_face_thread(user, str(REAL_MOV), 0.0) is None  # tests and demos stay in-process
    assert daemon_face_thread("root", "0", 0.0) is None  # no face in the daemon: the user's own store
    monkeypatch.setenv("FACEUNLOCK_SOCKET", str(d.base / "absent.sock"))
    assert daemon_face_thread(user, "0", 0.0) is None


def test_enrol_and_remove_through_the_daemon_from_the_gui(qtbot, daemon, monkeypatch):
    from PySide6.QtWidgets import QWidget

    from faceunlock.gui.daemon_test import (
        DaemonEnrollDialog,
        daemon_users,
        enrolled_in_daemon,
        remove_if_daemon,
    )

    d, owner = daemon
    monkeypatch.setenv("FACEUNLOCK_SOCKET", str(d.socket))
    with account() as (name, _, _):
        dialog = DaemonEnrollDialog(d.socket, name, "", ranges={"limit": 100})  # root: no password asked
        qtbot.addWidget(dialog)
        qtbot.waitUntil(lambda: dialog.word is not None, timeout=60000)
        assert dialog.word == "OK" and dialog.result.text().startswith("Enrolled:")
        dialog.accept()
        rows = {u.name: u for u in daemon_users(d.socket)}
        assert set(rows) == {owner, name} and rows[name].appearances[0].endswith("system store)")
        parent = QWidget()
        qtbot.addWidget(parent)
        assert remove_if_daemon(parent, name) is True
        assert not enrolled_in_daemon(name, d.socket)
        assert remove_if_daemon(parent, name) is None  # not the daemon's (any more): the caller's own store


def test_closing_the_enrol_dialog_saves_nothing(qtbot, daemon):
    from faceunlock.gui.daemon_test import DaemonEnrollDialog

    d, _ = daemon
    before = cancelled(d)
    with account() as (name, _, _):
        dialog = DaemonEnrollDialog(d.socket, name, "", ranges={"limit": 100})
        qtbot.addWidget(dialog)
        qtbot.waitUntil(lambda: dialog.progress.text().startswith("2/20"), timeout=60000)
        dialog.reject()
        qtbot.waitUntil(lambda: cancelled(d) == before + 1, timeout=5000)
        assert dialog.word is None
        assert not list((d.state / "templates").glob(f"*/{name}.fut"))
