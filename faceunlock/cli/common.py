"""Flags and small helpers shared by several commands (sources, weights, JSON output)."""

from __future__ import annotations

import argparse
import json
import sys


def add_weights(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", default="auto", metavar="W",
                   help="auto (default: InceptionResnetV1 vggface2 if present, else the bundled dlib ResNet-34), "
                        "vggface2, casia-webface, dlib-resnet34, or a path to weights / a fine-tune output folder")  # fmt: skip
    p.add_argument("--device", default="cpu", help="torch device (cpu, cuda, cuda:0 …); default cpu")


def add_source(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--source", nargs="+", required=required, metavar="SRC",
                   help="camera index (0), a video file, image file(s) or a folder of images")  # fmt: skip
    p.add_argument("--skip", type=int, default=0, metavar="N", help="skip the first N frames of the source")
    p.add_argument("--step", type=int, default=1, metavar="K", help="use every K-th frame")


def open_cli_source(args: argparse.Namespace, limit: int | None = None):
    from faceunlock.capture import open_source

    spec = args.source if len(args.source) > 1 else args.source[0]
    return open_source(spec, skip=args.skip, limit=limit, step=args.step)


def add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def emit_json(obj: dict) -> None:
    json.dump(obj, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def open_store():
    from faceunlock.store import TemplateStore

    return TemplateStore()


def require_gui() -> None:
    """The windows need PySide6, an optional extra: say how to get it instead of a traceback."""
    from faceunlock.errors import FaceUnlockError

    try:
        import PySide6  # noqa: F401
    except ImportError:
        raise FaceUnlockError("the desktop app needs PySide6, an optional extra: pip install 'faceunlock[gui]' "
                              "(scripts/run.sh installs it)") from None  # fmt: skip
