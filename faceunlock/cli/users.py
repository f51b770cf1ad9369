"""`faceunlock users list | remove USER`."""

from __future__ import annotations

from faceunlock.cli.common import add_json, emit_json, open_store


def add_parser(sub) -> None:
    p = sub.add_parser("users", help="list or remove enrolled users", description="List or remove enrolled users.")
    usub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    lp = usub.add_parser("list", help="list enrolled users and their appearances")
    add_json(lp)
    rp = usub.add_parser("remove", help="delete a user's templates")
    rp.add_argument("user")
    from faceunlock.cli.daemon import add_daemon_flag

    for sp in (lp, rp):
        add_daemon_flag(sp)
    p.set_defaults(func=run)


def run(args) -> int:
    if args.daemon:
        from faceunlock.cli.daemon import users_via_daemon

        return users_via_daemon(args, args.daemon)
    store = open_store()
    if args.action == "remove":
        from faceunlock.store import validate_user

        if not store.remove(validate_user(args.user)):
            print(f"faceunlock: no user '{args.user}'")
            return 2
        print(f"removed {args.user}")
        return 0
    rows = []
    for user in store.users():
        t = store.load(user)
        rows.append({"user": user, "appearances": [
            {"label": e.label, "templates": len(e.embeddings), "model": e.backbone, "created": e.created}
            for e in t.entries]})  # fmt: skip
    if getattr(args, "json", False):
        emit_json({"users": rows})
    elif not rows:
        print("no users enrolled (faceunlock enroll USER --source 0)")
    for r in rows if not getattr(args, "json", False) else []:
        apps = ", ".join(f"{a['label']} ({a['templates']} templates, {a['model']})" for a in r["appearances"])
        print(f"{r['user']}: {apps}")
    return 0
