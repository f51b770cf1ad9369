"""`faceunlock doctor`: is everything needed to unlock in place? Plain words and what to do; exit 2 if not."""

from __future__ import annotations

from faceunlock.cli.common import add_json, add_weights, emit_json


def add_parser(sub) -> None:
    p = sub.add_parser("doctor", help="check camera, model, calibration, keyring and device",
                       description="Check each part faceunlock needs and say what to do about a missing one.")  # fmt: skip
    add_weights(p)
    p.add_argument("--source", default="0", metavar="SRC", help="camera index or video/folder to check (default 0)")
    add_json(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from dataclasses import asdict

    from faceunlock.health import State, check_all

    health = check_all(args.source, args.weights, args.device)
    if args.json:
        emit_json({"ok": health.ok, "checks": [{**asdict(c), "ok": c.ok} for c in health.checks],
                   "users": [asdict(u) for u in health.users]})  # fmt: skip
    else:
        marks = {State.OK: "✓", State.WARN: "!", State.ERROR: "✗"}
        for c in health.checks:
            more = f" ({c.detail})" if c.detail and c.state != State.OK else ""
            print(f"{marks[c.state]} {c.key:<12} {c.text}{more}" + (f"\n    → {c.fix}" if c.fix else ""))
    return 0 if health.ok else 2
