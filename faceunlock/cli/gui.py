"""`faceunlock gui`: placeholder until the Qt wing lands (replaced by the GUI work)."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("gui", help="(GUI) not available yet")
    p.set_defaults(func=run)


def run(args) -> int:
    print("faceunlock: the Qt app is not built yet")
    return 2
