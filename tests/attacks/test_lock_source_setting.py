"""Issue 9.7: the GUI settings file (writable by any process of the user) could point `source` at a video of the
owner, and `faceunlock lock` then unlocked by face with nobody at the camera.

Real processes, real keyring, real enrolment from real.mov: with the settings file naming real.mov, the lock
ignores it (says so on stderr), looks only at a camera (camera 0, absent here: face unlock is unavailable and the
screen stays locked); the same video given explicitly on the command line (a test or demo) still unlocks by face,
and the lock screen says on screen that its frames come from a file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # the in-process check below builds a LockScreen

import pytest

from faceunlock.secrets import set_password
from tests.shared_data import need

PASSWORD = "correct horse"
REPO = Path(__file__).resolve().parents[2]


def _env(home: Path) -> dict:
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen", "FACEUNLOCK_HOME": str(home), "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def alice_home(tmp_path_factory, keyring_session) -> Path:
    """alice enrolled through the CLI from the first 60 frames of real.mov."""
    home = tmp_path_factory.mktemp("lock-source")
    set_password(PASSWORD)
    r = subprocess.run([sys.executable, "-m", "faceunlock", "--home", str(home), "enroll", "alice", "--source",
                        str(need("liveness", "webcam-replay", "real.mov")), "--max-frames", "60", "--frames", "10",
                        "--weights", "dlib-resnet34", "--password-stdin"],
                       input=PASSWORD + "\n", capture_output=True, text=True, timeout=900, cwd=REPO)  # fmt: skip
    assert r.returncode == 0, r.stderr
    return home


def _lock(home: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "faceunlock", "lock", "--user", "alice", "--weights",
                             "dlib-resnet34", "--face-delay", "0.5", *args], env=_env(home), cwd=REPO,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def _read_until(p: subprocess.Popen, text: str, timeout: float) -> tuple[bool, str]:
    os.set_blocking(p.stderr.fileno(), False)
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = p.stderr.readline()  # non-blocking: may be a partial line, so search the whole text
        if line:
            seen.append(line)
            if text in "".join(seen):
                return True, "".join(seen)
        elif p.poll() is not None:
            break
        else:
            time.sleep(0.05)
    return False, "".join(seen)


def test_a_video_named_in_the_settings_file_does_not_unlock(alice_home, keyring_session):
    set_password(PASSWORD)
    real = need("liveness", "webcam-replay", "real.mov")
    cfg = alice_home / "config" / "gui.json"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(json.dumps({"source": str(real), "window": 5}))  # what a same-user process could write
    p = _lock(alice_home)
    try:
        ok, err = _read_until(p, "cannot open camera 0", 180)  # the lock looks at the camera, not the file
        assert ok, err
        assert f"ignoring source '{real}'" in err
        time.sleep(3)
        assert p.poll() is None, err  # still locked: the video was never read
    finally:
        p.kill()
        p.wait(30)
    assert "unlocked by face" not in err


def test_a_video_given_on_the_command_line_still_unlocks_and_is_announced(alice_home, keyring_session):
    set_password(PASSWORD)
    real = need("liveness", "webcam-replay", "real.mov")
    p = _lock(alice_home, "--source", str(real), "--skip", "100")
    try:
        _, err = p.communicate(timeout=300)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0 and "unlocked by face" in err, err


def test_the_lock_screen_says_when_its_frames_come_from_a_file(qtbot, fu_home, keyring_session):
    from faceunlock.gui.lockscreen import LockScreen

    real = str(need("liveness", "webcam-replay", "real.mov"))

    def no_engine():
        raise RuntimeError("not needed here")

    for source, shown in ((real, True), ("0", False)):
        ls = LockScreen("alice", source, no_engine, grab=False, realtime=False)
        note = ls.panel.source_note
        assert note.isVisibleTo(ls.panel) == shown
        if shown:
            assert "real.mov" in note.text() and "not from a camera" in note.text()
