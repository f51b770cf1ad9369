"""`faceunlock system install|uninstall|status`: the PAM module, its profile and the daemon (logic in
faceunlock.system.install)."""

from __future__ import annotations


def add_parser(sub) -> None:
    from faceunlock.system.install import DEFAULT_SERVICES, LOGIN_MANAGERS, SOCKET

    p = sub.add_parser("system", help="use your face for sudo, polkit and screen lockers (PAM module + daemon)",
                       description="Install or remove the PAM module, its pam-auth-update profile and the daemon "
                                   "(needs root). The face is sufficient, never required: every failure falls "
                                   f"through to the password. Face on by default for: {', '.join(DEFAULT_SERVICES)}; "
                                   f"off for login managers ({', '.join(LOGIN_MANAGERS)}): a face login leaves the "
                                   "login keyring locked.")  # fmt: skip
    p.add_argument("action", choices=["install", "uninstall", "status"])
    p.add_argument("--root", default="/", metavar="DIR", help="act on a copy of the system under DIR (tests)")
    p.add_argument("--dry-run", action="store_true", help="print every file it would write or change; change nothing")
    p.add_argument("--enable", action="append", metavar="SERVICE", help="also offer the face to this PAM service "
                   "(e.g. gdm-password: GNOME's lock screen and its login; repeatable)")  # fmt: skip
    p.add_argument("--disable", action="append", metavar="SERVICE", help="do not offer the face to this PAM service")
    p.add_argument("--socket", default=SOCKET, help=f"the daemon's socket (default {SOCKET})")
    p.add_argument("--timeout", type=float, default=3.0, help="seconds the module waits for a face (default 3)")
    p.add_argument("--source", default="0", help="camera the daemon opens (default 0)")
    p.add_argument("--systemd", choices=["auto", "yes", "no"], default="auto",
                   help="write a systemd unit (auto: when systemd runs and --root is /)")  # fmt: skip
    p.add_argument("--purge", action="store_true", help="uninstall: also delete the enrolled faces and their key")
    p.add_argument("--json", action="store_true", help="status: one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from faceunlock.cli.common import emit_json
    from faceunlock.system import install as inst

    if not 0.1 <= args.timeout <= 60:
        raise inst.InstallError("--timeout must be between 0.1 and 60 seconds")
    services, warnings = inst.choose_services(args.enable, args.disable)
    opts = inst.Options(root=Path(args.root), services=services, socket=args.socket, timeout=args.timeout,
                        systemd={"auto": None, "yes": True, "no": False}[args.systemd], source=args.source,
                        dry_run=args.dry_run)  # fmt: skip
    if args.action == "status":
        st = inst.status(opts)
        if args.json:
            emit_json(st)
            return 0
        print(f"installed: {'yes' if st['installed'] else 'no'}")
        print(f"module: {st['module'] or 'not installed'}")
        print(f"profile: {st['profile'] or 'none'}")
        print(f"daemon: {'answers' if st['daemon']['answers'] else 'not answering'} ({st['daemon']['detail']})")
        for name, how in st["pam_services"].items():
            print(f"  {name}: {how}")
        if not st["pam_services"]:
            print("  no PAM service uses pam_faceunlock.so")
        return 0
    for w in warnings:
        print(f"warning: {w}")
    lines = inst.install(opts) if args.action == "install" else inst.uninstall(opts, purge=args.purge)
    prefix = "would " if args.dry_run else ""
    for line in lines:
        print(prefix + line)
    if args.dry_run:
        print("dry run: nothing was changed")
    return 0
