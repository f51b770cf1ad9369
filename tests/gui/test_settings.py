"""Settings persist atomically with safe defaults; the lock-at-login toggle writes and removes the real
autostart entry (the same functions as `faceunlock autostart`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from faceunlock.gui.settings import Settings, settings_path
from faceunlock.gui.settings_dialog import SettingsDialog
from faceunlock.policy import AuthPolicy
from faceunlock.system import autostart


def test_settings_round_trip_and_bad_files(gui_home: Path):
    assert Settings.load() == Settings()  # no file: defaults
    Settings(source="2", window=7).save()
    assert Settings.load() == Settings(source="2", window=7)
    assert settings_path().is_relative_to(gui_home)
    with pytest.raises(ValueError, match="only a camera"):  # issue 9.7: a file source is never stored
        Settings(source="/videos/me.mp4", window=7).save()
    assert Settings.load() == Settings(source="2", window=7)
    settings_path().write_text('{"source": "/videos/me.mp4", "window": 7}')  # written by something else
    s = Settings.load()
    assert s == Settings(source="0", window=7) and s.ignored_source == "/videos/me.mp4"
    settings_path().write_text("{not json")
    assert Settings.load() == Settings()  # a broken file never stops the lock screen
    settings_path().write_text('{"source": 3, "window": 999}')
    assert Settings.load() == Settings(source="0", window=15)
    settings_path().unlink()
    os.mkfifo(settings_path())  # a FIFO must not hang `faceunlock lock` at login: defaults
    assert Settings.load() == Settings()


def test_required_matches_never_one_frame():
    assert [AuthPolicy.for_window(n).required for n in (3, 5, 10, 15)] == [2, 3, 6, 9]
    assert AuthPolicy.for_window(None) == AuthPolicy() and AuthPolicy.for_window(99).window == 15


def test_lock_at_login_toggle_writes_and_removes_the_autostart_entry(qtbot, gui_home: Path):
    entry = gui_home / "xdg-config" / "autostart" / autostart.FILENAME
    assert autostart.entry_path() == entry and not entry.exists()

    d = SettingsDialog(Settings())
    qtbot.addWidget(d)
    assert not d.autostart.isChecked()
    d.autostart.setChecked(True)
    d.save_btn.click()
    assert entry.is_file()
    st = autostart.status()
    assert st["enabled"] and st["command"][-2:] == ["faceunlock", "lock"]

    d2 = SettingsDialog(Settings())
    qtbot.addWidget(d2)
    assert d2.autostart.isChecked()  # shows the real state
    d2.autostart.setChecked(False)
    d2.save_btn.click()
    assert not entry.exists()


def test_only_a_camera_and_frames_are_saved(qtbot, gui_home: Path, real_mov: Path):
    d = SettingsDialog(Settings())
    qtbot.addWidget(d)
    assert d.kind.currentData() == "0"
    assert all(d.kind.itemData(i).isdigit() for i in range(d.kind.count()))  # cameras only, no file choice
    d.kind.setCurrentIndex(2)
    d.window_spin.setValue(7)
    assert "up to 7" in d.window_help.text() and "at least 5" in d.window_help.text()
    d.save_btn.click()
    assert Settings.load() == Settings(source="2", window=7)

    # A video given with `faceunlock gui --source` is used for that run only, and never saved.
    d2 = SettingsDialog(Settings(source=str(real_mov), window=7))
    qtbot.addWidget(d2)
    assert "given with --source" in d2.source_note.text()
    d2.save_btn.click()
    assert Settings.load() == Settings(source="0", window=7)
