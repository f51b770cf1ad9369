"""faceunlock.secrets against a real gnome-keyring (private D-Bus session): store key and fallback password."""

from __future__ import annotations

import base64
import contextlib
import os
import subprocess
import sys
from pathlib import Path

import keyring
import keyring.errors
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import null

from faceunlock import secrets
from faceunlock.errors import KeyringError
from tests.keyring_session import _reinit_keyring, private_keyring

REPO = Path(__file__).resolve().parents[1]


def forget_secrets() -> None:
    for user in (secrets.STORE_KEY_USER, secrets.PASSWORD_USER):
        with contextlib.suppress(keyring.errors.PasswordDeleteError):
            keyring.delete_password(secrets.SERVICE, user)


@pytest.fixture
def kr(keyring_session):
    """The shared real keyring, with no faceunlock secrets before and after the test."""
    forget_secrets()
    yield keyring_session
    _reinit_keyring()  # undo any set_keyring() a test made
    forget_secrets()


# -- store key -------------------------------------------------------------------------------------------------
def test_store_key_round_trip_through_real_keyring(kr):
    assert type(keyring.get_keyring()).__module__ == "keyring.backends.SecretService"
    key = secrets.get_or_create_store_key()
    assert isinstance(key, bytes) and len(key) == 32
    assert secrets.get_or_create_store_key() == key
    assert secrets.get_or_create_store_key(create=False) == key
    stored = keyring.get_password("faceunlock", "store-key")
    assert base64.b64decode(stored) == key


def test_store_key_missing_and_create_false_is_an_error(kr):
    with pytest.raises(KeyringError, match="missing"):
        secrets.get_or_create_store_key(create=False)
    assert keyring.get_password("faceunlock", "store-key") is None  # nothing minted


@pytest.mark.parametrize(
    "stored, match",
    [(base64.b64encode(b"x" * 16).decode(), "16 bytes"), ("not base64!!", "base64"), ("", "0 bytes")],
)
def test_store_key_of_wrong_size_or_garbage_is_an_error(kr, stored, match):
    keyring.set_password("faceunlock", "store-key", stored)
    with pytest.raises(KeyringError, match=match):
        secrets.get_or_create_store_key()
    assert keyring.get_password("faceunlock", "store-key") == stored  # never silently replaced


def test_fail_backend_raises_actionable_error_and_writes_nothing(kr, fu_home, monkeypatch):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    _reinit_keyring()
    with pytest.raises(KeyringError, match="gnome-keyring") as exc:
        secrets.get_or_create_store_key()
    assert "plaintext" in str(exc.value)
    with pytest.raises(KeyringError):
        secrets.set_password("hunter2")
    assert [p for p in fu_home.rglob("*") if p.is_file()] == []


def test_null_backend_is_refused(kr):
    keyring.set_keyring(null.Keyring())  # accepts writes and forgets them: a key would be lost
    with pytest.raises(KeyringError, match="Secret Service"):
        secrets.get_or_create_store_key()


class _PlaintextLike(KeyringBackend):
    """Stands in for keyrings.alt's PlaintextKeyring: viable but 'not recommended' (priority < 1).

    Its __init__ takes an argument so that keyring's backend discovery (which instantiates every registered
    subclass without arguments) skips it and does not chain it into the other tests' keyring.
    """

    priority = 0.5

    def __init__(self, data: dict) -> None:
        super().__init__()
        self.data = data

    def get_password(self, service, username):
        return self.data.get((service, username))

    def set_password(self, service, username, password):
        self.data[(service, username)] = password

    def delete_password(self, service, username):
        self.data.pop((service, username), None)


def test_not_recommended_backend_is_refused(kr):
    backend = _PlaintextLike({})
    keyring.set_keyring(backend)
    with pytest.raises(KeyringError):
        secrets.get_or_create_store_key()
    assert backend.data == {}


