"""Attack (issue 9.11): fallback-password hashes made at n=2**14 are cheap to guess offline (~0.06 s a guess on
one core) once someone copies the keyring record. Current guidance is n=2**17, r=8, p=1 (~0.5 s, 128 MiB); a record
from before is re-hashed at the next correct password, and the owner's password still opens it."""

from __future__ import annotations

import base64
import os

import keyring
import pytest

from faceunlock import secrets
from tests.test_secrets import kr  # noqa: F401  (the shared real keyring, without faceunlock's secrets)


@pytest.mark.usefixtures("kr")
def test_hash_from_the_previous_release_is_upgraded_to_n_2_17():
    """Issue 9.11: a record written at n=2**14 (every install before this) still opens, and the next correct
    password rewrites it at n=2**17 (which needs hashlib's maxmem raised above OpenSSL's 32 MiB default)."""
    salt = os.urandom(16)
    b64 = base64.b64encode
    old = f"scrypt$n=16384,r=8,p=1${b64(salt).decode()}${b64(secrets._hash('correct horse', salt, 2**14, 8, 1)).decode()}"
    keyring.set_password("faceunlock", "fallback-password", old)
    assert secrets.needs_upgrade(old)
    assert secrets.check_password("correct horse") is True
    new = keyring.get_password("faceunlock", "fallback-password")
    assert new != old and new.startswith("scrypt$n=131072,r=8,p=1$") and not secrets.needs_upgrade(new)
    n, r, p, salt2, dk = secrets._parse_hash(new)
    assert (n, r, p) == (2**17, 8, 1) and salt2 != salt
    assert secrets.check_password("correct horse") is True and secrets.check_password("correct horsE") is False
    assert secrets.scrypt_maxmem(2**17, 8, 1) >= 128 * 2**20
