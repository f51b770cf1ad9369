"""The system store's AES-256 key: 32 random bytes in a root-only 0600 file kept apart from the data.

Apart, because a backup, a copy or a leak of the state folder must not carry the key that opens it (Visage keeps
both side by side). Default: /etc/faceunlock/store.key for the system state folder /var/lib/faceunlock; for any
other state folder `<state-dir>.key`, a sibling outside it. A key is minted only for an empty store: templates
without their key mean someone removed or replaced it, and the daemon says so instead of starting over.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from faceunlock.atomic import write_atomic
from faceunlock.service.trust import TrustError, check_trusted

KEY_BYTES = 32
SYSTEM_STATE_DIR = Path("/var/lib/faceunlock")
SYSTEM_KEY_FILE = Path("/etc/faceunlock/store.key")


def default_key_file(state_dir: Path) -> Path:
    state_dir = Path(os.path.abspath(state_dir))
    return SYSTEM_KEY_FILE if state_dir == SYSTEM_STATE_DIR else state_dir.with_name(state_dir.name + ".key")


def load_key(path: Path, store_empty: bool) -> bytes:
    """Read the key (refusing one others could read or change), or mint it when the store is empty."""
    path = Path(os.path.abspath(path))
    try:
        st = path.lstat()
    except FileNotFoundError:
        if not store_empty:
            raise TrustError(f"key file {path} is missing but templates exist: restore the key or remove the "
                             "templates and enrol again") from None  # fmt: skip
        return _mint(path)
    if not stat.S_ISREG(st.st_mode):
        raise TrustError(f"key file {path} is not a regular file")
    if st.st_uid != os.geteuid() or stat.S_IMODE(st.st_mode) & 0o077:
        raise TrustError(f"key file {path} must be owned by uid {os.geteuid()} with mode 0600 "
                         f"(is uid {st.st_uid}, mode {stat.S_IMODE(st.st_mode):o})")  # fmt: skip
    check_trusted(path.parent, "key folder")
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise TrustError(f"key file {path} holds {len(key)} bytes, expected {KEY_BYTES}")
    return key


def _mint(path: Path) -> bytes:
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    check_trusted(path.parent, "key folder")
    key = os.urandom(KEY_BYTES)
    write_atomic(path, key, mode=0o600)
    return key
