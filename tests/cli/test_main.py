"""The CLI shell: fast --help, every command documented, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from faceunlock.cli.main import COMMANDS
from tests.cli.helpers import faceunlock


def test_help_does_not_import_torch():
    code = ("import sys\nfrom faceunlock.cli.main import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n"
            "    pass\nprint('TORCH' if 'torch' in sys.modules else 'NO-TORCH')")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "usage: faceunlock" in out
    assert out.strip().endswith("NO-TORCH")


@pytest.mark.parametrize("command", [c.replace("_", "-") for c in COMMANDS])
def test_every_command_has_help(command):
    r = faceunlock(command, "--help")
    assert r.rc == 0, r.err
    assert "usage: faceunlock " + command in r.out


def test_no_command_is_an_error():
    assert faceunlock().rc == 2


def test_bad_user_name_is_exit_2(fu_home):
    r = faceunlock("verify", "../etc", "--source", "0", home=fu_home)
    assert r.rc == 2
    assert "invalid user name" in r.err


def test_internal_bug_shows_a_traceback_not_exit_2(tmp_path):
    """Only the project's own errors map to exit 2; a bug (here: a ValueError from inside) must not hide."""
    code = ("import faceunlock.cli.verify as v\n"
            "def boom(args):\n    raise ValueError('internal bug')\n"
            "v.run = boom\nfrom faceunlock.cli.main import main\nraise SystemExit(main(['verify', 'x', '--source', '0']))")  # fmt: skip
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 1  # Python's own exit code for an uncaught exception
    assert "Traceback" in r.stderr and "internal bug" in r.stderr


def test_bad_flag_value_is_exit_2(fu_home, tmp_path):
    r = faceunlock("calibrate", tmp_path, "--target-far", "2", home=fu_home)
    assert r.rc == 2 and "--target-far" in r.err and "Traceback" not in r.err


def _without(modules: list[str], argv: list[str]) -> subprocess.CompletedProcess:
    """Run the CLI in a Python where `modules` cannot be imported (a headless install without the extras)."""
    code = (f"import sys\nfor m in {modules!r}:\n    sys.modules[m] = None\n"
            f"from faceunlock.cli.main import main\nraise SystemExit(main({argv!r}))")  # fmt: skip
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ,
                          "QT_QPA_PLATFORM": "offscreen"})  # fmt: skip


def test_headless_install_gui_says_which_extra(tmp_path):
    for argv in (["gui"], ["lock"]):
        r = _without(["PySide6"], ["--home", str(tmp_path), *argv])
        assert r.returncode == 2 and "faceunlock[gui]" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_headless_install_plot_fails_before_the_work(tmp_path):
    r = _without(["matplotlib"], ["--home", str(tmp_path), "calibrate", str(tmp_path), "--plot",
                                  str(tmp_path / "roc.png")])  # fmt: skip
    assert r.returncode == 2 and "faceunlock[plots]" in r.stderr and "roc.png" in r.stderr
