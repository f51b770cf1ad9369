"""Attack 8 (issue 9): deleting the lock-out state gave fresh tries.

A missing state file once one has existed (a marker is kept beside it) now means "locked for the maximum
back-off", like a corrupt one. In user mode a process of the same user can still delete both or rewrite the
count — see lockout.py's docstring and the README's security model: the daemon is where that is closed.
"""

from __future__ import annotations

import pytest

from faceunlock.auth import authenticate
from faceunlock.lockout import Lockout
from tests.attacks.attempt_fixtures import engine, enrolled, owner, owner_later  # noqa: F401 - fixtures

pytestmark = pytest.mark.usefixtures("keyring_session")


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def test_deleting_the_state_file_does_not_reset_the_count(tmp_path):
    clock = Clock()
    path = tmp_path / "lockout.json"
    lo = Lockout(path, clock=clock)
    for _ in range(5):
        lo.record_failure()
    assert lo.seconds_remaining() == 30.0
    path.unlink()  # the attack
    again = Lockout(path, clock=clock)  # a new process
    assert again.seconds_remaining() == 300.0  # not "no failures": the maximum back-off
    assert again.failures >= 5 and path.is_file()  # and written back, so it runs out instead of restarting
    clock.t += 300
    assert again.seconds_remaining() == 0.0


def test_a_deleted_state_refuses_the_next_attempt_before_any_frame(tmp_path, engine, owner, owner_later):  # noqa: F811
    path = tmp_path / "lockout.json"
    Lockout(path).record_failure()
    path.unlink()
    read = []
    d = authenticate(engine, owner, iter(owner_later), lockout=Lockout(path), on_frame=read.append)
    assert not d.accepted and d.locked_out_s > 290 and d.frames_seen == 0 and read == []


def test_a_fresh_install_has_no_back_off(tmp_path):
    lo = Lockout(tmp_path / "lockout.json")
    assert lo.failures == 0 and lo.seconds_remaining() == 0.0  # nothing ever existed: nothing to distrust


def test_the_owner_still_gets_in(tmp_path, engine, owner, owner_later):  # noqa: F811
    clock = Clock()
    path = tmp_path / "lockout.json"
    Lockout(path, clock=clock).record_failure()
    path.unlink()
    lo = Lockout(path, clock=clock)
    assert lo.seconds_remaining() == 300.0  # the deletion is noticed: maximum back-off from now …
    clock.t += 300  # … which runs out; the owner is not locked out for good
    d = authenticate(engine, owner, owner_later, lockout=lo)
    assert d.accepted, d.reason
    assert lo.failures == 0 and lo.seconds_remaining() == 0.0