def _run_isolated(tmp_path: Path, code: str, **env: str) -> subprocess.CompletedProcess:
    base = {
        k: v for k, v in os.environ.items() if k not in ("PYTHON_KEYRING_BACKEND", "DBUS_SESSION_BUS_ADDRESS")
    }
    base.update(HOME=str(tmp_path / "home"), FACEUNLOCK_HOME=str(tmp_path / "fu"), PYTHONPATH=str(REPO))
    base.update(
        {k: str(tmp_path / k.lower()) for k in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME")}
    )
    base.update(env)
    return subprocess.run(
        [sys.executable, "-c", code], env=base, capture_output=True, text=True, timeout=60, check=False
    )


def test_no_session_bus_in_a_fresh_process_raises_and_writes_no_plaintext(tmp_path):
    """What a user without a running keyring sees: auto-detection finds nothing → KeyringError, no files."""
    code = (
        "import numpy as np\n"
        "from faceunlock.errors import KeyringError\n"
        "from faceunlock.store import TemplateStore, TemplateEntry\n"
        "e = TemplateEntry.create(np.ones((1, 4)), 'vggface2', 'a' * 64)\n"
        "try:\n"
        "    TemplateStore().put_appearance('alice', e)\n"
        "except KeyringError as err:\n"
        "    print('KEYRINGERROR', err)\n"
        "    raise SystemExit(3)\n"
    )
    r = _run_isolated(tmp_path, code, DBUS_SESSION_BUS_ADDRESS=f"unix:path={tmp_path}/no-such-bus")
    assert r.returncode == 3, r.stdout + r.stderr
    assert "KEYRINGERROR" in r.stdout and "gnome-keyring" in r.stdout
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written == [], written


def test_locked_keyring_is_reported_as_locked(kr, tmp_path):
    """A second private gnome-keyring whose login collection we lock (as the desktop does on screen lock);
    with no display the unlock prompt is dismissed at once, so keyring raises KeyringLocked."""
    with private_keyring(tmp_path / "locked") as locked:
        secrets.get_or_create_store_key()  # works while unlocked
        locked.lock()
        assert locked.is_locked()
        with pytest.raises(KeyringError, match="locked"):
            secrets.get_or_create_store_key()
        with pytest.raises(KeyringError, match="locked"):
            secrets.has_password()
    # back on the shared session: still usable
    assert len(secrets.get_or_create_store_key()) == 32


# -- fallback password -----------------------------------------------------------------------------------------
def test_password_round_trip(kr):
    assert not secrets.has_password()
    assert secrets.check_password("correct horse") is False  # none set: fail closed
    secrets.set_password("correct horse")
    assert secrets.has_password()
    assert secrets.check_password("correct horse") is True
    assert secrets.check_password("correct horsE") is False
    assert secrets.check_password("") is False


def test_password_is_stored_as_salted_scrypt_hash(kr):
    secrets.set_password("correct horse")
    first = keyring.get_password("faceunlock", "fallback-password")
    assert "correct horse" not in first
    assert first.startswith("scrypt$n=131072,r=8,p=1$")  # issue 9.11: current guidance, 128 MiB per guess
    secrets.set_password("correct horse")
    second = keyring.get_password("faceunlock", "fallback-password")
    assert first != second  # fresh 16-byte salt every time
    salt = base64.b64decode(second.split("$")[2])
    assert len(salt) == 16


def test_empty_password_rejected(kr):
    with pytest.raises(ValueError):
        secrets.set_password("")
    assert not secrets.has_password()


def test_weaker_hash_is_upgraded_after_successful_check(kr):
    salt = os.urandom(16)
    dk = secrets._hash("pw", salt, 2**10, 8, 1)
    b64 = base64.b64encode
    old = f"scrypt$n=1024,r=8,p=1${b64(salt).decode()}${b64(dk).decode()}"
    keyring.set_password("faceunlock", "fallback-password", old)
    assert secrets.check_password("nope") is False
    assert keyring.get_password("faceunlock", "fallback-password") == old  # no upgrade on failure
    assert secrets.check_password("pw") is True
    assert keyring.get_password("faceunlock", "fallback-password").startswith("scrypt$n=131072,r=8,p=1$")
    assert secrets.check_password("pw") is True


@pytest.mark.parametrize(
    "record",
    [
        "plaintext-password",
        "bcrypt$x$y$z",
        "scrypt$n=1073741824,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 44,
    ],
)
def test_malformed_or_hostile_hash_record_is_an_error(kr, record):
    keyring.set_password("faceunlock", "fallback-password", record)
    with pytest.raises(KeyringError, match="malformed"):
        secrets.check_password("plaintext-password")


def test_a_keyring_daemon_that_died_is_revived_with_the_same_secrets(kr):
    """The test harness's own safety net (tests/conftest.py `_keyring_still_up`): gnome-keyring sometimes aborts on
    a busy machine; the restarted daemon must serve the secrets stored before."""
    import keyring

    keyring.set_password("faceunlock-test-revive", "alice", "s3cret")
    kr.daemon.kill()
    kr.daemon.wait(5)
    assert kr.revive() is True
    assert keyring.get_password("faceunlock-test-revive", "alice") == "s3cret"
    assert kr.revive() is False  # running: nothing to do
