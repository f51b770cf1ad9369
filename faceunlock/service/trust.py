"""Which files the daemon may trust: owned by root (or the daemon's own uid) and writable by nobody else.

A model, calibration or key that a user can replace decides who gets in, so the daemon refuses to start on one.
Every folder above the file is checked too: a user who owns /opt/x can rename root's /opt/x/models away and put
their own in its place. A sticky world-writable folder owned by root (/tmp) is accepted as an ancestor because
others cannot rename entries they do not own there.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from faceunlock.errors import FaceUnlockError


class TrustError(FaceUnlockError):
    """A file or folder the daemon would rely on could be changed by someone other than root."""


def trusted_uids() -> set[int]:
    return {0, os.geteuid()}


def check_trusted(path: Path, what: str) -> None:
    """TrustError unless `path` and every folder above it are owned by root/us and not group/world-writable."""
    path = Path(os.path.abspath(path))
    owners = trusted_uids()
    chain = [path, *path.parents]
    for i, p in enumerate(chain):
        try:
            st = p.lstat()
        except OSError as e:
            raise TrustError(f"{what}: cannot check {p}: {e.strerror}") from e
        if stat.S_ISLNK(st.st_mode):
            check_trusted(p.resolve(), what)  # where it points; the folders holding the link are checked below
            continue
        if st.st_uid not in owners:
            raise TrustError(f"{what}: {p} is owned by uid {st.st_uid}, not root: refusing to trust it")
        writable = st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        sticky_dir = i > 0 and stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX
        if writable and not sticky_dir:
            raise TrustError(f"{what}: {p} is writable by group or others (mode {stat.S_IMODE(st.st_mode):o})")


def private_dir(path: Path, what: str) -> Path:
    """Create or adopt a 0700 folder owned by us (the daemon's state). Refuses one another uid owns."""
    path = Path(os.path.abspath(path))
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = path.lstat()
    if not stat.S_ISDIR(st.st_mode):
        raise TrustError(f"{what}: {path} is not a folder")
    if st.st_uid != os.geteuid():
        raise TrustError(f"{what}: {path} is owned by uid {st.st_uid}, not by the daemon (uid {os.geteuid()})")
    if stat.S_IMODE(st.st_mode) != 0o700:
        path.chmod(0o700)
    check_trusted(path.parent, f"{what} (parent folder)")
    return path
