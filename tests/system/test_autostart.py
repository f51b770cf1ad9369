"""XDG autostart entry: written where the session looks, valid, idempotent, removable, quoted correctly."""

from __future__ import annotations

import configparser
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from faceunlock.system import autostart

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def xdg(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config"


def read_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def test_enable_disable_status_idempotent(xdg):
    path = xdg / "autostart" / "faceunlock-lock.desktop"
    assert autostart.status() == {"enabled": False, "path": path, "command": None}
    assert autostart.disable() is False

    assert autostart.enable() == path
    text = path.read_text()
    mtime = path.stat().st_mtime_ns
    assert autostart.enable() == path  # second enable: same file, untouched
    assert path.read_text() == text and path.stat().st_mtime_ns == mtime
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp files left

    expected = [os.path.abspath(sys.executable), "-m", "faceunlock", "lock"]
    assert autostart.status() == {"enabled": True, "path": path, "command": expected}

    assert autostart.disable() is True
    assert not path.exists()
    assert autostart.disable() is False
    assert autostart.status()["enabled"] is False


def test_entry_is_a_valid_desktop_entry(xdg):
    entry = read_entry(autostart.enable())
    assert entry["Type"] == "Application"
    assert entry["Name"]
    assert entry["Terminal"] == "false"
    assert entry["X-GNOME-Autostart-enabled"] == "true"
    assert entry["TryExec"] == os.path.abspath(sys.executable)
    assert autostart.parse_exec(entry["Exec"]) == [
        os.path.abspath(sys.executable),
        "-m",
        "faceunlock",
        "lock",
    ]
    text = (xdg / "autostart" / "faceunlock-lock.desktop").read_text()
    assert text.startswith("[Desktop Entry]\n")
    assert all(" = " not in line for line in text.splitlines())  # key=value, as the spec writes it


def test_custom_command_replaces_previous(xdg):
    autostart.enable()
    path = autostart.enable(["faceunlock", "lock", "--quiet"])
    assert read_entry(path)["Exec"] == "faceunlock lock --quiet"
    assert "TryExec" not in read_entry(path)  # relative command: found on PATH at login
    assert autostart.status()["command"] == ["faceunlock", "lock", "--quiet"]


@pytest.mark.parametrize(
    "command",
    [
        ["/opt/my venv/bin/python", "-m", "faceunlock", "lock"],
        ["/x/py", 'say "hi"', "$HOME", "back\\slash", "100%", "`cmd`", "a'b", "", "a;b|c"],
    ],
)
def test_exec_quoting_round_trips(xdg, command):
    path = autostart.enable(command)
    value = read_entry(path)["Exec"]
    assert autostart.parse_exec(value) == command
    assert autostart.status()["command"] == command


def test_exec_quoting_follows_the_spec():
    assert autostart.format_exec(["/a b/python", "-m"]) == '"/a b/python" -m'
    assert autostart.format_exec(["50%"]) == "50%%"
    # backslash inside a quoted argument: quoting rule gives \\, the string escape rule doubles it again
    assert autostart.format_exec(["a\\b"]) == '"a\\\\\\\\b"'
    assert autostart.format_exec(['say "x"']) == '"say \\\\"x\\\\""'


@pytest.mark.parametrize("bad", [[], ["python", "a\nb"], ["python", "a\rb"], ["python", 3]])
def test_bad_commands_rejected(xdg, bad):
    with pytest.raises(ValueError):
        autostart.enable(bad)
    assert not (xdg / "autostart" / "faceunlock-lock.desktop").exists()


def test_default_location_without_xdg_config_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    assert autostart.enable() == tmp_path / ".config" / "autostart" / "faceunlock-lock.desktop"
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/dir")  # the spec says: ignore a relative path
    assert autostart.entry_path() == tmp_path / ".config" / "autostart" / "faceunlock-lock.desktop"


def test_hidden_entry_reports_disabled(xdg):
    path = autostart.enable()
    path.write_text(path.read_text() + "Hidden=true\n")
    assert autostart.status()["enabled"] is False
    path.write_text("not a desktop entry")
    assert autostart.status() == {"enabled": False, "path": path, "command": None}
    autostart.enable()
    assert autostart.status()["enabled"] is True  # enable repairs a damaged entry


def test_module_does_not_import_qt():
    code = "import sys, faceunlock.system.autostart; print(any(m.startswith('PySide6') for m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    assert out.strip() == "False"
