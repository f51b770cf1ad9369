"""faceunlockd as a client sees it: the owner gets in through the daemon, other uids are refused and cannot touch
its state, one camera serves one attempt ("busy" at once for the second), a client that hangs up frees it, and a
non-root user manages only their own face, after PAM checks their password.

One real daemon for the module (loading torch takes seconds), fed real.mov; the owner is a throwaway OS account
enrolled through the CLI from the first 100 frames and verified on the later ones.
"""

from __future__ import annotations

import json
import shutil
import socket
import stat
import time
import uuid
from pathlib import Path

import pytest

from tests.service.helpers import (
    NOBODY,
    ROOT,
    Daemon,
    account,
    as_uid,
    cli,
    need_root,
    public_dir,
    raw_as,
    request,
)
from tests.shared_data import REAL_MOV, need

PASSWORD = "correct horse " + uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def pam_service():
    """The shipped PAM service file under a unique name in /etc/pam.d (libpam reads only there), removed after."""
    need_root()
    name = f"faceunlock-test-{uuid.uuid4().hex[:8]}"
    path = Path("/etc/pam.d") / name
    shutil.copyfile(ROOT / "faceunlock" / "service" / "pam.d" / "faceunlock", path)
    yield name
    path.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def owner():
    need_root()
    with account() as acc:
        yield acc


@pytest.fixture(scope="module")
def daemon(owner, pam_service):
    need("liveness", "webcam-replay", "real.mov")
    base = public_dir("fu-daemon-")
    d = Daemon(base, REAL_MOV, None, "--pam-service", pam_service)
    try:
        d.start()
        r = cli("enroll", owner[0], "--source", REAL_MOV, "--daemon", d.socket, "--max-frames", "100", "--json")
        assert r.returncode == 0, r.stderr + d.log.read_text()
        info = json.loads(r.stdout)
        assert info["user"] == owner[0] and 3 <= info["templates"] <= 100 and info["frames_seen"] <= 100
        yield d
    finally:
        d.stop()
        shutil.rmtree(base, ignore_errors=True)


def status(d: Daemon) -> dict:
    line = request(d.socket, "STATUS 1")[-1]
    assert line.startswith("OK ")
    return json.loads(line[3:])


