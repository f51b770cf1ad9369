"""`faceunlock` entry point. Answers --help without importing torch; maps errors to exit codes.

Exit codes: 0 success / accepted, 1 rejected (verify), 2 error (the message says what to do), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

COMMANDS = ["enroll", "verify", "users", "align", "calibrate", "evaluate", "fine_tune", "doctor", "models", "gui",
            "lock", "autostart", "daemon", "system", "password"]  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    from faceunlock import __version__

    p = argparse.ArgumentParser(
        prog="faceunlock",
        description="Face unlock for the desktop: enrol your face, unlock with it; nobody else gets in.",
        epilog="Exit codes: 0 ok/accepted, 1 rejected, 2 error. Data lives in XDG dirs unless --home is given.",
    )
    p.add_argument("--version", action="version", version=f"faceunlock {__version__}")
    p.add_argument("--home", metavar="DIR",
                   help="keep all user data (templates, calibration, config, cache) under DIR "
                        "(same as FACEUNLOCK_HOME); for tests and trials")  # fmt: skip
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"faceunlock.cli.{name}").add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    from faceunlock.errors import FaceUnlockError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.home:
        os.environ["FACEUNLOCK_HOME"] = os.path.abspath(os.path.expanduser(args.home))
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except FaceUnlockError as e:
        print(f"faceunlock: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("faceunlock: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
