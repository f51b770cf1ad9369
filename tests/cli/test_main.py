"""The CLI shell: fast --help, every command documented, exit codes."""

from __future__ import annotations

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
