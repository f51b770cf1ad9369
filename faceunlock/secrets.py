"""Secrets in the OS keyring (Secret Service via `keyring`): the template-store key and the fallback password.

Why the keyring: the store key must not sit next to the files it protects, and the keyring is unlocked by the
user's login, so another account (or a copied disk image) cannot read it. There is deliberately NO plaintext
fallback: if no secure keyring is available we stop with an actionable `KeyringError`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

import keyring
import keyring.core
import keyring.errors
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null

from faceunlock.errors import InvalidInput, KeyringError, KeyringLocked, KeyringUnavailable

SERVICE = "faceunlock"
STORE_KEY_USER = "store-key"
PASSWORD_USER = "fallback-password"
KEY_BYTES = 32  # AES-256

# scrypt cost: n=2**17, r=8, p=1 (OWASP's current minimum for scrypt) → 128 MiB and a few hundred ms per guess
# on one core. The parameters are recorded in each hash, and an older, weaker hash (faceunlock before this used
# n=2**14) is re-hashed with these on the next correct password (check_password).
SCRYPT_N = 2**17
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
DKLEN = 32
# Upper bounds on parameters read back from the keyring, so a tampered record cannot make us allocate gigabytes.
_MAX_N, _MAX_R, _MAX_P = 2**20, 32, 16

_NO_KEYRING = (
    "No secure OS keyring is available. Start gnome-keyring (or another Secret Service provider such as "
    "KeePassXC or KWallet) in your desktop session, e.g. `gnome-keyring-daemon --start --components=secrets`, "
    "and make sure DBUS_SESSION_BUS_ADDRESS is set (apt install gnome-keyring dbus-x11). "
    "faceunlock never stores its keys in plaintext."
)
_LOCKED = (
    "The OS keyring is locked: unlock it (log in to the desktop session again, or unlock the 'Login' keyring "
    "in Seahorse / `gnome-keyring-daemon --unlock`), then retry."
)


def _insecure(backend: KeyringBackend) -> bool:
    """True for backends that would silently lose or expose secrets (fail/null, keyrings.alt plaintext...)."""
    if isinstance(backend, fail.Keyring | null.Keyring):
        return True
    if isinstance(backend, chainer.ChainerBackend):
        members = backend.backends
        return not members or any(_insecure(b) for b in members)
    try:
        return not keyring.core.recommended(backend)  # priority < 1: keyring's own "not recommended"
    except Exception:  # a backend whose viability check raises is not usable
        return True


def _secure_members(backend: chainer.ChainerBackend) -> list[KeyringBackend]:
    return [b for b in backend.backends if not _insecure(b)]


def _backend() -> KeyringBackend:
    backend = _call(keyring.get_keyring)
    if isinstance(backend, chainer.ChainerBackend):
        # keyring chains every viable backend (e.g. Secret Service + keyrings.alt's plaintext file): use only the
        # best secure one, so a key is never read from or written to a weaker member.
        secure = _call(_secure_members, backend)
        if secure:
            return secure[0]
    if _insecure(backend):
        raise KeyringUnavailable(f"{_NO_KEYRING} (keyring backend in use: {backend!r})")
    return backend


def _call(fn, *args):
    """Run one keyring operation, mapping every failure to a KeyringError the user can act on."""
    try:
        return fn(*args)
    except KeyringError:
        raise
    except keyring.errors.KeyringLocked as e:
        raise KeyringLocked(_LOCKED) from e
    except keyring.errors.NoKeyringError as e:
        raise KeyringUnavailable(_NO_KEYRING) from e
    except Exception as e:  # D-Bus gone, InitError, PasswordSetError...: fail closed, never fall back
        raise KeyringUnavailable(f"The OS keyring failed ({type(e).__name__}: {e}). {_NO_KEYRING}") from e


def _get(username: str) -> str | None:
    backend = _backend()
    return _call(backend.get_password, SERVICE, username)


def _set(username: str, value: str) -> None:
    backend = _backend()
    _call(backend.set_password, SERVICE, username, value)
    # Read back: a backend that accepts writes but does not keep them must not leave us with an unsaved key.
    if _call(backend.get_password, SERVICE, username) != value:
        raise KeyringError(f"The OS keyring did not keep the {username!r} secret. {_NO_KEYRING}")


def _decode_key(stored: str) -> bytes:
    try:
        key = base64.b64decode(stored.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as e:
        raise KeyringError(
            f"The template-store key in the keyring ({SERVICE}/{STORE_KEY_USER}) is not valid base64: it was "
            "altered. Remove it (Seahorse) and re-enrol."
        ) from e
    if len(key) != KEY_BYTES:
        raise KeyringError(
            f"The template-store key in the keyring ({SERVICE}/{STORE_KEY_USER}) is {len(key)} bytes, expected "
            f"{KEY_BYTES}: it was altered. Remove it (Seahorse) and re-enrol."
        )
    return key


def get_or_create_store_key(create: bool = True) -> bytes:
    """The 32-byte AES key for the template store, kept base64 in the keyring; made on first use if `create`.

    With `create=False` a missing key is an error: used when templates already exist, so that a reset keyring
    is reported as such instead of silently minting a new key that cannot open the old files.
    """
    stored = _get(STORE_KEY_USER)
    if stored is not None:
        return _decode_key(stored)
    if not create:
        raise KeyringError(
            f"The template-store key ({SERVICE}/{STORE_KEY_USER}) is missing from the OS keyring (was the "
            "keyring reset or a different keyring unlocked?). Existing templates cannot be decrypted: remove "
            "them and enrol again."
        )
    _set(STORE_KEY_USER, base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii"))
    # Return what the keyring holds (not our local copy) so two racing first runs agree on one key.
    stored = _get(STORE_KEY_USER)
    if stored is None:
        raise KeyringError(f"The OS keyring did not keep the store key. {_NO_KEYRING}")
    return _decode_key(stored)


def scrypt_maxmem(n: int, r: int, p: int) -> int:
    """Memory OpenSSL must be allowed for these parameters: 128·r·(n+p+2) bytes plus slack. Its default cap is
    32 MiB, so without this n=2**17, r=8 (128 MiB) fails with 'memory limit exceeded'."""
    return 128 * r * (n + p + 2) + (1 << 20)


def _hash(pw: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(pw.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=DKLEN, maxmem=scrypt_maxmem(n, r, p))


def _encode_hash(pw: str) -> str:
    salt = os.urandom(SALT_BYTES)
    dk = _hash(pw, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    b64 = base64.b64encode
    return f"scrypt$n={SCRYPT_N},r={SCRYPT_R},p={SCRYPT_P}${b64(salt).decode()}${b64(dk).decode()}"


def _parse_hash(record: str) -> tuple[int, int, int, bytes, bytes]:
    """Split 'scrypt$n=..,r=..,p=..$salt$hash' (base64); KeyringError if it is not one of ours."""
    try:
        algo, params, salt_b64, dk_b64 = record.split("$")
        if algo != "scrypt":
            raise ValueError(f"unknown algorithm {algo!r}")
        kv = dict(item.split("=", 1) for item in params.split(","))
        n, r, p = int(kv["n"]), int(kv["r"]), int(kv["p"])
        if not (1 < n <= _MAX_N and n & (n - 1) == 0 and 0 < r <= _MAX_R and 0 < p <= _MAX_P):
            raise ValueError("parameters out of range")
        salt = base64.b64decode(salt_b64, validate=True)
        dk = base64.b64decode(dk_b64, validate=True)
        if len(salt) < SALT_BYTES or len(dk) != DKLEN:
            raise ValueError("bad salt or hash length")
    except (ValueError, KeyError) as e:
        raise KeyringError(
            f"The fallback-password record in the keyring ({SERVICE}/{PASSWORD_USER}) is malformed ({e}); "
            "set the password again."
        ) from e
    return n, r, p, salt, dk


def set_password(pw: str) -> None:
    """Store a salted scrypt hash of the fallback password (never the password) in the keyring."""
    if not isinstance(pw, str) or not pw:
        raise InvalidInput("the fallback password must not be empty")
    _set(PASSWORD_USER, _encode_hash(pw))


def has_password() -> bool:
    """Whether a fallback password has been set (the lock screen needs one before it may lock)."""
    return _get(PASSWORD_USER) is not None


def check_password(pw: str) -> bool:
    """True if `pw` matches the stored hash (constant-time compare); False if wrong, empty or none is set.

    A hash made with weaker parameters than today's (e.g. n=2**14 from before) is re-hashed with today's after a
    successful check, so stored hashes follow the current cost without anyone setting the password again. A
    failed re-hash write (keyring gone mid-way) does not turn a correct password into a refusal.
    """
    if not isinstance(pw, str) or not pw:
        return False
    record = _get(PASSWORD_USER)
    if record is None:
        return False
    n, r, p, salt, dk = _parse_hash(record)
    ok = hmac.compare_digest(_hash(pw, salt, n, r, p), dk)
    if ok and needs_upgrade(record):
        try:
            _set(PASSWORD_USER, _encode_hash(pw))
        except KeyringError:
            pass  # the old hash still works; the upgrade is retried on the next correct password
    return ok


def needs_upgrade(record: str) -> bool:
    """Whether a stored hash record uses weaker scrypt parameters than today's."""
    n, r, p, _, _ = _parse_hash(record)
    return n < SCRYPT_N or r < SCRYPT_R or p < SCRYPT_P
