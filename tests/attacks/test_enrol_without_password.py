"""Issue 9.6: `faceunlock enroll alice --source strangers --label glasses` made a stranger unlock as alice, and the
fallback password could be replaced without the old one.

Through the real CLI with the real keyring (a private gnome-keyring): the first enrolment sets the fallback
password (no terminal and no --password-stdin → exit 2, nothing written); adding a stranger's face to an
enrolled user needs the password — none given → exit 2, a wrong one → exit 1, counted against the lockout, and
the templates stay byte-for-byte what they were; the owner, with the password, still adds an appearance (and
the count resets); `faceunlock password` needs the current password to change it.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import keyring
import keyring.errors
import pytest

from faceunlock import secrets
from faceunlock.lockout import Lockout
from faceunlock.store import TemplateStore
from tests.shared_data import need

PASSWORD = "correct horse"
REPO = Path(__file__).resolve().parents[2]


def cli(*args: str | Path, home: Path, stdin: str | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    """The real `faceunlock` in a subprocess; never a terminal (stdin is the given text or /dev/null)."""
    cmd = [sys.executable, "-m", "faceunlock", "--home", str(home), *map(str, args)]
    kw = {"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO, env=dict(os.environ), **kw)


def forget_password() -> None:
    with contextlib.suppress(keyring.errors.PasswordDeleteError):
        keyring.delete_password(secrets.SERVICE, secrets.PASSWORD_USER)


@pytest.fixture
def clean_keyring(keyring_session):
    forget_password()
    yield keyring_session
    forget_password()


def failures(home: Path) -> int:
    """Consecutive failures recorded in `home`'s lockout state (a property or a method, whichever it is)."""
    n = Lockout(home / "data" / "lockout.json").failures
    return n() if callable(n) else n


def strangers() -> list[Path]:
    root = need("samples", "face_recognition", "knn_examples", "train")
    return sorted(p for d in ("biden", "obama") for p in (root / d).iterdir() if p.suffix.lower() in (".jpg", ".png"))[:6]


def enrol_args(*extra: str | Path) -> list[str | Path]:
    return ["enroll", "alice", "--weights", "dlib-resnet34", "--frames", "6", "--max-frames", "40", "--json", *extra]


def test_enrolling_over_an_enrolled_user_needs_the_fallback_password(clean_keyring, fu_home):
    real = need("liveness", "webcam-replay", "real.mov")
    store_file = TemplateStore(fu_home / "data" / "templates").path("alice")

    # First enrolment: no password set yet → it must set one; without a terminal or stdin that is an error.
    r = cli(*enrol_args("--source", real), home=fu_home)
    assert r.returncode == 2 and "--password-stdin" in r.stderr, r.stderr
    assert not store_file.exists() and not secrets.has_password()
    r = cli(*enrol_args("--source", real, "--password-stdin"), home=fu_home, stdin="short\n")
    assert r.returncode == 2 and "at least 6" in r.stderr and not store_file.exists()

    r = cli(*enrol_args("--source", real, "--password-stdin"), home=fu_home, stdin=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["password_set"] is True
    assert secrets.check_password(PASSWORD)
    before = store_file.read_bytes()

    # The attack: a stranger's photos added as a new appearance of alice.
    r = cli(*enrol_args("--source", *strangers(), "--label", "glasses"), home=fu_home)
    assert r.returncode == 2 and "password" in r.stderr, r.stderr
    r = cli(*enrol_args("--source", *strangers(), "--label", "glasses", "--password-stdin"), home=fu_home,
            stdin="guess123\n")  # fmt: skip
    assert r.returncode == 1 and "wrong fallback password" in r.stderr, r.stderr
    r = cli(*enrol_args("--source", *strangers(), "--replace", "--password-stdin"), home=fu_home, stdin="guess456\n")
    assert r.returncode == 1, r.stderr
    assert store_file.read_bytes() == before  # nothing was written
    assert failures(fu_home) == 2  # both guesses counted

    # The owner, with the password, adds an appearance; the right password resets the count.
    r = cli(*enrol_args("--source", real, "--label", "second", "--password-stdin"), home=fu_home,
            stdin=PASSWORD + "\n")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["password_set"] is False
    assert failures(fu_home) == 0
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FACEUNLOCK_HOME", str(fu_home))
        labels = [e.label for e in TemplateStore().load("alice").entries]
    assert labels == ["default", "second"]


def test_changing_the_fallback_password_needs_the_current_one(clean_keyring, fu_home):
    secrets.set_password(PASSWORD)
    r = cli("password", "--password-stdin", home=fu_home, stdin="not-it-at-all\nattacker-pw\n")
    assert r.returncode == 1 and "wrong fallback password" in r.stderr, r.stderr
    assert secrets.check_password(PASSWORD) and not secrets.check_password("attacker-pw")
    assert failures(fu_home) == 1
    r = cli("password", home=fu_home)  # no terminal, no stdin: cannot ask
    assert r.returncode == 2 and secrets.check_password(PASSWORD)

    r = cli("password", "--password-stdin", home=fu_home, stdin=f"{PASSWORD}\nbattery staple\n")
    assert r.returncode == 0, r.stderr
    assert secrets.check_password("battery staple") and not secrets.check_password(PASSWORD)
    assert failures(fu_home) == 0
