"""faceunlockd refuses to start on anything a user could have changed: a readable key, a state folder someone
else owns, templates whose key went missing, model files outside root's control."""

from __future__ import annotations

import os
import stat

import pytest

from faceunlock.service.trust import TrustError, check_trusted, private_dir
from tests.service.helpers import NOBODY, cli, need_root, scratch_dir
from tests.shared_data import REAL_MOV


@pytest.fixture
def base():
    need_root()
    with scratch_dir("fu-startup-") as b:
        yield b


def daemon_cli(base, *extra):
    return cli("daemon", "--socket", base / "s.sock", "--state-dir", base / "state", "--source", REAL_MOV, *extra,
               timeout=120)  # fmt: skip


def test_key_readable_by_others_is_refused(base):
    key = base / "state.key"
    key.write_bytes(os.urandom(32))
    key.chmod(0o644)
    r = daemon_cli(base)
    assert r.returncode == 2 and str(key) in r.stderr and "0600" in r.stderr
    assert not (base / "s.sock").exists()


def test_templates_without_their_key_are_refused(base):
    (base / "state" / "templates" / "0123456789abcdef").mkdir(parents=True)
    (base / "state" / "templates" / "0123456789abcdef" / "root.fut").write_bytes(b"FUT\x01" + os.urandom(40))
    r = daemon_cli(base, "--key-file", base / "keys" / "store.key")
    assert r.returncode == 2 and "missing but templates exist" in r.stderr
    assert not (base / "keys" / "store.key").exists()  # no fresh key minted over existing templates


def test_state_folder_of_another_uid_is_refused(base):
    (base / "state").mkdir(mode=0o700)
    os.chown(base / "state", NOBODY, NOBODY)
    r = daemon_cli(base)
    assert r.returncode == 2 and "owned by uid 65534" in r.stderr


def test_trust_rules_for_model_files(base):
    d = base / "models"
    d.mkdir(mode=0o755)
    f = d / "weights.pt"
    f.write_bytes(b"x")
    f.chmod(0o644)
    check_trusted(f, "model")  # root-owned, under sticky /tmp: fine
    f.chmod(0o664)
    with pytest.raises(TrustError, match="writable by group or others"):
        check_trusted(f, "model")
    f.chmod(0o644)
    os.chown(d, NOBODY, NOBODY)  # a user who owns the folder can swap the file
    with pytest.raises(TrustError, match="owned by uid 65534"):
        check_trusted(f, "model")
    os.chown(d, 0, 0)
    link = base / "link"
    link.symlink_to(d)
    check_trusted(link / "weights.pt", "model")
    os.chown(d, NOBODY, NOBODY)
    with pytest.raises(TrustError):
        check_trusted(link / "weights.pt", "model")


def test_private_dir_is_made_0700(base):
    p = private_dir(base / "new", "state")
    assert stat.S_IMODE(p.stat().st_mode) == 0o700
    (base / "loose").mkdir(mode=0o755)
    assert stat.S_IMODE(private_dir(base / "loose", "state").stat().st_mode) == 0o700
