"""The app's few persisted choices (frame source, frames per decision), as JSON under the config dir.

Why so small: every setting here changes what the lock screen does at login, so each one must exist as a
feature first. Lock-on-login is deliberately NOT stored here: the autostart entry itself is the truth
(faceunlock.system.autostart), so the app and `faceunlock autostart` can never disagree.
No Qt import: `faceunlock lock` reads these before it builds any window.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from faceunlock import paths
from faceunlock.atomic import write_text_atomic

FILENAME = "gui.json"
MIN_WINDOW, MAX_WINDOW = 3, 15


def settings_path() -> Path:
    return paths.config_dir() / FILENAME


def required_matches(window: int) -> int:
    """Matching frames needed among `window` usable ones: 60 %, at least 2 (one lucky frame never unlocks)."""
    return max(2, min(window, math.ceil(0.6 * window)))


@dataclass
class Settings:
    """`source`: camera index ("0") or a video file / image folder; `window`: usable frames per decision."""

    source: str = "0"
    window: int = 5

    @property
    def required(self) -> int:
        return required_matches(self.window)

    @classmethod
    def load(cls, path: Path | None = None) -> Settings:
        """Read the file; missing or unreadable values fall back to defaults (a bad file never blocks locking)."""
        path = path or settings_path()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        s = cls()
        if isinstance(data, dict):
            if isinstance(data.get("source"), str) and data["source"].strip():
                s.source = data["source"].strip()
            if isinstance(data.get("window"), int) and not isinstance(data.get("window"), bool):
                s.window = min(MAX_WINDOW, max(MIN_WINDOW, data["window"]))
        return s

    def save(self, path: Path | None = None) -> Path:
        """Write atomically (a crash never leaves half a settings file)."""
        path = path or settings_path()
        write_text_atomic(path, json.dumps(asdict(self), indent=2) + "\n", mode=0o600)
        return path


