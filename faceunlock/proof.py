"""Proof of identity before a face or the fallback password of an enrolled user is changed (issue 9.6).

Rule (Face ID asks for the passcode, Windows Hello for the PIN): a user's *first* enrolment is free; adding an
appearance to, or replacing the templates of, an enrolled user, and changing the fallback password, need the
current fallback password. With no password set yet, the first one is set at that enrolment (the GUI wizard
has always done so; the CLI now too), so after any enrolment every later change is guarded.

A wrong password is counted against the shared lockout (faceunlock.lockout), exactly like one typed at the lock
screen, and refused without checking during a back-off: the secret is the same, so an unthrottled check here
would be a guessing oracle (`enroll --password-stdin` in a loop) that side-steps the lock screen's limit.

Limits (user mode): the check guards the app's own paths; a process running as the user can still write the
keyring and the template files directly. The daemon (system mode) is where those are closed.
"""

from __future__ import annotations

from dataclasses import dataclass

from faceunlock import secrets
from faceunlock.errors import FaceUnlockError, InvalidInput

MIN_PASSWORD = 6  # the GUI wizard's rule, shared so the CLI sets no weaker password


class PasswordRefused(FaceUnlockError):
    """The fallback password given as proof was wrong, or the lockout back-off is running (exit 1: refused)."""

    exit_code = 1


@dataclass(frozen=True)
class Gate:
    """What an enrolment must do first: `set` a first password, `check` the current one, or nothing."""

    set_password: bool
    check_password: bool


def enrolment_gate(user_enrolled: bool) -> Gate:
    """The rule above, from whether the user already has templates and whether a password exists (keyring)."""
    if not secrets.has_password():
        return Gate(set_password=True, check_password=False)
    return Gate(set_password=False, check_password=user_enrolled)


def validate_new_password(pw: str, again: str | None = None) -> str:
    """InvalidInput unless `pw` is long enough (and equal to `again` when given)."""
    if len(pw) < MIN_PASSWORD:
        raise InvalidInput(f"the fallback password needs at least {MIN_PASSWORD} characters")
    if again is not None and pw != again:
        raise InvalidInput("the two passwords differ")
    return pw


def prove(pw: str, lockout=None) -> None:
    """Check `pw` as proof of identity, counted against the lockout; PasswordRefused when wrong or waiting.

    The attempt is reserved before the check (a killed process stays counted) and settled after: the right
    password resets the count, as it does at the lock screen.
    """
    from faceunlock.lockout import Lockout

    lockout = lockout or Lockout()
    reservation = lockout.reserve()
    if not reservation.granted:
        raise PasswordRefused(f"too many failed attempts: try again in {reservation.wait_s:.0f} s")
    try:
        ok = secrets.check_password(pw)
    except BaseException:  # the keyring failed: nothing was judged, hand the attempt back
        lockout.settle(reservation, accepted=False, counted=False)
        raise
    lockout.settle(reservation, accepted=ok, counted=True)
    if not ok:
        raise PasswordRefused("wrong fallback password (counted as a failed attempt)")


def change_password(current: str | None, new: str, lockout=None) -> None:
    """Set a new fallback password: `current` must prove identity when one is set already."""
    validate_new_password(new)
    if secrets.has_password():
        prove(current or "", lockout)
    secrets.set_password(new)
