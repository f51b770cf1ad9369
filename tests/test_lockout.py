"""Lockout: 5 free failures, then 30 s doubling to 5 min; persisted; a corrupt state file means locked."""

from __future__ import annotations

import json
import multiprocessing
import stat

import pytest

from faceunlock.lockout import Lockout


class FakeClock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def state(tmp_path):
    return tmp_path / "lockout.json"


def test_schedule(state):
    lo = Lockout(state)
    assert [lo.delay_after(f) for f in range(12)] == [0, 0, 0, 0, 0, 30, 60, 120, 240, 300, 300, 300]
    assert lo.delay_after(10_000) == 300


def test_failure_sequence_backoff_and_reset(state, clock):
    lo = Lockout(state, clock=clock)
    for i in range(4):
        lo.record_failure()
        assert lo.failures == i + 1
        assert lo.seconds_remaining() == 0.0
    lo.record_failure()  # 5th consecutive failure
    assert lo.seconds_remaining() == 30.0
    clock.advance(10)
    assert lo.seconds_remaining() == pytest.approx(20.0)
    clock.advance(20)
    assert lo.seconds_remaining() == 0.0
    expected = [60, 120, 240, 300, 300]
    for delay in expected:
        lo.record_failure()
        assert lo.seconds_remaining() == delay
        clock.advance(delay)
        assert lo.seconds_remaining() == 0.0
    assert lo.failures == 10
    lo.record_success()
    assert lo.failures == 0 and lo.seconds_remaining() == 0.0
    lo.record_failure()
    assert lo.seconds_remaining() == 0.0  # the count really restarted


def test_state_survives_a_restart(state, clock):
    for _ in range(6):
        Lockout(state, clock=clock).record_failure()
    clock.advance(15)
    again = Lockout(state, clock=clock)  # a new process, same file
    assert again.failures == 6
    assert again.seconds_remaining() == pytest.approx(45.0)


def test_default_path_is_private_and_under_data_dir(fu_home, clock):
    lo = Lockout(clock=clock)
    lo.record_failure()
    path = fu_home / "data" / "lockout.json"
    assert lo.path == path and path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["failures"] == 1


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\xffgarbage",
        b"",
        b"[]",
        b'{"version": 1, "failures": "3", "last_failure": 5}',
        b'{"version": 1, "failures": -1, "last_failure": 5}',
        b'{"version": 1, "failures": true, "last_failure": 5}',
        b'{"version": 1, "failures": 7, "last_failure": null}',
        b'{"version": 1, "failures": 7, "last_failure": NaN}',
        b'{"version": 99, "failures": 0, "last_failure": null}',
        b'{"failures": 0}',
    ],
)
def test_corrupt_state_means_locked_for_the_maximum(state, clock, content):
    state.write_bytes(content)
    lo = Lockout(state, clock=clock)
    assert lo.seconds_remaining() == 300.0
    assert lo.failures >= 5
    clock.advance(299)
    # re-reading (another process) does not restart the back-off
    assert Lockout(state, clock=clock).seconds_remaining() == pytest.approx(1.0)
    clock.advance(1)
    assert lo.seconds_remaining() == 0.0  # the back-off runs out; it is not a permanent lock
    lo.record_failure()
    assert lo.seconds_remaining() == 300.0
    lo.record_success()
    assert lo.seconds_remaining() == 0.0


def test_clock_going_backwards_never_exceeds_the_backoff(state, clock):
    lo = Lockout(state, clock=clock)
    for _ in range(5):
        lo.record_failure()
    clock.advance(-86_400)
    assert lo.seconds_remaining() == 30.0


def test_custom_policy_and_validation(state, clock):
    lo = Lockout(state, clock=clock, max_failures=2, base_delay=1, max_delay=4)
    lo.record_failure()
    assert lo.seconds_remaining() == 0
    lo.record_failure()
    assert lo.seconds_remaining() == 1
    with pytest.raises(ValueError):
        Lockout(state, max_failures=0)
    with pytest.raises(ValueError):
        Lockout(state, base_delay=10, max_delay=5)


def _fail_many(path: str, n: int) -> None:
    lo = Lockout(path)
    for _ in range(n):
        lo.record_failure()


def test_concurrent_processes_do_not_lose_failures(state):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_fail_many, args=(str(state), 25)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert Lockout(state).failures == 50


# -- reserving an attempt -------------------------------------------------------------------------------------
def test_reserve_counts_at_once_and_settle_decides(state, clock):
    lo = Lockout(state, clock=clock)
    r = lo.reserve()
    assert r.granted and lo.failures == 1  # a killed attempt stays counted
    clock.advance(5)
    lo.settle(r, accepted=False, counted=True)
    assert lo.failures == 1 and json.loads(state.read_text())["last_failure"] == clock.t  # back-off from the end
    r = lo.reserve()
    lo.settle(r, accepted=True)
    assert lo.failures == 0


def test_an_attempt_that_judged_no_face_is_handed_back(state, clock):
    lo = Lockout(state, clock=clock)
    for _ in range(5):
        lo.record_failure()
    clock.advance(30)
    before = json.loads(state.read_text())
    r = lo.reserve()
    assert lo.failures == 6 and lo.seconds_remaining() == 60.0
    lo.settle(r, accepted=False, counted=False)
    assert json.loads(state.read_text()) == before and lo.seconds_remaining() == 0.0  # restored exactly


def test_handing_back_after_other_failures_only_removes_its_own(state, clock):
    lo = Lockout(state, clock=clock)
    r = lo.reserve()
    lo.record_failure()  # the password, meanwhile
    lo.settle(r, accepted=False, counted=False)
    assert lo.failures == 1


def test_reserve_is_refused_during_a_back_off(state, clock):
    lo = Lockout(state, clock=clock)
    for _ in range(4):
        lo.record_failure()
    first, second = lo.reserve(), lo.reserve()
    assert first.granted and not second.granted and second.wait_s == 30.0
    lo.settle(second, accepted=True)  # settling a refused reservation changes nothing
    assert lo.failures == 5


def _reserve(path: str, out) -> None:
    out.put(Lockout(path).reserve().granted)


def test_parallel_reservations_let_one_through(state):
    lo = Lockout(state)
    for _ in range(4):
        lo.record_failure()
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_reserve, args=(str(state), out)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert sorted(out.get(timeout=5) for _ in procs) == [False, False, False, True]
    assert lo.failures == 5


# -- a deleted state (a state that cannot be written: tests/attacks/test_full_disk.py, on a real full disk) --------
def test_a_missing_state_after_one_existed_means_the_maximum_back_off(state, clock):
    lo = Lockout(state, clock=clock)
    lo.record_success()
    assert lo.marker.is_file()
    state.unlink()
    assert lo.seconds_remaining() == 300.0
    assert Lockout(state, clock=clock).failures >= 5 and state.is_file()
