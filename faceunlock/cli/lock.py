"""`faceunlock lock`: lock the screen until the enrolled face or the fallback password unlocks it.

Exit 0 when unlocked; 2 when it refuses to lock because nothing could unlock it (no fallback password, the
keyring unavailable) or there is no display. PySide6 and torch are imported only when the command runs; the
window is shown before the face model loads.

Frames come only from a camera unless a file source is given on this command line (issue 9.7): the settings
file is writable by any process of the user, so a video named there would unlock with nobody at the camera.
A video or folder given with --source (tests, demos) is announced on the lock screen itself.
"""

from __future__ import annotations

import argparse
import os
import sys

from faceunlock.cli.common import add_weights


def add_parser(sub) -> None:
    p = sub.add_parser("lock", help="lock the screen; your face or your fallback password unlocks it",
                       description="Lock every screen until USER's face passes a multi-frame check or the "
                                   "fallback password is typed. After 5 failed attempts each further try waits "
                                   "(30 s, doubling up to 5 min). Exit 0 when unlocked, 2 when it cannot lock "
                                   "safely (no fallback password set, keyring unavailable, no display).")  # fmt: skip
    p.add_argument("--user", help="whose face unlocks (default: your login name)")
    p.add_argument("--source", metavar="SRC",
                   help="camera index (default: the camera in Settings, else 0); a video file or image folder only "
                        "for tests and demos, and the lock screen then says so")  # fmt: skip
    p.add_argument("--skip", type=int, default=0, metavar="N", help="skip the first N frames of a video source")
    add_weights(p)
    p.add_argument("--frames", type=int, metavar="N",
                   help="good frames per decision, 60%% of which must match (default: Settings, else 5)")  # fmt: skip
    p.add_argument("--face-delay", type=float, default=4.0, metavar="S",
                   help="after locking, face unlock waits S seconds unless your face leaves the view "
                        "(so it does not unlock while you are still sitting there; default 4)")  # fmt: skip
    p.set_defaults(func=run)


def check_display() -> str | None:
    """Why no window can be shown, or None. (Without a display Qt would abort the process.)"""
    if os.environ.get("QT_QPA_PLATFORM") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return "no graphical session (DISPLAY / WAYLAND_DISPLAY not set): run this from your desktop"


def run(args: argparse.Namespace) -> int:
    import getpass

    from faceunlock.cli.common import require_gui
    from faceunlock.errors import KeyringError
    from faceunlock.gui.settings import Settings
    from faceunlock.policy import AuthPolicy
    from faceunlock.secrets import has_password
    from faceunlock.store import validate_user

    require_gui()
    user = validate_user(args.user or getpass.getuser())
    settings = Settings.load()
    policy = AuthPolicy.for_window(args.frames or settings.window)
    if (problem := check_display()) is not None:
        print(f"faceunlock: error: {problem}", file=sys.stderr)
        return 2
    # A lock nothing can open is worse than no lock: refuse unless the password can be checked right now.
    try:
        if not has_password():
            print("faceunlock: error: no fallback password is set, so a missing camera would lock you out. "
                  "Run `faceunlock gui` and enrol (it asks for the password).", file=sys.stderr)  # fmt: skip
            return 2
    except KeyringError as e:
        raise KeyringError(f"not locking: the fallback password could not be checked. {e}") from e
    from faceunlock.gui.lock_process import run_lock

    if settings.ignored_source and not args.source:
        print(f"faceunlock lock: warning: ignoring source {settings.ignored_source!r} in the settings file: the "
              f"lock takes frames only from a camera (using camera {settings.source}); give a video or folder "
              "with --source for a test or demo", file=sys.stderr)  # fmt: skip
    return run_lock(user, args.source or settings.source, weights=args.weights, device=args.device,
                    window=policy.window, required=policy.required, rearm_s=max(0.0, args.face_delay),
                    skip=args.skip)  # fmt: skip
