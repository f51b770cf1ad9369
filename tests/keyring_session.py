"""A real gnome-keyring in a private D-Bus session, so tests exercise the Secret Service for real and never
touch the developer's own keyring. Used by the `keyring_session` fixture in conftest.py."""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

APT_HINT = "sudo apt-get install -y gnome-keyring dbus-x11"
PASSWORD = "test-login-password"
# No <servicedir>: nothing is D-Bus-activated behind our back (a stray, locked gnome-keyring or a GUI prompter).
_DBUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={dir}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""
# Variables a session-wide keyring depends on; all saved and restored.
_ENV_KEYS = (
    "HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS",
    "PYTHON_KEYRING_BACKEND", "DISPLAY", "WAYLAND_DISPLAY", "GNOME_KEYRING_CONTROL",
)  # fmt: skip


def isolate_from_user_keyring() -> None:
    """Point `keyring` at its fail backend for the whole test run: a test that forgets the `keyring_session`
    fixture gets a KeyringError instead of writing into the developer's real keyring."""
    os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    _reinit_keyring()


def _reinit_keyring() -> None:
    import keyring.backend
    import keyring.core

    # keyring picks its backend (and caches which backends are viable) once per process: forget both.
    with contextlib.suppress(AttributeError, KeyError):
        keyring.backend.get_all_keyring.reset()
    keyring.core.init_backend()


def _die_with_parent() -> None:
    """Child-side: get SIGTERM if pytest dies, so no daemons outlive a killed test run (Linux only)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class KeyringSession:
    root: Path
    address: str
    dbus: subprocess.Popen
    daemon: subprocess.Popen
    password: str
    env: dict[str, str] = field(default_factory=dict)
    revived: int = 0

    def revive(self, timeout: float = 20.0) -> bool:
        """Start gnome-keyring-daemon again if it died; True if it had to. gnome-keyring itself sometimes aborts
        (GLib "invoke_get_property_in_idle_cb: assertion failed" when a client goes away mid-call, seen on a busy
        machine); the collection is on disk under this session's XDG_DATA_HOME, so the new daemon, unlocked with
        the same password, serves the same secrets and later tests see the keyring the session promised."""
        if self.daemon.poll() is None:
            return False
        self.daemon = _start_gnome_keyring(self.root, self.env, self.password)
        _wait_unlocked_default(timeout)
        _reinit_keyring()
        self.revived += 1
        return True

    def lock(self) -> None:
        """Lock the default collection, as the desktop does on screen lock or timeout."""
        import secretstorage

        conn = secretstorage.dbus_init()
        try:
            secretstorage.get_collection_by_alias(conn, "default").lock()
        finally:
            conn.close()

    def is_locked(self) -> bool:
        import secretstorage

        conn = secretstorage.dbus_init()
        try:
            return secretstorage.get_collection_by_alias(conn, "default").is_locked()
        finally:
            conn.close()


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def _read_address(proc: subprocess.Popen, timeout: float) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        raise RuntimeError("dbus-daemon did not print its address")
    line = proc.stdout.readline().decode().strip()
    if not line:
        raise RuntimeError(f"dbus-daemon exited (rc={proc.poll()}) without an address")
    return line


def _wait_unlocked_default(timeout: float) -> None:
    """Until gnome-keyring owns org.freedesktop.secrets and its 'login' collection is the unlocked default."""
    import secretstorage
    from secretstorage.exceptions import SecretStorageException

    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            conn = secretstorage.dbus_init()
            try:
                if not secretstorage.get_collection_by_alias(conn, "default").is_locked():
                    return
            finally:
                conn.close()
        except (SecretStorageException, OSError, ConnectionError) as e:
            last = e
        time.sleep(0.05)
    raise RuntimeError(f"gnome-keyring did not come up unlocked within {timeout} s ({last!r})")


def _start_gnome_keyring(root: Path, env: dict[str, str], password: str) -> subprocess.Popen:
    with open(root / "gnome-keyring.log", "ab") as log:  # the child keeps its own copy of the fd
        daemon = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, env=env, preexec_fn=_die_with_parent,
        )  # fmt: skip
    daemon.stdin.write(password.encode())
    daemon.stdin.close()  # --unlock reads the login password up to EOF
    return daemon


@contextlib.contextmanager
def private_keyring(root: Path, password: str = PASSWORD, timeout: float = 20.0) -> Iterator[KeyringSession]:
    """Start dbus-daemon + gnome-keyring-daemon (unlocked with `password`) under `root`, point this process
    (os.environ, so subprocesses too) and `keyring` at them; restore everything and kill both on exit."""
    missing = [exe for exe in ("dbus-daemon", "gnome-keyring-daemon") if shutil.which(exe) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed; the keyring tests need a real one: {APT_HINT}")
    root = Path(root)
    dirs = {k: root / k.lower() for k in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME")}
    # Sockets live here: keep the path short (108-byte limit on unix socket paths; pytest's tmp paths are long).
    dirs["XDG_RUNTIME_DIR"] = Path(tempfile.mkdtemp(prefix="fu-kr-"))
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
    conf = root / "dbus.conf"
    conf.write_text(_DBUS_CONFIG.format(dir=dirs["XDG_RUNTIME_DIR"]))

    saved = {k: os.environ.get(k) for k in _ENV_KEYS}
    child_env = {k: v for k, v in os.environ.items() if k not in _ENV_KEYS}
    child_env.update({k: str(v) for k, v in dirs.items()})
    dbus = daemon = session = None
    try:
        with open(root / "dbus.log", "wb") as dbus_log:  # the child keeps its own copy of the fd
            dbus = subprocess.Popen(
                ["dbus-daemon", "--nofork", f"--config-file={conf}", "--print-address=1"],
                stdout=subprocess.PIPE, stderr=dbus_log, stdin=subprocess.DEVNULL, env=child_env,
                preexec_fn=_die_with_parent,
            )  # fmt: skip
        address = _read_address(dbus, timeout)
        child_env["DBUS_SESSION_BUS_ADDRESS"] = address
        daemon = _start_gnome_keyring(root, child_env, password)

        for k in _ENV_KEYS:
            os.environ.pop(k, None)
        os.environ.update({k: v for k, v in child_env.items() if k in _ENV_KEYS})
        try:
            _wait_unlocked_default(timeout)
        except RuntimeError as e:
            log_text = (root / "gnome-keyring.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{e}; gnome-keyring-daemon rc={daemon.poll()}, log:\n{log_text}") from e
        _reinit_keyring()
        import keyring
        from keyring.backends import SecretService

        backend = keyring.get_keyring()
        if not isinstance(backend, SecretService.Keyring):
            raise RuntimeError(f"keyring chose {backend!r}, not the Secret Service backend")
        session = KeyringSession(root, address, dbus, daemon, password, env=dict(child_env))
        yield session
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        _stop(session.daemon if session is not None else daemon)  # a revived daemon is the one to stop
        _stop(dbus)
        if dbus is not None and dbus.stdout:
            dbus.stdout.close()
        shutil.rmtree(dirs["XDG_RUNTIME_DIR"], ignore_errors=True)
        _reinit_keyring()
