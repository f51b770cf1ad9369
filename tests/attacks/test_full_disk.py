"""Attack 3 (issue 9): with the data directory on a full filesystem the owner's face and the right password were
refused ("OSError 28") while wrong guesses went uncounted.

Unlocking never depends on a write: the lock-out keeps a state it cannot save in memory, uses it for every later
decision and writes it once the disk has room again. Real full filesystem: a tiny tmpfs (needs root).
"""

from __future__ import annotations

import json
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # the lock screen below needs no display

import errno
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from faceunlock.auth import authenticate
from faceunlock.lockout import Lockout
from tests.attacks.attempt_fixtures import engine, enrolled, owner, owner_later  # noqa: F401 - fixtures

pytestmark = pytest.mark.usefixtures("keyring_session")
PASSWORD = "correct horse"


def _fill(mount: Path) -> None:
    fd = os.open(mount / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as e:
        assert e.errno == errno.ENOSPC
    finally:
        os.close(fd)


@pytest.fixture
def full_home(enrolled, tmp_path, monkeypatch):  # noqa: F811
    """alice's home (templates, lock-out state with 2 failures) on a 256 KiB tmpfs, then the tmpfs filled."""
    if os.geteuid() != 0:
        pytest.skip("a real full filesystem needs a tmpfs mount, and mounting needs root")
    mount = tmp_path / "small-disk"
    mount.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(mount)],
                       capture_output=True, text=True)  # fmt: skip
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip()})")
    try:
        home = mount / "home"
        shutil.copytree(enrolled / "data" / "templates", home / "data" / "templates")
        lo = Lockout(home / "data" / "lockout.json")
        lo.record_failure()
        lo.record_failure()
        monkeypatch.setenv("FACEUNLOCK_HOME", str(home))
        _fill(mount)
        with pytest.raises(OSError):  # really full
            (home / "data" / "probe").write_bytes(b"x" * 8192)
        yield home
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def saved_failures(home: Path) -> int:
    return json.loads((home / "data" / "lockout.json").read_text())["failures"]


def test_failures_are_counted_in_memory_and_written_once_there_is_room(full_home):
    lo = Lockout(full_home / "data" / "lockout.json")
    lo.record_failure()  # no OSError 28
    assert lo.failures == 3 and lo.unsaved == (3, lo.unsaved[1])
    assert saved_failures(full_home) == 2  # the old state is intact (atomic write), the new one is in memory
    for _ in range(2):
        lo.record_failure()
    assert lo.seconds_remaining() == pytest.approx(30.0, abs=2)  # the back-off holds with nothing written
    (full_home.parent / "filler").unlink()  # room again: the next call writes what was kept
    assert lo.failures == 5 and lo.unsaved is None
    assert saved_failures(full_home) == 5


def test_the_owner_face_still_unlocks(full_home, engine, owner, owner_later):  # noqa: F811
    lo = Lockout(full_home / "data" / "lockout.json")
    d = authenticate(engine, owner, owner_later, lockout=lo)
    assert d.accepted, d.reason
    assert lo.failures == 0 and saved_failures(full_home) == 2  # reset in memory; written later


def test_the_owner_face_still_unlocks_the_lock_screen(full_home, engine, owner_later):  # noqa: F811
    from faceunlock.gui.face_unlock import FaceUnlockThread

    lo = Lockout(full_home / "data" / "lockout.json")
    t = FaceUnlockThread("unused", lambda: engine, "alice", lo, rearm_s=0.0)
    accepted, failed = [], []
    t.accepted.connect(accepted.append)
    t.failed.connect(failed.append)
    t.prepare(engine)
    t.process(engine, np.zeros((480, 640, 3), np.uint8))
    for f in owner_later:
        if t.process(engine, f)[1] == "matched":
            break
    assert accepted and not failed


def test_the_right_password_unlocks_and_wrong_ones_are_counted(full_home, qtbot):
    from PySide6.QtCore import Qt

    from faceunlock.gui.lockscreen import LockScreen
    from faceunlock.secrets import set_password

    set_password(PASSWORD)  # the hash lives in the keyring, not on the full disk
    lo = Lockout(full_home / "data" / "lockout.json")

    def no_engine():
        raise RuntimeError("no face model in this test")

    ls = LockScreen("alice", "/nonexistent/camera.mov", no_engine, lockout=lo, realtime=False, grab=False)
    ls.lock()
    try:
        for pw in ("wrong guess", PASSWORD):
            qtbot.waitUntil(lambda: ls.panel.password.isEnabled() and not ls.checking, timeout=10000)
            qtbot.keyClicks(ls.panel.password, pw)
            qtbot.keyClick(ls.panel.password, Qt.Key.Key_Return)
            qtbot.waitUntil(lambda: not ls.checking, timeout=20000)
            if pw != PASSWORD:
                assert ls.locked and lo.failures == 3  # counted, in memory
                assert saved_failures(full_home) == 2
        assert not ls.locked and ls.unlocked_by == "password"
        assert lo.failures == 0
    finally:
        for w in ls.windows:
            w.allow_close = True
            w.close()
        ls.shutdown()
