"""`faceunlock enroll USER --source SRC`: capture good frames, save encrypted templates.

Proof of identity (issue 9.6, faceunlock.proof): USER's first enrolment is free; adding an appearance or
replacing the templates of an enrolled USER needs the fallback password, asked on the terminal (getpass) or read
from stdin with --password-stdin. With no password set yet, the first one is set here (twice on a terminal, one
line with --password-stdin). A wrong password exits 1 and counts against the lockout; no terminal and no
--password-stdin when one is needed exits 2. The password is settled before the camera opens or the model loads.
"""

from __future__ import annotations

import sys

from faceunlock.cli.common import add_json, add_source, add_weights, emit_json, open_cli_source, open_store


def add_parser(sub) -> None:
    p = sub.add_parser("enroll", help="enrol a user's face from a camera, video or photos",
                       description="Enrol USER: pick good, varied frames from SRC and store encrypted templates. "
                                   "Adds an appearance when USER exists (e.g. --label glasses); that, and "
                                   "--replace, need the fallback password. The first enrolment sets the "
                                   "fallback password if none is set yet.")  # fmt: skip
    p.add_argument("user")
    add_source(p)
    add_weights(p)
    p.add_argument("--frames", type=int, default=20, metavar="N", help="usable frames to collect (default 20)")
    p.add_argument("--max-frames", type=int, default=300, metavar="N", help="give up after N frames (default 300)")
    p.add_argument("--label", default="default", help="name of this appearance (default, glasses, beard …)")
    p.add_argument("--replace", action="store_true", help="replace USER's existing templates instead of adding")
    add_password_stdin(p)
    add_json(p)
    from faceunlock.cli.daemon import add_daemon_flag

    add_daemon_flag(p)  # through faceunlockd: its camera, its system store, the account password via PAM
    p.set_defaults(func=run)


def add_password_stdin(p) -> None:
    p.add_argument("--password-stdin", action="store_true",
                   help="read the fallback password from the first line of stdin instead of prompting (scripts); "
                        "when none is set yet, that line sets it")  # fmt: skip


def read_password(args, prompt: str, confirm: bool = False) -> str:
    """One password: a line of stdin (--password-stdin) or getpass on a terminal (twice when `confirm`)."""
    import getpass

    from faceunlock.errors import InvalidInput

    if args.password_stdin:
        line = sys.stdin.readline()
        if not line:
            raise InvalidInput("--password-stdin: stdin ended before a password line")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise InvalidInput(f"{prompt.rstrip(': ')} is needed, but there is no terminal to ask on: pass "
                           "--password-stdin and write it on stdin")  # fmt: skip
    pw = getpass.getpass(prompt)
    if confirm and getpass.getpass("Again: ") != pw:
        raise InvalidInput("the two passwords differ")
    return pw


def run(args) -> int:
    from faceunlock.proof import enrolment_gate, prove, validate_new_password
    from faceunlock.store import TemplateEntry, validate_user

    validate_user(args.user)
    if args.daemon:
        from faceunlock.cli.daemon import enroll_via_daemon

        return enroll_via_daemon(args, args.daemon)
    store = open_store()
    enrolled = store.exists(args.user)
    gate = enrolment_gate(enrolled)
    new_password = None
    if gate.set_password:
        new_password = validate_new_password(
            read_password(args, "Choose a fallback password (it always unlocks, also without a camera): ",
                          confirm=True))  # fmt: skip
    elif gate.check_password:
        what = "replace" if args.replace else "add an appearance to"
        prove(read_password(args, f"Fallback password (needed to {what} {args.user}): "))

    from faceunlock.auth import Engine
    from faceunlock.enrollment import EnrollmentSession

    with open_cli_source(args, limit=args.max_frames) as src:  # a bad source fails before the model loads
        engine = Engine.load(args.weights, args.device, liveness=False)
        session = EnrollmentSession(engine.processor, engine.calibration, target_frames=args.frames)
        if new_password is not None:  # as the GUI wizard: the password is in place before the face
            from faceunlock.secrets import set_password

            set_password(new_password)
        for frame in src:
            session.offer(frame)
            if session.done:
                break
    result = session.finish()
    entry = TemplateEntry.create(result.embeddings, engine.backbone.name, engine.backbone.sha256, args.label)
    store.put_appearance(args.user, entry, replace_all=args.replace)
    info = {"user": args.user, "label": args.label, "templates": len(result.embeddings),
            "frames_seen": result.frames_seen, "frames_usable": result.frames_usable,
            "outliers": result.outliers, "rejected": result.rejected, "model": engine.backbone.name,
            "password_set": new_password is not None}  # fmt: skip
    if args.json:
        emit_json(info)
    else:
        print(f"enrolled {args.user} ({args.label}): {len(result.embeddings)} templates from "
              f"{result.frames_usable} usable of {result.frames_seen} frames, model {engine.backbone.name}"
              + ("; fallback password set" if new_password is not None else ""))  # fmt: skip
    return 0
