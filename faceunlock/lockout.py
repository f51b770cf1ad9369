"""Rate limiting of unlock attempts, shared by the lock screen, the CLI, the daemon and any login hook.

Policy: the first `max_failures` (5) consecutive failures are free — bad light, a new pair of glasses or a
half-turned head fail honestly, and Face ID / Windows Hello also allow 5. From the 5th consecutive failure on,
the next attempt must wait `base_delay` (30 s), doubling with each further failure up to `max_delay` (5 min):
30, 60, 120, 240, 300, 300... s. A success resets the count.

Why these numbers: at the cap an attacker replaying photos or videos gets at most 12 tries an hour (~290 a
day), so even a matcher with a 1-in-10,000 false accept rate needs about a month of continuous tries on
average. The cap stays at 5 minutes because anyone standing in front of the camera can cause failures: a
passer-by must not be able to lock the owner out for long (same choice as Visage/Facelock: 5 min).

A face attempt is *reserved* before it runs (`reserve`): under an exclusive lock it is refused during a back-off,
otherwise it is counted as a failure at once and settled afterwards (`settle`: a match resets the count, an
attempt that never judged a face is handed back). So parallel attempts cannot all slip in under the limit, and an
attempt whose process is killed midway stays counted.

State lives in `paths.data_dir()/lockout.json` (written atomically) so restarting the process does not reset it.
A corrupt or unreadable state file counts as "locked out for the maximum back-off", never as "no failures", and
so does a missing state file once one has existed (a marker `.lockout.json.seen` is kept beside it).
Unlocking never depends on a write: a state that cannot be saved (a full disk) is kept in memory, used for every
later decision of this process and written again on the next call; the right password or face still unlocks.

What this does NOT protect against: in user mode (no daemon) the state file is the user's own, so any process
running as that user can delete both files or rewrite the count, exactly as the user could. These checks stop
accidents and careless tampering, not a same-user attacker. The daemon (system mode) keeps the lockout in its
own root-owned state directory, out of every user's reach: that is where the limit really holds.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from faceunlock import paths
from faceunlock.atomic import write_atomic

STATE_VERSION = 1

State = tuple[int, float | None]  # (consecutive failures, time of the last one)


@dataclass(frozen=True)
class Reservation:
    """The answer to `Lockout.reserve`: go ahead (counted as a failure until settled) or wait `wait_s`."""

    granted: bool
    wait_s: float = 0.0
    before: State = (0, None)  # the state the reservation replaced, restored when the attempt is handed back
    after: State = (0, None)


class Lockout:
    """Consecutive-failure counter with exponential back-off, persisted across processes."""

    def __init__(
        self,
        path: Path | None = None,
        clock: Callable[[], float] = time.time,
        max_failures: int = 5,
        base_delay: float = 30.0,
        max_delay: float = 300.0,
    ) -> None:
        if max_failures < 1 or base_delay <= 0 or max_delay < base_delay:
            raise ValueError("need max_failures >= 1 and 0 < base_delay <= max_delay")
        self.path = Path(path) if path is not None else paths.data_dir() / "lockout.json"
        self.marker = self.path.with_name(f".{self.path.name}.seen")
        self.clock = clock
        self.max_failures = max_failures
        self.base_delay = float(base_delay)
        self.max_delay = float(max_delay)
        self.unsaved: State | None = None  # the newest state when it could not be written (full disk)
        self._mutex = threading.RLock()  # in-process serialisation (lock screen: face thread + password thread)

    # -- policy ---------------------------------------------------------------------------------------------
    def delay_after(self, failures: int) -> float:
        """Seconds to wait after the last of `failures` consecutive failures."""
        if failures < self.max_failures:
            return 0.0
        exponent = min(failures - self.max_failures, 64)  # 2**64 * base is far past any cap
        return min(self.max_delay, self.base_delay * 2.0**exponent)

    def _failures_at_cap(self) -> int:
        return self.max_failures + math.ceil(math.log2(self.max_delay / self.base_delay))

    def _remaining(self, state: State) -> float:
        failures, last = state
        delay = self.delay_after(failures)
        if delay == 0.0 or last is None:
            return 0.0
        # Clamp: a clock that jumped backwards must not lock the owner out for longer than the back-off.
        return max(0.0, min(delay, last + delay - self.clock()))

    # -- state ----------------------------------------------------------------------------------------------
    def _write(self, failures: int, last_failure: float | None) -> None:
        """Save, or keep in memory when the disk refuses (never raises OSError: unlocking must not need it)."""
        state = {"version": STATE_VERSION, "failures": failures, "last_failure": last_failure}
        try:
            paths.ensure_private_dir(self.path.parent)
            write_atomic(self.path, json.dumps(state).encode("utf-8"), mode=0o600)
            if not self.marker.exists():  # after the state: a crash in between must not look like a deletion
                write_atomic(self.marker, b"faceunlock lockout state existed here\n", mode=0o600)
        except OSError:
            self.unsaved = (failures, last_failure)
            return
        self.unsaved = None

    def _read(self) -> State:
        """(failures, time of last failure). Missing file → no failures unless one existed; corrupt → max back-off.

        A state this process could not save is newer than the file: it is written again now, and used if that
        still fails.
        """
        if self.unsaved is not None:
            with self._mutex:
                if self.unsaved is not None:
                    self._write(*self.unsaved)
                if self.unsaved is not None:
                    return self.unsaved
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return self._corrupt() if self.marker.exists() else (0, None)
        except OSError:
            return self._corrupt()
        try:
            state = json.loads(raw)
            failures, last = state["failures"], state["last_failure"]
            valid = (
                state.get("version") == STATE_VERSION
                and type(failures) is int
                and failures >= 0
                and (last is None if failures == 0 else isinstance(last, int | float) and math.isfinite(last))
            )
            if not valid:
                raise ValueError("invalid lockout state")
        except (ValueError, KeyError, TypeError, AttributeError):
            return self._corrupt()
        return failures, (float(last) if last is not None else None)

    def _corrupt(self) -> State:
        state = (self._failures_at_cap(), float(self.clock()))
        self._write(*state)  # rewrite so the back-off runs out instead of restarting on every read
        return state

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise read-modify-write between processes (lock screen, CLI and daemon counting at once).

        When the lock file cannot be made (a full or read-only disk) only this process is serialised: the
        state cannot be written either then, so other processes have nothing to race for.
        """
        with self._mutex:
            fd = None
            try:
                paths.ensure_private_dir(self.path.parent)
                fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError:
                if fd is not None:
                    os.close(fd)
                fd = None
            try:
                yield
            finally:
                if fd is not None:
                    os.close(fd)  # closing releases the lock

    # -- API ------------------------------------------------------------------------------------------------
    @property
    def failures(self) -> int:
        """Consecutive failures since the last success (an attempt in progress counts as one)."""
        return self._read()[0]

    def seconds_remaining(self) -> float:
        """How long the caller must wait before the next attempt (0.0 = try now)."""
        return self._remaining(self._read())

    def record_failure(self) -> None:
        """Count one failed attempt (face or password) and start the back-off if past the threshold."""
        with self._locked():
            failures, _ = self._read()
            self._write(failures + 1, float(self.clock()))

    def record_success(self) -> None:
        """A successful unlock resets the count."""
        with self._locked():
            self._write(0, None)

    def reserve(self) -> Reservation:
        """Atomically: refuse during a back-off, else count this attempt as a failure now (see `settle`)."""
        with self._locked():
            before = self._read()
            if (wait := self._remaining(before)) > 0:
                return Reservation(False, wait, before, before)
            after = (before[0] + 1, float(self.clock()))
            self._write(*after)
            return Reservation(True, 0.0, before, after)

    def settle(self, reservation: Reservation, *, accepted: bool, counted: bool = True) -> None:
        """End a reserved attempt: accepted → reset; failed (`counted`) → stays counted, back-off from now;
        never judged a face (`counted=False`: empty frames, cancelled) → handed back."""
        if not reservation.granted:
            return
        with self._locked():
            if accepted:
                self._write(0, None)
                return
            failures, last = self._read()
            if counted:
                if failures > 0:
                    self._write(failures, float(self.clock()))
            elif (failures, last) == reservation.after:  # nothing else happened meanwhile: undo exactly
                self._write(*reservation.before)
            elif failures > 0:
                self._write(failures - 1, last if failures > 1 else None)
