"""Open input files without hanging on a FIFO, a socket or a device (issue 9.10).

Why: `open()` on a FIFO blocks until some writer appears — forever, in a lock screen or a dataset run — and a
character device can stream without end. Every file the app reads as *data* (images, videos, weights) is
opened here with O_NONBLOCK, checked with fstat on the descriptor it was opened as (no stat-then-open race),
and refused unless it is a regular file, with an error naming it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class NotRegularFile(OSError):
    """The path names a FIFO, socket, device or folder where a regular file was expected."""


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISDIR, "a folder")):  # fmt: skip
        if test(mode):
            return name
    return "not a regular file"


def not_regular_message(path: Path | str, mode: int) -> str:
    return f"{path}: is {_kind(mode)}, not a regular file; refusing to read it (it could block forever)"


def open_regular(path: Path | str) -> int:
    """A read-only descriptor for `path` (blocking mode restored), or NotRegularFile / OSError naming it."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(not_regular_message(path, mode))
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular(path: Path | str, max_bytes: int | None = None) -> bytes:
    """The whole content of a regular file, read once through one descriptor.

    `max_bytes`: refuse (NotRegularFile's sibling, a plain OSError naming the file) rather than read more.
    """
    fd = open_regular(path)
    with os.fdopen(fd, "rb") as f:
        if max_bytes is not None and os.fstat(f.fileno()).st_size > max_bytes:
            raise OSError(f"{path}: larger than {max_bytes} bytes")
        return f.read()


def check_regular(path: Path | str) -> None:
    """Refuse a path that is not a regular file (for readers such as OpenCV that open the path themselves).

    This stat is not atomic with the later open; it exists so that a FIFO given by mistake is a clear error
    instead of a hang, not as a defence against a process that swaps files under us.
    """
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise NotRegularFile(not_regular_message(path, mode))
