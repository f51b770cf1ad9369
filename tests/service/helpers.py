"""A real faceunlockd process on a temp socket and state dir, throwaway OS accounts, and a stdlib client for uids
that cannot run the venv (its python lives under /root/.pyenv, 0700)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3"
NOBODY = 65534

# Speaks the protocol with the standard library only: `python3 RAW SOCKET LINE [ANSWER …]`; each ANSWER is sent
# after the next PASSWORD line. Prints every line the daemon sent.
RAW_CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(120); s.connect(sys.argv[1])
s.sendall((sys.argv[2] + "\n").encode()); answers = list(sys.argv[3:]); f = s.makefile("rb")
for raw in f:
    line = raw.decode().rstrip("\n"); print(line, flush=True)
    if line.startswith("PASSWORD") and answers:
        s.sendall(("PASS " + answers.pop(0) + "\n").encode())
"""


def need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("the daemon tests run as root (SO_PEERCRED as uid 0, other uids via setpriv)")


def public_dir(prefix: str) -> Path:
    """A 0755 temp folder under /tmp: other uids can reach the socket in it (pytest's tmp_path is 0700)."""
    d = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    d.chmod(0o755)
    return d


@contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A `public_dir` for one test or fixture, removed afterwards."""
    d = public_dir(prefix)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


class Daemon:
    """`faceunlock daemon …` in a subprocess; ready once its socket answers STATUS."""

    def __init__(self, base: Path, source: Path | str, state: Path | None = None, *extra: str) -> None:
        self.base = base
        self.socket = base / "faceunlockd.sock"
        self.state = state or base / "state"
        self.log = base / "daemon.log"
        self.source, self.extra = str(source), list(extra)
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 180) -> Daemon:
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        cmd = [sys.executable, "-m", "faceunlock", "daemon", "--socket", str(self.socket), "--state-dir",
               str(self.state), "--source", self.source, *self.extra]  # fmt: skip
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}:\n{self.log.read_text()}")
            if self.socket.exists():
                try:
                    if request(self.socket, "STATUS 1")[-1].startswith("OK"):
                        return self
                except OSError:
                    pass
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"daemon not ready in {timeout} s:\n{self.log.read_text()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> Daemon:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def request(path: Path, line: str, timeout: float = 120) -> list[str]:
    """Send one request as this process (root) and return every line of the answer."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        s.sendall((line + "\n").encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data.decode().splitlines()


def as_uid(uid: int, *cmd: str, gid: int | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    gid = uid if gid is None else gid
    return subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *cmd],
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def raw_as(uid: int, sock: Path, line: str, *answers: str, gid: int | None = None) -> list[str]:
    """The answer lines to `line` sent by `uid` through /usr/bin/python3 (stdlib only)."""
    r = as_uid(uid, SYSTEM_PYTHON, "-c", RAW_CLIENT, str(sock), line, *answers, gid=gid)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


@contextmanager
def account(password: str | None = None):
    """A throwaway OS account (no home); yields (name, uid, gid); removed afterwards."""
    name = "fu" + uuid.uuid4().hex[:10]
    subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", name], check=True, capture_output=True)
    try:
        if password is not None:
            subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True, capture_output=True)
        import pwd

        pw = pwd.getpwnam(name)
        yield name, pw.pw_uid, pw.pw_gid
    finally:
        subprocess.run(["userdel", name], capture_output=True)


def cli(*args: str | Path, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", **(env or {}))
    return subprocess.run([sys.executable, "-m", "faceunlock", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def copy_state(src_base: Path, dst_base: Path) -> Path:
    """The state folder and its key (`state.key` beside it) copied, so one test's failures stay its own."""
    shutil.copytree(src_base / "state", dst_base / "state", symlinks=True)
    shutil.copy2(src_base / "state.key", dst_base / "state.key")
    return dst_base / "state"
