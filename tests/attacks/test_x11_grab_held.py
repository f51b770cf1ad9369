"""Issue 9.4: when another X client holds the keyboard grab, `faceunlock lock` showed its window as if locked while
every typed key (the password too) went to the program behind it.

Real processes on a real X server: Xvfb, a second X client holding the keyboard grab (tests/attacks/x11_client.py,
libX11 through ctypes), and the real `faceunlock lock` on the xcb platform. While the grab is held elsewhere the
lock must say plainly that it cannot lock, log it, keep the password field off and never report "screen locked";
once the other client lets go it must take the grab itself (a third client's grab then fails with AlreadyGrabbed)
and the owner's password, typed through XTEST, unlocks it (exit 0).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from faceunlock.secrets import set_password

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse"
pytestmark = pytest.mark.skipif(shutil.which("Xvfb") is None, reason="needs Xvfb (scripts/setup.sh installs xvfb)")


def _free_display() -> int:
    for n in range(61, 200):
        if not Path(f"/tmp/.X{n}-lock").exists() and not Path(f"/tmp/.X11-unix/X{n}").exists():
            return n
    raise RuntimeError("no free X display number")


@pytest.fixture
def xvfb(tmp_path):
    n = _free_display()
    proc = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=(tmp_path / "xvfb.log").open("w"))  # fmt: skip
    deadline = time.monotonic() + 20
    while not Path(f"/tmp/.X11-unix/X{n}").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"Xvfb :{n} did not start: {(tmp_path / 'xvfb.log').read_text()}")
        time.sleep(0.1)
    yield f":{n}"
    proc.terminate()
    proc.wait(10)


def _client(display: str, *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.attacks.x11_client", *args], cwd=REPO,
                            env={**os.environ, "DISPLAY": display}, text=True, **kw)  # fmt: skip


def _probe(display: str) -> str:
    p = _client(display, "probe", stdout=subprocess.PIPE)
    return p.communicate(timeout=30)[0].strip()


class Lines:
    """The lock's stderr, line by line, read up to a pattern with a deadline."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc, self.seen = proc, []
        os.set_blocking(proc.stderr.fileno(), False)

    def until(self, text: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()  # non-blocking: may be a partial line, so search the whole text
            if line:
                self.seen.append(line)
                if text in self.text:
                    return True
            elif self.proc.poll() is not None:
                return False
            else:
                time.sleep(0.05)
        return False

    @property
    def text(self) -> str:
        return "".join(self.seen)


def test_a_held_keyboard_grab_is_shown_as_not_locked_and_the_lock_takes_it_when_released(
    xvfb, keyring_session, fu_home, tmp_path
):
    set_password(PASSWORD)
    holder = _client(xvfb, "hold", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert holder.stdout.readline().strip() == "grabbed"
    env = {**os.environ, "DISPLAY": xvfb, "QT_QPA_PLATFORM": "xcb", "FACEUNLOCK_HOME": str(fu_home)}
    lock = subprocess.Popen([sys.executable, "-m", "faceunlock", "lock", "--user", "alice", "--source", "9",
                             "--weights", "dlib-resnet34"], env=env, stderr=subprocess.PIPE, text=True)  # fmt: skip
    out = Lines(lock)
    try:
        assert out.until("Cannot lock: another program holds the keyboard", 60), out.text
        assert "screen locked" not in out.text  # never reported as locked without the grab
        time.sleep(1.0)  # let the window paint the state
        shot = Path(os.environ.get("FACEUNLOCK_SHOT_DIR", tmp_path)) / "lock-cannot-grab.png"
        if shutil.which("import"):
            subprocess.run(["import", "-display", xvfb, "-window", "root", str(shot)], check=True, timeout=60)
            assert shot.stat().st_size > 10_000
        # Keys typed now go to the grabbing client, not to the lock: the password does not reach it.
        _client(xvfb, "type", PASSWORD).wait(30)
        time.sleep(1.5)
        assert lock.poll() is None and "unlocked" not in out.text
        assert _probe(xvfb) == "AlreadyGrabbed"  # still the other client's grab

        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "released"
        assert out.until("screen locked for alice", 30), out.text  # reported only now, with the grab held
        assert "grabbed after" in out.text
        assert _probe(xvfb) == "AlreadyGrabbed"  # now the lock holds it: nobody else can take the keyboard

        # The owner still gets in: the password typed at the keyboard reaches the lock and unlocks it.
        _client(xvfb, "type", PASSWORD).wait(30)
        assert lock.wait(120) == 0, out.text  # exit 0 only once unlocked (lock_process.run_lock)
        out.until("unlocked by", 2)  # printed unless the model was still loading at exit (then a fast exit)
        assert "unlocked by face" not in out.text
        assert _probe(xvfb) == "Success"  # the lock let go of the keyboard when it unlocked
    finally:
        for p in (lock, holder):
            if p.poll() is None:
                p.kill()
                p.wait(10)
