"""pamtester → pam_faceunlock.so → `faceunlock daemon` on real video: the owner gets in, a stranger and a phone
replay do not. One daemon per camera source, started once for this module (torch takes seconds to load); they
share one state dir, so the owner enrolled from real.mov is the account every source is asked about.

Enrolment uses frames 120-198 of real.mov; the PAM attempt (which cannot choose frames) reads from frame 0, so the
owner is recognised on frames the templates never saw."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from faceunlock.daemon_client import DaemonClient
from tests.pam.pamhelp import (
    AUTH_ERR,
    AUTHINFO_UNAVAIL,
    IGNORED,
    LOOKING,
    SUCCESS,
    Account,
    Daemon,
    pamtester,
    short_tmpdir,
    stack,  # fmt: skip
)
from tests.shared_data import need

TIMEOUT = 30  # generous: CI shares its cores; the warm figure is in benchmarks/pam_latency.py


class Daemons:
    """At most one daemon alive at a time (memory); asking for another source stops the previous one."""

    def __init__(self) -> None:
        self.dir = short_tmpdir()
        self.dir.chmod(0o755)  # screen lockers ask as the user: they must reach the socket (the state stays 0700)
        self.state = self.dir / "state"
        self.current: tuple[Path, Daemon] | None = None
        self.n = 0

    def on(self, source: Path) -> Daemon:
        if self.current and self.current[0] == source:
            return self.current[1]
        self.stop()
        self.n += 1
        d = Daemon(self.dir / f"d{self.n}.sock", self.state, source, self.dir / "daemon.log")
        self.current = (source, d)
        return d

    def stop(self) -> None:
        if self.current:
            self.current[1].close()
            self.current = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def daemons(pam_module) -> Iterator[Daemons]:
    d = Daemons()
    try:
        yield d
    finally:
        d.close()


@pytest.fixture(scope="module")
def owner(daemons: Daemons, account: Account) -> Account:
    real = need("liveness", "webcam-replay", "real.mov")
    d = daemons.on(real)
    r = DaemonClient(d.socket_path, timeout=300).enroll(account.name, skip=120, limit=79)
    assert r.word == "OK", f"enrolment through the daemon failed: {r.word} {r.text}"
    return account


def face_service(pam_service, d: Daemon, probe: bool = False):
    return pam_service(stack(f"socket={d.socket_path} timeout={TIMEOUT}", probe=probe))


def test_owner_in_front_of_the_camera_is_let_in(daemons, owner, pam_service):
    d = daemons.on(need("liveness", "webcam-replay", "real.mov"))
    r = pamtester(face_service(pam_service, d).name, owner.name)
    assert r.ok, r.out
    assert LOOKING in r.out  # the conversation said what is happening
    assert r.seconds < TIMEOUT


def test_owner_asking_as_themselves_is_let_in(daemons, owner, pam_service):
    """Screen lockers run PAM as the logged-in user, not root: the daemon answers a uid about its own account."""
    d = daemons.on(need("liveness", "webcam-replay", "real.mov"))
    svc = face_service(pam_service, d)
    svc.path.chmod(0o644)
    r = pamtester(svc.name, owner.name, as_uid=owner.uid)
    assert r.ok, r.out


def test_a_user_asking_about_someone_else_is_refused(daemons, owner, pam_service):
    d = daemons.on(need("liveness", "webcam-replay", "real.mov"))
    other = Account("fu-other")
    try:
        probe = face_service(pam_service, d, probe=True)
        r = pamtester(probe.name, owner.name, as_uid=other.uid)  # the owner's face is in view, but uid ≠ owner
        assert AUTH_ERR in r.out and SUCCESS not in r.out, r.out
    finally:
        other.close()


def test_an_account_without_a_face_is_ignored(daemons, owner, pam_service):
    d = daemons.on(need("liveness", "webcam-replay", "real.mov"))
    probe = face_service(pam_service, d, probe=True)
    r = pamtester(probe.name, "root")  # root has no face enrolled: IGNORE → on to the password
    assert IGNORED in r.out and r.seconds < 5, r.out
    assert LOOKING not in r.out  # the camera was never taken: no "looking for your face" before the password


def test_remote_host_set_the_face_is_not_tried(daemons, owner, pam_service):
    d = daemons.on(need("liveness", "webcam-replay", "real.mov"))
    mark = _log_size(d)
    r = pamtester(face_service(pam_service, d).name, owner.name, "rhost=host.example")
    assert not r.ok and LOOKING not in r.out
    # the daemon was not even asked about the owner (an earlier test's "AUTH root" line may land late in the log)
    assert f"AUTH {owner.name}" not in _log_since(d, mark)


def test_system_status_says_the_daemon_answers(daemons, owner, tmp_path):
    import json
    import subprocess
    import sys

    d = daemons.on(need("liveness", "webcam-replay", "real.mov"))
    r = subprocess.run([sys.executable, "-m", "faceunlock", "system", "status", "--root", str(tmp_path), "--socket",
                        str(d.socket_path), "--json"], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["daemon"]["answers"] is True and "OK" in st["daemon"]["detail"], st
    assert st["installed"] is False and st["pam_services"] == {}


def test_the_installed_common_auth_lets_the_owner_in_and_falls_through_to_pam_unix(daemons, owner, pam_service,
                                                                                    tmp_path):
    """What `system install` writes, run for real: its common-auth (pam-auth-update's jumps, pam_deny, pam_unix)
    as a PAM service pointing at the daemon. Listed in services= → the face lets the owner in; switched off → the
    face is not tried and pam_unix asks for a password (none given here: failure)."""
    import os
    import re
    import subprocess
    import sys

    if not os.access("/usr/sbin/pam-auth-update", os.X_OK):
        pytest.skip("needs Debian's pam-auth-update")
    d = daemons.on(need("liveness", "webcam-replay", "real.mov"))
    root = tmp_path / "root"
    for rel in ("etc/pam.d", "usr/share/pam-configs", "var/lib/pam"):
        if Path("/" + rel).is_dir():
            shutil.copytree("/" + rel, root / rel, symlinks=True)
    svc = pam_service(["# filled below"])

    def install(*switches: str) -> None:
        r = subprocess.run([sys.executable, "-m", "faceunlock", "system", "install", "--root", str(root), "--systemd",
                            "no", "--socket", str(d.socket_path), "--timeout", str(TIMEOUT), *switches],
                           capture_output=True, text=True, timeout=300)  # fmt: skip
        assert r.returncode == 0, r.stdout + r.stderr
        module = next(root.glob("**/security/pam_faceunlock.so"))
        common = (root / "etc/pam.d/common-auth").read_text()
        assert "pam_faceunlock.so" in common
        svc.path.write_text(re.sub(r"(?<=\s)pam_faceunlock\.so(?=\s)", str(module), common))
        assert str(module) in svc.path.read_text()

    install("--enable", svc.name)
    r = pamtester(svc.name, owner.name)
    assert r.ok and LOOKING in r.out, r.out
    install("--disable", svc.name)
    r = pamtester(svc.name, owner.name)
    assert not r.ok and LOOKING not in r.out and "Password:" in r.out, r.out  # straight to pam_unix


def replay_frames(dst: Path) -> Path:
    """fake.mp4 from frame 30 on, decoded and saved losslessly: before frame 27 the presenter's own live face is
    the one in view (a live owner, rightly accepted); PAM cannot ask for a frame range, so the camera is made to
    show the replay only."""
    from PIL import Image

    from faceunlock.capture import open_source

    dst.mkdir(exist_ok=True)
    with open_source(str(need("liveness", "webcam-replay", "fake.mp4")), skip=30) as src:
        for i, frame in enumerate(src):
            Image.fromarray(frame).save(dst / f"frame_{i:03d}.png")
    assert len(list(dst.iterdir())) > 100
    return dst


def test_phone_replay_of_the_owner_is_refused(daemons, owner, pam_service):
    d = daemons.on(replay_frames(daemons.dir / "replay"))
    mark = _log_size(d)
    r = pamtester(face_service(pam_service, d).name, owner.name)
    assert not r.ok and AUTH_ERR in r.out, r.out
    assert r.seconds < TIMEOUT, "it must be refused, not time out"
    assert f"AUTH {owner.name}: FAIL" in _log_since(d, mark, wait_for=f"AUTH {owner.name}: ")


def test_a_busy_camera_sends_the_next_caller_to_the_password_at_once(daemons, owner, pam_service):
    """While one attempt holds the camera, a second PAM caller gets UNAVAIL busy at once (Howdy hung or waited out
    its timeout there), i.e. the password prompt, not a wait."""
    import socket

    d = daemons.on(need("lfw-dev", "Tony_Blair"))
    probe = face_service(pam_service, d, probe=True)
    mark = _log_size(d)
    with socket.socket(socket.AF_UNIX) as first:
        first.connect(str(d.socket_path))
        first.sendall(f"AUTH 1 {owner.name}\n".encode())
        first.settimeout(60)
        got = b""
        while b"Looking for your face" not in got:
            chunk = first.recv(1024)
            assert chunk, f"the first attempt ended before it took the camera: {got!r}"
            got += chunk
        r = pamtester(probe.name, owner.name)
        first.settimeout(0.0)
        try:
            got += first.recv(4096)
        except BlockingIOError:
            pass
        finals = [w for w in (b"\nOK ", b"\nFAIL ", b"\nUNAVAIL ") if w in b"\n" + got]
        assert not finals, f"the first attempt had already ended ({got!r}): the camera was not busy"
    assert AUTHINFO_UNAVAIL in r.out and r.seconds < 2.0, (r.out, r.seconds)
    log = _log_since(d, mark, wait_for="hung up")
    # the second caller's UNAVAIL came while the first attempt still ran (it ended only when we hung up)
    assert log.index(f"AUTH {owner.name}: UNAVAIL") < log.index(f"AUTH {owner.name}: hung up"), log


def test_a_stranger_in_front_of_the_camera_is_refused(daemons, owner, pam_service):
    d = daemons.on(need("lfw-dev", "Tony_Blair"))
    mark = _log_size(d)
    r = pamtester(face_service(pam_service, d).name, owner.name)
    assert not r.ok and AUTH_ERR in r.out, r.out
    assert r.seconds < TIMEOUT, "it must be refused, not time out"
    assert f"AUTH {owner.name}: FAIL" in _log_since(d, mark, wait_for=f"AUTH {owner.name}: ")


def _log_size(d: Daemon) -> int:
    return len(d.log.read_bytes())


def _log_since(d: Daemon, mark: int, wait_for: str = "", wait_s: float = 10.0) -> str:
    """The daemon's log after `mark`; with wait_for, wait a little for that line (it logs after answering)."""
    import time

    deadline = time.monotonic() + wait_s
    while True:
        text = d.log.read_bytes()[mark:].decode(errors="replace")
        if not wait_for or wait_for in text or time.monotonic() > deadline:
            return text
        time.sleep(0.1)

