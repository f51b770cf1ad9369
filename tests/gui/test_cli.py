"""`faceunlock lock` and `faceunlock gui` as a user runs them: fast help, a refusal to lock when nothing could
unlock, and the real process locking, showing its window within a second, and exiting 0 when the face unlocks."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import keyring

from faceunlock.secrets import PASSWORD_USER, SERVICE, has_password, set_password
from tests.gui.conftest import WEIGHTS, install_alice


def run_cli(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    e = {**os.environ, "QT_QPA_PLATFORM": "offscreen", **(env or {})}
    return subprocess.run([sys.executable, "-m", "faceunlock", *args], capture_output=True, text=True, env=e,
                          timeout=timeout)  # fmt: skip


def test_help_does_not_import_qt_or_torch():
    for args in (["--help"], ["lock", "--help"], ["gui", "--help"]):
        r = subprocess.run([sys.executable, "-X", "importtime", "-m", "faceunlock", *args], capture_output=True,
                           text=True, timeout=60)  # fmt: skip
        assert r.returncode == 0, r.stderr
        imported = {line.split("|")[-1].strip().split(".")[0] for line in r.stderr.splitlines() if "|" in line}
        assert not imported & {"torch", "PySide6", "facenet_pytorch", "cv2"}, (args, imported & {"torch", "PySide6"})
    assert "fallback password" in r.stdout or "Settings" in r.stdout


def test_lock_refuses_when_no_password_could_unlock(gui_home, keyring_session):
    if has_password():
        keyring.delete_password(SERVICE, PASSWORD_USER)
    r = run_cli("lock", "--user", "alice", "--source", "/nonexistent.mov")
    assert r.returncode == 2 and "no fallback password is set" in r.stderr


def test_lock_process_shows_window_fast_and_exits_0_on_face_unlock(gui_home, keyring_session, wizard_run, real_mov,
                                                                  record_property):  # fmt: skip
    set_password("correct horse")
    install_alice(wizard_run, gui_home)
    t0 = time.monotonic()
    p = subprocess.Popen([sys.executable, "-m", "faceunlock", "lock", "--user", "alice", "--source", str(real_mov),
                          "--skip", "100", "--weights", WEIGHTS, "--face-delay", "0.5"],
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        early = []
        while (line := p.stderr.readline()) and "screen locked" not in line:
            early.append(line)  # offscreen-platform warnings
        first, shown = line, time.monotonic() - t0
        rest = "".join(early) + p.communicate(timeout=180)[1]
    finally:
        if p.poll() is None:
            p.kill()
    record_property("lock_time_to_window_s", round(shown, 2))
    print(f"lock window shown {shown:.2f} s after Popen ({first.strip()}); rc {p.returncode}; total {time.monotonic() - t0:.1f} s")
    print(rest)
    assert "screen locked for alice" in first
    assert p.returncode == 0, rest
    assert "unlocked by face" in rest
    assert shown < 2.0  # target 1 s on an idle machine; CI cores are shared


def test_a_second_lock_does_not_stack(gui_home, keyring_session):
    set_password("correct horse")
    args = [sys.executable, "-m", "faceunlock", "lock", "--user", "alice", "--source", "/nonexistent.mov"]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    first = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, text=True)
    try:
        while (line := first.stderr.readline()) and "screen locked" not in line:
            pass
        assert "screen locked" in line
        second = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 2 and "already locked" in second.stderr
        assert first.poll() is None  # the first one is still locking the screen
    finally:
        first.kill()
        first.wait()
