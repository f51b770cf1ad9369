"""`faceunlock autostart enable|disable|status`: start the lock screen at login (XDG autostart)."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("autostart", help="start `faceunlock lock` at login (XDG autostart entry)",
                       description="Write or remove $XDG_CONFIG_HOME/autostart/faceunlock-lock.desktop.")  # fmt: skip
    p.add_argument("action", choices=["enable", "disable", "status"])
    p.set_defaults(func=run)


def run(args) -> int:
    from faceunlock.system import autostart

    if args.action == "enable":
        print(f"enabled: {autostart.enable()}")
    elif args.action == "disable":
        print("disabled" if autostart.disable() else "was not enabled")
    else:
        st = autostart.status()
        print(f"{'enabled' if st['enabled'] else 'disabled'}: {st['path']}"
              + (f"\ncommand: {' '.join(st['command'])}" if st.get("command") else ""))  # fmt: skip
    return 0
