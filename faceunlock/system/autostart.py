"""Start the face-unlock lock screen at login via an XDG autostart entry (GNOME, KDE, Xfce, ... all read it).

Why a desktop entry and not a systemd unit: it is per user, needs no root, runs inside the graphical session
(with DISPLAY/WAYLAND_DISPLAY and the unlocked keyring), and is removed by deleting one file.
"""

from __future__ import annotations

import configparser
import os
import sys
from pathlib import Path

from faceunlock.atomic import write_text_atomic

FILENAME = "faceunlock-lock.desktop"
# Characters that force an Exec argument to be quoted (Desktop Entry Specification, "The Exec key").
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")
_ESCAPE_IN_QUOTES = set('"`$\\')


def autostart_dir() -> Path:
    """$XDG_CONFIG_HOME/autostart (the spec says a relative XDG_CONFIG_HOME is ignored → ~/.config)."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".config"
    return root / "autostart"


def entry_path() -> Path:
    return autostart_dir() / FILENAME


def default_command() -> list[str]:
    """This interpreter, absolute, so the entry works without the venv on PATH: `python -m faceunlock lock`."""
    if not sys.executable:
        raise RuntimeError("cannot tell which Python runs faceunlock (sys.executable is empty); pass command")
    return [os.path.abspath(sys.executable), "-m", "faceunlock", "lock"]


def _quote_arg(arg: str) -> str:
    if any(ord(c) < 0x20 or c == "\x7f" for c in arg):
        raise ValueError(f"autostart command argument contains a control character: {arg!r}")
    arg = arg.replace("%", "%%")  # '%' starts a field code
    if arg and not any(c in _RESERVED for c in arg):
        return arg
    quoted = '"' + "".join("\\" + c if c in _ESCAPE_IN_QUOTES else c for c in arg) + '"'
    # The string-type escape rule applies on top of the quoting rule: each backslash is written twice.
    return quoted.replace("\\", "\\\\")


def format_exec(command: list[str]) -> str:
    """Exec= value for `command`, quoted per the Desktop Entry Specification."""
    if not command or not all(isinstance(a, str) for a in command):
        raise ValueError("command must be a non-empty list of strings")
    return " ".join(_quote_arg(a) for a in command)


def parse_exec(value: str) -> list[str]:
    """Inverse of `format_exec` (string escapes, then quoting, then %%)."""
    unescaped, i = [], 0
    simple = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value) and value[i + 1] in simple:
            unescaped.append(simple[value[i + 1]])
            i += 2
        else:
            unescaped.append(c)
            i += 1
    s = "".join(unescaped)
    args: list[str] = []
    cur: list[str] | None = None
    i, in_quotes = 0, False
    while i < len(s):
        c = s[i]
        if in_quotes:
            if c == "\\" and i + 1 < len(s):
                cur.append(s[i + 1])
                i += 2
                continue
            if c == '"':
                in_quotes = False
            else:
                cur.append(c)
        elif c in " \t":
            if cur is not None:
                args.append("".join(cur))
                cur = None
        else:
            cur = cur if cur is not None else []
            if c == '"':
                in_quotes = True
            else:
                cur.append(c)
        i += 1
    if in_quotes:
        raise ValueError(f"unterminated quote in Exec={value!r}")
    if cur is not None:
        args.append("".join(cur))
    return [a.replace("%%", "%") for a in args]


def render(command: list[str]) -> str:
    """The desktop entry text for `command`."""
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.5",
        "Name=faceunlock lock screen",
        "Comment=Lock the session; unlock it with your face (or your fallback password)",
        f"Exec={format_exec(command)}",
    ]
    if os.path.isabs(command[0]):
        # If the interpreter or venv is deleted, the session skips the entry instead of failing at login.
        lines.append("TryExec=" + command[0].replace("\\", "\\\\"))  # a string value: backslashes doubled
    lines += ["Terminal=false", "NoDisplay=true", "X-GNOME-Autostart-enabled=true", ""]
    return "\n".join(lines)


def enable(command: list[str] | None = None) -> Path:
    """Write (atomically, idempotently) the autostart entry that runs `command` at login; returns its path."""
    cmd = list(command) if command is not None else default_command()
    text = render(cmd)
    path = entry_path()
    try:
        if path.read_text(encoding="utf-8") == text:
            return path
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    write_text_atomic(path, text, mode=0o644)
    return path


def disable() -> bool:
    """Remove the autostart entry; False if it was not there (so calling it twice is harmless)."""
    try:
        entry_path().unlink()
    except FileNotFoundError:
        return False
    return True


def status() -> dict:
    """{"enabled": bool, "path": Path, "command": list[str] | None} as the session would see the entry."""
    path = entry_path()
    result: dict = {"enabled": False, "path": path, "command": None}
    if not path.is_file():
        return result
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # keys are case-sensitive in desktop entries
    try:
        parser.read(path, encoding="utf-8")
        entry = parser["Desktop Entry"]
        result["command"] = parse_exec(entry["Exec"])
    except (configparser.Error, KeyError, ValueError, UnicodeDecodeError):
        return result  # unreadable entry: report not enabled (the session would not run it either)
    hidden = entry.get("Hidden", "false").strip().lower() == "true"
    gnome_off = entry.get("X-GNOME-Autostart-enabled", "true").strip().lower() == "false"
    result["enabled"] = not hidden and not gnome_off
    return result
