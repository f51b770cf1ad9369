"""`faceunlock password`: set or change the fallback password (the one that always unlocks).

Changing it needs the current one (issue 9.6): asked on the terminal, or --password-stdin reads two lines (the
current password, then the new one; only the new one when none is set yet). A wrong current password exits 1
and counts against the lockout, as at the lock screen.
"""

from __future__ import annotations

import sys


def add_parser(sub) -> None:
    from faceunlock.cli.enroll import add_password_stdin

    p = sub.add_parser("password", help="set or change the fallback password (needs the current one)",
                       description="Set the fallback password, or change it: the current one is needed. "
                                   "Exit 0 changed, 1 wrong current password (counted as a failed attempt), "
                                   "2 error.")  # fmt: skip
    add_password_stdin(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from faceunlock.cli.enroll import read_password
    from faceunlock.proof import change_password, validate_new_password
    from faceunlock.secrets import has_password

    current = read_password(args, "Current fallback password: ") if has_password() else None
    new = validate_new_password(read_password(args, "New fallback password: ", confirm=True))
    change_password(current, new)
    print("fallback password " + ("changed" if current is not None else "set"), file=sys.stderr)
    return 0
