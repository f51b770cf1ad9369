"""Rate limiting of unlock attempts, shared by the lock screen, the CLI and any login hook.

Policy: the first `max_failures` (5) consecutive failures are free — bad light, a new pair of glasses or a
half-turned head fail honestly, and Face ID / Windows Hello also allow 5. From the 5th consecutive failure on,
the next attempt must wait `base_delay` (30 s), doubling with each further failure up to `max_delay` (5 min):
30, 60, 120, 240, 300, 300... s. A success resets the count.

Why these numbers: at the cap an attacker replaying photos or videos gets at most 12 tries an hour (~290 a
day), so even a matcher with a 1-in-10,000 false accept rate needs about a month of continuous tries on
average. The cap stays at 5 minutes because anyone standing in front of the camera can cause failures: a
passer-by must not be able to lock the owner out for long (same choice as Visage/Facelock: 5 min).

State lives in `paths.data_dir()/lockout.json` (written atomically) so restarting the process does not
reset it. A corrupt or unreadable state file counts as "locked out for the maximum back-off", never as "no
failures": deleting or garbling the file must not buy an attacker fresh tries.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from faceunlock import paths
from faceunlock.atomic import write_atomic

STATE_VERSION = 1


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
        self.clock = clock
        self.max_failures = max_failures
        self.base_delay = float(base_delay)
        self.max_delay = float(max_delay)

    # -- policy ---------------------------------------------------------------------------------------------
    def delay_after(self, failures: int) -> float:
        """Seconds to wait after the last of `failures` consecutive failures."""
        if failures < self.max_failures:
            return 0.0
        exponent = min(failures - self.max_failures, 64)  # 2**64 * base is far past any cap
        return min(self.max_delay, self.base_delay * 2.0**exponent)

    def _failures_at_cap(self) -> int:
        return self.max_failures + math.ceil(math.log2(self.max_delay / self.base_delay))

    # -- state ----------------------------------------------------------------------------------------------
    def _write(self, failures: int, last_failure: float | None) -> None:
        paths.ensure_private_dir(self.path.parent)
        state = {"version": STATE_VERSION, "failures": failures, "last_failure": last_failure}
        write_atomic(self.path, json.dumps(state).encode("utf-8"), mode=0o600)

    def _read(self) -> tuple[int, float | None]:
        """(failures, time of last failure). Missing file → no failures; corrupt → max back-off from now."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return 0, None
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

    def _corrupt(self) -> tuple[int, float]:
        state = (self._failures_at_cap(), float(self.clock()))
        try:
            self._write(*state)  # rewrite so the back-off runs out instead of restarting on every read
        except OSError:
            pass  # still fail closed: every read of an unwritable corrupt file means a full back-off
        return state

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise read-modify-write between processes (lock screen and CLI counting at the same time)."""
        paths.ensure_private_dir(self.path.parent)
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    # -- API ------------------------------------------------------------------------------------------------
    @property
    def failures(self) -> int:
        """Consecutive failures since the last success."""
        return self._read()[0]

    def seconds_remaining(self) -> float:
        """How long the caller must wait before the next attempt (0.0 = try now)."""
        failures, last = self._read()
        delay = self.delay_after(failures)
        if delay == 0.0 or last is None:
            return 0.0
        # Clamp: a clock that jumped backwards must not lock the owner out for longer than the back-off.
        return max(0.0, min(delay, last + delay - self.clock()))

    def record_failure(self) -> None:
        """Count one failed attempt (face or password) and start the back-off if past the threshold."""
        with self._locked():
            failures, _ = self._read()
            self._write(failures + 1, float(self.clock()))

    def record_success(self) -> None:
        """A successful unlock resets the count."""
        with self._locked():
            self._write(0, None)
