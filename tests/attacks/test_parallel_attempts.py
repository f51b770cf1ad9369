"""Attack 5 (issue 9): with four failures recorded, three parallel `faceunlock verify` all went ahead (4 → 7).

Each attempt is now reserved in the lock-out, under its file lock, before it reads a frame: the first counts as
the 5th failure at once, so the back-off is already running for the other two. Real processes, real CLI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from faceunlock.lockout import Lockout
from tests.attacks.attempt_fixtures import enrolled  # noqa: F401 - fixture
from tests.cli.helpers import faceunlock
from tests.shared_data import DATA, REAL_MOV

pytestmark = pytest.mark.usefixtures("keyring_session")


@pytest.fixture
def home(enrolled, tmp_path):  # noqa: F811
    """A copy of alice's home with four failures already recorded."""
    h = tmp_path / "home"
    shutil.copytree(enrolled, h)
    lo = Lockout(h / "data" / "lockout.json")
    for _ in range(4):
        lo.record_failure()
    return h


def test_three_parallel_attempts_one_goes_ahead(home):
    strangers = [str(p) for p in sorted((DATA / "lfw-dev").glob("*/*_0001.jpg"))[:12]]
    cmd = [sys.executable, "-m", "faceunlock", "--home", str(home), "verify", "alice", "--json", "--source", *strangers]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
             for _ in range(3)]  # fmt: skip
    results = [(p.wait(timeout=600), json.loads(p.stdout.read())) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert all(rc == 1 and not d["accepted"] for rc, d in results)
    went_ahead = [d for _, d in results if d["locked_out_s"] == 0]
    refused = [d for _, d in results if d["locked_out_s"] > 0]
    assert len(went_ahead) == 1, [d["reason"] for _, d in results]
    assert went_ahead[0]["frames_usable"] > 0
    assert all(d["frames_seen"] == 0 and "too many failed attempts" in d["reason"] for d in refused)
    assert Lockout(home / "data" / "lockout.json").failures == 5  # 4 → 5, not 4 → 7


def test_the_owner_still_gets_in(home):
    r = faceunlock("verify", "alice", "--source", REAL_MOV, "--skip", "100", "--json", home=home)
    assert r.rc == 0, r.out + r.err
    assert r.json()["accepted"] is True
    assert Lockout(home / "data" / "lockout.json").failures == 0


def test_a_locked_out_verify_never_opens_the_source(home):
    Lockout(home / "data" / "lockout.json").record_failure()  # the 5th: back-off
    r = faceunlock("verify", "alice", "--source", "97", "--json", home=home)  # camera 97 does not exist
    assert r.rc == 1, r.err  # refused by the lockout, not exit 2 for a camera it never tried to open
    assert "too many failed attempts" in r.json()["reason"] and "camera" not in r.err
