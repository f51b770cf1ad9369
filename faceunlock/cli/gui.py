"""`faceunlock gui`: the desktop app (status, enrolment wizard, recognition test, settings).

PySide6 and torch are imported only when the command runs, so `faceunlock --help` stays fast.
"""

from __future__ import annotations

import argparse
import sys

from faceunlock.cli.common import add_weights


def add_parser(sub) -> None:
    p = sub.add_parser("gui", help="open the face-unlock app: status, enrol, test recognition, settings",
                       description="Open the face-unlock app: see whether the model, calibration, keyring and "
                                   "camera are ready, enrol faces (and extra appearances), test recognition, "
                                   "choose the camera and turn lock-at-login on or off.")  # fmt: skip
    p.add_argument("--source", metavar="SRC",
                   help="camera index, video file or image folder for this run (default: the one in Settings)")  # fmt: skip
    add_weights(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from faceunlock.cli.common import require_gui
    from faceunlock.cli.lock import check_display

    require_gui()
    if (problem := check_display()) is not None:
        print(f"faceunlock: error: {problem}", file=sys.stderr)
        return 2
    from faceunlock.gui.app import run_app

    return run_app(args.weights, args.device, args.source)
