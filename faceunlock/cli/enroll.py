"""`faceunlock enroll USER --source SRC`: capture good frames, save encrypted templates."""

from __future__ import annotations

from faceunlock.cli.common import add_json, add_source, add_weights, emit_json, open_cli_source, open_store


def add_parser(sub) -> None:
    p = sub.add_parser("enroll", help="enrol a user's face from a camera, video or photos",
                       description="Enrol USER: pick good, varied frames from SRC and store encrypted templates. "
                                   "Adds an appearance when USER exists (e.g. --label glasses).")  # fmt: skip
    p.add_argument("user")
    add_source(p)
    add_weights(p)
    p.add_argument("--frames", type=int, default=20, metavar="N", help="usable frames to collect (default 20)")
    p.add_argument("--max-frames", type=int, default=300, metavar="N", help="give up after N frames (default 300)")
    p.add_argument("--label", default="default", help="name of this appearance (default, glasses, beard …)")
    p.add_argument("--replace", action="store_true", help="replace USER's existing templates instead of adding")
    add_json(p)
    from faceunlock.cli.daemon import add_daemon_flag

    add_daemon_flag(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from faceunlock.auth import Engine
    from faceunlock.enrollment import EnrollmentSession
    from faceunlock.store import TemplateEntry, validate_user

    validate_user(args.user)
    if args.daemon:
        from faceunlock.cli.daemon import enroll_via_daemon

        return enroll_via_daemon(args, args.daemon)
    store = open_store()
    engine = Engine.load(args.weights, args.device, liveness=False)
    session = EnrollmentSession(engine.processor, engine.calibration, target_frames=args.frames)
    with open_cli_source(args, limit=args.max_frames) as src:
        for frame in src:
            session.offer(frame)
            if session.done:
                break
    result = session.finish()
    entry = TemplateEntry.create(result.embeddings, engine.backbone.name, engine.backbone.sha256, args.label)
    store.put_appearance(args.user, entry, replace_all=args.replace)
    info = {"user": args.user, "label": args.label, "templates": len(result.embeddings),
            "frames_seen": result.frames_seen, "frames_usable": result.frames_usable,
            "outliers": result.outliers, "rejected": result.rejected, "model": engine.backbone.name}  # fmt: skip
    if args.json:
        emit_json(info)
    else:
        print(f"enrolled {args.user} ({args.label}): {len(result.embeddings)} templates from "
              f"{result.frames_usable} usable of {result.frames_seen} frames, model {engine.backbone.name}")  # fmt: skip
    return 0

