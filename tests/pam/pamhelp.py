"""Helpers for the PAM tests: build the module, write throwaway PAM services, run pamtester, run the daemon.

Everything here is the real thing: the C module built by make, libpam reading a service file under /etc/pam.d,
pamtester (Debian's) driving it, and `faceunlock daemon` as a separate process.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# FACEUNLOCK_PAM_MODULE: run the same tests against another build, e.g. `make -C pam asan` with
# FACEUNLOCK_PAM_PRELOAD=$(gcc -print-file-name=libasan.so) (preloaded into pamtester only)
MODULE = Path(os.environ.get("FACEUNLOCK_PAM_MODULE") or REPO / "build" / "pam_faceunlock.so").resolve()

# pamtester prints pam_strerror() of the stack's result: with the module alone (`auth required`), that is the
# module's own return code.
SUCCESS = "successfully authenticated"
AUTH_ERR = "Authentication failure"
AUTHINFO_UNAVAIL = "Authentication service cannot retrieve authentication info"
IGNORED = "Permission denied"  # every module ignored: libpam's PAM_PERM_DENIED
LOOKING = "Looking for your face"


def need_root_and_tools() -> None:
    if os.geteuid() != 0:
        pytest.skip("PAM tests write /etc/pam.d/faceunlock-test-*: run as root (CI does)")
    for tool in ("pamtester", "make", "gcc"):
        if not any(os.access(os.path.join(d, tool), os.X_OK) for d in os.environ.get("PATH", "").split(":")):
            pytest.fail(f"{tool} is missing: run scripts/setup.sh (it installs pamtester, gcc, libpam0g-dev)")


def build_module() -> Path:
    """make -C pam (warnings are errors); a no-op when the .so is newer than the source."""
    target = ["asan"] if MODULE.parent.name == "asan" else []
    r = subprocess.run(["make", "-s", "-C", str(REPO / "pam"), *target], capture_output=True, text=True)
    assert r.returncode == 0, f"building the PAM module failed:\n{r.stdout}{r.stderr}"
    assert MODULE.is_file()
    return MODULE


class PamService:
    """/etc/pam.d/faceunlock-test-<random>: removed by close(), which the fixtures always call."""

    def __init__(self, lines: list[str]) -> None:
        self.name = f"faceunlock-test-{secrets.token_hex(4)}"
        self.path = Path("/etc/pam.d") / self.name
        self.path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")

    def close(self) -> None:
        self.path.unlink(missing_ok=True)


def stack(args: str, probe: bool = False) -> list[str]:
    """The stack of the issue (face sufficient, then pam_deny), or the module alone to read its own code."""
    face = f"{MODULE} {args}"
    return [f"auth required {face}"] if probe else [f"auth sufficient {face}", "auth required pam_deny.so"]


@dataclass
class PamResult:
    rc: int
    out: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.rc == 0 and SUCCESS in self.out


def pamtester(service: str, user: str, *items: str, as_uid: int | None = None, timeout: float = 120,
              op: str = "authenticate", extra_env: dict[str, str] | None = None) -> PamResult:
    """Run `pamtester [-I item=value …] SERVICE USER authenticate` with no SSH variables in its environment
    (plus `extra_env`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSH_")}
    env.update(extra_env or {})
    if os.environ.get("FACEUNLOCK_PAM_PRELOAD"):
        env["LD_PRELOAD"] = os.environ["FACEUNLOCK_PAM_PRELOAD"]
    cmd = ["pamtester"]
    for it in items:
        cmd += ["-I", it]
    cmd += [service, user, op]
    if as_uid is not None:
        cmd = ["setpriv", f"--reuid={as_uid}", f"--regid={as_uid}", "--clear-groups", *cmd]
    t = time.monotonic()
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, timeout=timeout)
    return PamResult(r.returncode, r.stdout + r.stderr, time.monotonic() - t)


def short_tmpdir() -> Path:
    """A 0700 folder with a short path (a Unix socket path must fit in 108 bytes)."""
    return Path(tempfile.mkdtemp(prefix="fu-pam-"))


class Account:
    """A throwaway OS account (useradd -M), deleted by close()."""

    def __init__(self, prefix: str = "fu") -> None:
        self.name = f"{prefix}-{secrets.token_hex(3)}"
        subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", self.name], check=True)
        import pwd

        self.uid = pwd.getpwnam(self.name).pw_uid

    def close(self) -> None:
        subprocess.run(["userdel", self.name], check=False, capture_output=True)


class Daemon:
    """`faceunlock daemon` on a temp socket and state dir with a recorded source, as its own process."""

    def __init__(self, socket_path: Path, state_dir: Path, source: Path, log: Path) -> None:
        self.socket_path = socket_path
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "faceunlock", "daemon", "--socket", str(socket_path), "--state-dir",
             str(state_dir), "--source", str(source)],
            stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env, cwd=REPO)  # fmt: skip
        deadline = time.monotonic() + 180
        while not socket_path.exists():
            if self.proc.poll() is not None:
                pytest.fail(f"the daemon exited ({self.proc.returncode}):\n{log.read_text()}")
            if time.monotonic() > deadline:
                self.close()
                pytest.fail(f"the daemon did not start in 180 s:\n{log.read_text()}")
            time.sleep(0.1)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.socket_path.unlink(missing_ok=True)


def serve_once_in_background(path: Path, answer: bytes | None, hold_s: float = 30.0, uid: int | None = None,
                             then_hold: bool = False):
    """A throwaway server (a separate /usr/bin/python3 process) that accepts connections on `path`, reads the
    request and writes `answer` (None: says nothing and holds the connection `hold_s`; then_hold: writes `answer`,
    then holds it, like a daemon stuck mid-attempt). With `uid`, it binds as
    root and drops to `uid` before listen(), so the socket file is root's but SO_PEERCRED names `uid`."""
    code = f"""
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind({str(path)!r})
uid = {uid!r}
if uid is not None:
    os.setgroups([]); os.setresgid(uid, uid, uid); os.setresuid(uid, uid, uid)
s.listen(8)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    c.settimeout(5)
    try:
        c.recv(1024)
    except OSError:
        pass
    answer = {answer!r}
    try:
        if answer is not None:
            c.sendall(answer)
        if answer is None or {then_hold!r}:
            time.sleep({hold_s!r})
    except OSError:
        pass  # the client hung up (as the module does when it does not trust us)
    c.close()
"""
    p = subprocess.Popen(["/usr/bin/python3", "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert line.strip() == "ready", p.stderr.read()
    return p


def daemon_is_listening(path: Path) -> bool:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        s.close()