def test_owner_is_accepted_on_later_frames_through_the_cli(daemon, owner):
    r = cli("verify", owner[0], "--daemon", daemon.socket, "--skip", "100", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    d = json.loads(r.stdout)
    assert d["result"] == "OK" and d["accepted"] is True
    assert d["matches"] >= d["required"] >= 3 and d["liveness"] is not None


def test_state_is_private_and_the_key_lives_apart(daemon, owner):
    state = daemon.state
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    files = list((state / "templates").glob(f"*/{owner[0]}.fut"))
    assert len(files) == 1 and stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert b"embeddings" not in files[0].read_bytes()
    key = state.parent / "state.key"  # beside the state folder, not in it
    assert key.stat().st_size == 32 and stat.S_IMODE(key.stat().st_mode) == 0o600
    assert not list(state.rglob("*.key"))


def test_other_uid_is_denied_and_cannot_touch_the_state(daemon, owner):
    user = owner[0]
    for line in (f"AUTH 1 {user}", f"VERIFY 1 {user}", f"ENROLL 1 {user}", f"REMOVE 1 {user}"):
        answer = raw_as(NOBODY, daemon.socket, line)
        assert len(answer) == 1 and answer[0].startswith("DENIED"), (line, answer)
    assert raw_as(NOBODY, daemon.socket, "AUTH 1 nobody")[-1].startswith("IGNORE")  # itself: not enrolled
    assert raw_as(NOBODY, daemon.socket, "LIST 1") == ['OK {"users": 0}']  # the owner's entry stays hidden
    template = next((daemon.state / "templates").glob(f"*/{user}.fut"))
    for cmd in (["ls", str(daemon.state)], ["cat", str(template)], ["cat", str(daemon.state.parent / "state.key")],
                ["touch", str(daemon.state / "x")], ["rm", "-f", str(daemon.state / "lockout" / f"{user}.json")]):
        r = as_uid(NOBODY, *cmd)
        assert r.returncode != 0 and "Permission denied" in r.stderr, cmd
    # and the owner still gets in: nothing above changed a thing
    assert request(daemon.socket, f"AUTH 1 {user} skip=100")[-1].startswith("OK")


def test_frame_ranges_and_other_versions_are_refused_politely(daemon, owner):
    assert raw_as(NOBODY, daemon.socket, "AUTH 2 nobody") == [
        "UNAVAIL unsupported protocol version '2' (this daemon: 1)"]  # fmt: skip
    assert request(daemon.socket, "HELLO 1")[-1].startswith("UNAVAIL unknown request")
    assert request(daemon.socket, "AUTH 1 ../etc")[-1].startswith("UNAVAIL bad request")
    assert request(daemon.socket, "AUTH 1 no-such-account-x")[-1].startswith("IGNORE")


def test_second_client_gets_busy_at_once(daemon, owner):
    user = owner[0]
    with socket.socket(socket.AF_UNIX) as first:
        first.settimeout(120)
        first.connect(str(daemon.socket))
        first.sendall(f"AUTH 1 {user} skip=100\n".encode())
        lines = first.makefile("rb")
        assert lines.readline().decode().startswith("INFO")  # the attempt holds the camera now
        t = time.monotonic()
        second = request(daemon.socket, f"AUTH 1 {user} skip=100")
        elapsed = time.monotonic() - t
        assert second == ["UNAVAIL busy: the camera is in use by another attempt"]
        assert elapsed < 1.0
        rest = [raw.decode().rstrip("\n") for raw in lines]
    assert rest[-1].startswith("OK"), rest  # the first attempt was not disturbed


def test_client_that_hangs_up_frees_the_camera(daemon, owner):
    user = owner[0]
    before = status(daemon)["cancelled"]
    with socket.socket(socket.AF_UNIX) as first:
        first.connect(str(daemon.socket))
        first.sendall(f"AUTH 1 {user} skip=100\n".encode())
        assert first.makefile("rb").readline().decode().startswith("INFO")
    t = time.monotonic()  # hung up mid-attempt: the next request gets the camera within a frame or two
    while (answer := request(daemon.socket, f"AUTH 1 {user} skip=100"))[-1].startswith("UNAVAIL busy"):
        assert time.monotonic() - t < 3.0, "camera still held after the client left"
        time.sleep(0.05)
    assert answer[-1].startswith("OK"), answer
    assert status(daemon)["cancelled"] == before + 1


def test_non_root_user_manages_only_their_own_face_after_their_password(daemon, owner):
    with account(password=PASSWORD) as (name, uid, gid):
        wrong = raw_as(uid, daemon.socket, f"ENROLL 1 {name}", "not my password", gid=gid)
        assert wrong[0] == f"PASSWORD Password for {name}:" and wrong[-1].startswith("DENIED password"), wrong
        assert not list((daemon.state / "templates").glob(f"*/{name}.fut"))
        # someone else's face: refused before any password is asked
        assert raw_as(uid, daemon.socket, f"ENROLL 1 {owner[0]}", PASSWORD, gid=gid)[0].startswith("DENIED")
        ok = raw_as(uid, daemon.socket, f"ENROLL 1 {name}", PASSWORD, gid=gid)
        assert ok[-1].startswith("OK "), ok
        assert json.loads(ok[-1][3:])["user"] == name
        mine = raw_as(uid, daemon.socket, f"VERIFY 1 {name}", gid=gid)  # its own face: allowed, without scores
        decision = json.loads(next(x for x in mine if x.startswith("DECISION "))[9:])
        assert mine[-1] == f"OK face recognised: {name}" and decision["accepted"] is True
        assert not {"distances", "threshold", "liveness", "matches", "reason"} & set(decision)
        listed = raw_as(uid, daemon.socket, "LIST 1", gid=gid)
        assert [json.loads(x[5:])["user"] for x in listed if x.startswith("USER ")] == [name]
        assert raw_as(uid, daemon.socket, f"REMOVE 1 {name}", "wrong", gid=gid)[-1].startswith("DENIED")
        assert raw_as(uid, daemon.socket, f"REMOVE 1 {name}", PASSWORD, gid=gid)[-1].startswith("OK")
        assert not list((daemon.state / "templates").glob(f"*/{name}.fut"))


def test_verify_without_source_asks_the_system_daemon(daemon, owner):
    r = cli("verify", owner[0], "--skip", "100", env={"FACEUNLOCK_SOCKET": str(daemon.socket)})
    assert r.returncode == 0 and r.stdout.startswith("ACCEPTED"), r.stdout + r.stderr
    r = cli("verify", owner[0], env={"FACEUNLOCK_SOCKET": str(daemon.base / "absent.sock")})
    assert r.returncode == 2 and "--source" in r.stderr and "daemon" in r.stderr


def test_users_list_and_remove_through_the_cli(daemon, owner):
    with account() as (name, _, _):
        reply = request(daemon.socket, f"ENROLL 1 {name} limit=60")
        assert reply[-1].startswith("OK"), reply
        r = cli("users", "list", "--daemon", daemon.socket, "--json")
        assert r.returncode == 0
        assert {u["user"] for u in json.loads(r.stdout)["users"]} == {owner[0], name}
        assert cli("users", "remove", name, "--daemon", daemon.socket).returncode == 0
        r = cli("users", "remove", name, "--daemon", daemon.socket)
        assert r.returncode == 2 and "no face enrolled" in r.stderr


def test_templates_only_open_for_their_own_account(daemon, owner):
    """A root-side copy of the owner's file under another account's name does not open (uid + name in the AAD)."""
    src = next((daemon.state / "templates").glob(f"*/{owner[0]}.fut"))
    with account() as (name, _, _):
        dst = src.with_name(f"{name}.fut")
        shutil.copy2(src, dst)
        try:
            answer = request(daemon.socket, f"AUTH 1 {name} skip=100")
            assert answer == [answer[-1]] and answer[-1].startswith("UNAVAIL templates unusable"), answer
            assert "tampered" in answer[-1]
            listed = [json.loads(x[5:]) for x in request(daemon.socket, "LIST 1") if x.startswith("USER ")]
            assert [u for u in listed if u["user"] == name][0].get("error")
        finally:
            dst.unlink()


HOG = r"""
import socket, sys
held = []
for _ in range(2):  # two idle connections: the most one user may hold
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); held.append(s)
s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1]); s.sendall(b"STATUS 1\n")
print(s.makefile().readline(), end="")
"""


def test_one_user_cannot_hold_every_connection(daemon, owner):
    r = as_uid(NOBODY, "/usr/bin/python3", "-c", HOG, str(daemon.socket))
    assert r.stdout.strip() == "UNAVAIL busy: too many connections from this user", r.stdout + r.stderr
    assert request(daemon.socket, f"AUTH 1 {owner[0]} skip=100")[-1].startswith("OK")  # root still served
