"""The app's few persisted choices (camera, frames per decision), as JSON under the config dir.

The file may only name a camera (issue 9.7): any process of the user can write it, and a `source` pointing at a
video of the owner would unlock `faceunlock lock` with nobody at the camera. A video or folder is only ever used
when given on a command line (`faceunlock lock --source`, `faceunlock gui --source`) for that run, and the lock
screen then says so on screen. A non-camera `source` found in the file is ignored (camera 0 is used) and reported
in `ignored_source`; `save` refuses to write one.

Why so small: every setting here changes what the lock screen does at login, so each one must exist as a
feature first. Lock-on-login is deliberately NOT stored here: the autostart entry itself is the truth
(faceunlock.system.autostart), so the app and `faceunlock autostart` can never disagree.
No Qt import: `faceunlock lock` reads these before it builds any window.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from faceunlock import paths
from faceunlock.atomic import write_text_atomic
from faceunlock.capture import is_camera
from faceunlock.files import read_regular
from faceunlock.policy import MAX_WINDOW, MIN_WINDOW, AuthPolicy

FILENAME = "gui.json"


def settings_path() -> Path:
    return paths.config_dir() / FILENAME


@dataclass
class Settings:
    """`source`: camera index ("0"; a file only in memory, from a command line); `window`: usable frames per
    decision; `ignored_source`: a non-camera source the file held and that load() refused."""

    source: str = "0"
    window: int = AuthPolicy.window
    ignored_source: str = field(default="", compare=False, repr=False)

    @property
    def policy(self) -> AuthPolicy:
        """The attempt rule for the chosen window (the core's: 60 % of the window must match)."""
        return AuthPolicy.for_window(self.window)

    @classmethod
    def load(cls, path: Path | None = None) -> Settings:
        """Read the file; missing or unreadable values fall back to defaults (a bad file never blocks locking)."""
        path = path or settings_path()
        try:
            data = json.loads(read_regular(path, max_bytes=1 << 16).decode("utf-8"))  # a FIFO here must not hang
        except (OSError, ValueError):
            return cls()
        s = cls()
        if isinstance(data, dict):
            src = data.get("source")
            if isinstance(src, str) and src.strip():
                if is_camera(src.strip()):
                    s.source = src.strip()
                else:
                    s.ignored_source = src.strip()
            if isinstance(data.get("window"), int) and not isinstance(data.get("window"), bool):
                s.window = min(MAX_WINDOW, max(MIN_WINDOW, data["window"]))
        return s

    def save(self, path: Path | None = None) -> Path:
        """Write atomically (a crash never leaves half a settings file); ValueError for a non-camera source."""
        if not is_camera(self.source):
            raise ValueError(f"only a camera can be saved as the source (got {self.source!r}): a video or folder "
                             "is given on the command line for one run (--source)")  # fmt: skip
        path = path or settings_path()
        data = {"source": self.source, "window": self.window}
        write_text_atomic(path, json.dumps(data, indent=2) + "\n", mode=0o600)
        return path


