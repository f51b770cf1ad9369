"""`faceunlock verify USER --source SRC`: one authentication attempt. Exit 0 accepted, 1 rejected, 2 error."""

from __future__ import annotations

from faceunlock.cli.common import add_json, add_source, add_weights, emit_json, open_cli_source
from faceunlock.policy import AuthPolicy


def add_parser(sub) -> None:
    p = sub.add_parser("verify", help="check a face against USER's templates (exit 0 accepted, 1 rejected)",
                       description="One authentication attempt over SRC under the lockout policy. "
                                   "Exit 0 accepted, 1 rejected, 2 error (tampered store, no model, no keyring).")  # fmt: skip
    p.add_argument("user")
    add_source(p, required=False)
    add_weights(p)
    d = AuthPolicy()
    p.add_argument("--frames", type=int, default=d.max_frames, metavar="N",
                   help=f"give up after N frames (default {d.max_frames})")
    p.add_argument("--required", type=int, default=d.required, help=f"matching frames needed (default {d.required})")
    p.add_argument("--window", type=int, default=d.window,
                   help=f"…within this many consecutive usable frames (default {d.window})")  # fmt: skip
    p.add_argument("--timeout", type=float, default=None, metavar="S", help="give up after S seconds")
    p.add_argument("--no-liveness", action="store_true",
                   help="skip the photo/screen check (MiniFASNet); only for cameras where it misjudges live faces")  # fmt: skip
    p.add_argument("--timings", action="store_true",
                   help="print the cold-start phases on stderr (start and imports, model, templates, first frame, "
                        "decision)")  # fmt: skip
    add_json(p)
    from faceunlock.cli.daemon import add_daemon_flag

    add_daemon_flag(p)
    p.set_defaults(func=run)


def _since_process_start() -> float:
    """Seconds since this process was started (Linux /proc), so interpreter start and imports are counted."""
    import os

    with open("/proc/self/stat") as f:
        start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    return uptime - start_ticks / os.sysconf("SC_CLK_TCK")


def run(args) -> int:
    import time

    marks = [("start and imports", _since_process_start())]
    t0 = time.perf_counter() - marks[0][1]

    def mark(name: str) -> None:
        marks.append((name, time.perf_counter() - t0))

    from faceunlock.auth import Engine, authenticate, user_templates
    from faceunlock.cli.common import open_store
    from faceunlock.lockout import Lockout
    from faceunlock.store import validate_user

    validate_user(args.user)
    from faceunlock.cli.daemon import resolve_socket, verify_via_daemon

    if (socket_path := resolve_socket(args)) is not None:
        return verify_via_daemon(args, socket_path)
    store = open_store()
    if not store.exists(args.user):
        from faceunlock.errors import StoreError

        raise StoreError(f"no templates for '{args.user}': enrol first (faceunlock enroll {args.user} --source …)")
    mark("store opened")
    engine = Engine.load(args.weights, args.device, liveness=not args.no_liveness)
    mark("model, calibration, liveness")
    templates = user_templates(store, args.user, engine.backbone)
    mark("templates (keyring, decrypt)")
    policy = AuthPolicy(required=args.required, window=args.window, max_frames=args.frames,
                        timeout_s=args.timeout)  # fmt: skip

    def frames():  # opened only once the lockout has let the attempt go ahead: a locked-out user's camera stays off
        with open_cli_source(args) as src:
            yield from src

    def first_frame(_r) -> None:
        if len(marks) == 4:
            mark("first frame analysed")

    source = frames()
    try:
        decision = authenticate(engine, templates, source, lockout=Lockout(), policy=policy, on_frame=first_frame)
    finally:
        source.close()  # release the camera now, not at garbage collection
    mark("decision")
    if args.timings:
        import sys

        prev = 0.0
        for name, t in marks:
            print(f"timing: {name:<30} at {t:6.2f} s  (+{t - prev:5.2f})", file=sys.stderr)
            prev = t
    if args.json:
        emit_json({"user": args.user, **decision.to_dict()})
    else:
        verdict = "ACCEPTED" if decision.accepted else "REJECTED"
        print(f"{verdict}: {decision.reason}")
    return 0 if decision.accepted else 1
