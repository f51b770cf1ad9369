"""`faceunlock daemon --socket PATH --state-dir DIR [--source SRC] [--key-file F]`: run faceunlockd in the foreground.

Thin: the service wing does the work. The environment is cleaned first so nothing a user could set (a models
folder, a home override, "allow untrained") reaches the daemon's model choice.
"""

from __future__ import annotations

import os
import signal


def add_parser(sub) -> None:
    p = sub.add_parser("daemon", help="run faceunlockd, the warm face-authentication service (as root)",
                       description="Serve face authentication and enrolment over a Unix socket (docs/protocol.md). "
                                   "Keeps the model loaded; owns the camera, the system template store, its key "
                                   "and the lockout.")  # fmt: skip
    p.add_argument("--socket", default="/run/faceunlock/faceunlockd.sock", metavar="PATH",
                   help="Unix socket to listen on (default /run/faceunlock/faceunlockd.sock)")  # fmt: skip
    p.add_argument("--state-dir", default="/var/lib/faceunlock", metavar="DIR",
                   help="templates and lockout state, 0700 (default /var/lib/faceunlock)")  # fmt: skip
    p.add_argument("--source", default="0", metavar="SRC",
                   help="camera index (default 0), or a video file / image folder for tests and demos")  # fmt: skip
    p.add_argument("--key-file", default=None, metavar="F",
                   help="the store key, 0600 (default /etc/faceunlock/store.key for the default state dir, "
                        "else DIR.key beside the state dir)")  # fmt: skip
    p.add_argument("--weights", default="auto", metavar="W", help="model, as for verify (must be root-owned)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--pam-service", default="faceunlock", metavar="NAME",
                   help="PAM service that checks a user's password before they change their face (default "
                        "faceunlock: install faceunlock/service/pam.d/faceunlock as /etc/pam.d/faceunlock)")  # fmt: skip
    p.add_argument("--frames", type=int, default=60, metavar="N", help="frames one attempt may look at (60)")
    p.add_argument("--timeout", type=float, default=15.0, metavar="S", help="seconds one attempt may take (15)")
    p.set_defaults(func=run)


def clean_environment(state_dir: str) -> None:
    """Model search and calibrations only from root's places: drop user-settable overrides."""
    for name in ("FACEUNLOCK_MODELS", "FACEUNLOCK_ALLOW_UNTRAINED", "FACEUNLOCK_SOCKET"):
        os.environ.pop(name, None)
    os.environ["FACEUNLOCK_HOME"] = os.path.join(os.path.abspath(state_dir), "home")


def run(args) -> int:
    clean_environment(args.state_dir)
    from faceunlock.service.server import Daemon, log

    daemon = Daemon(args.socket, args.state_dir, source=args.source, key_file=args.key_file, weights=args.weights,
                    device=args.device, pam_service=args.pam_service, max_frames=args.frames,
                    timeout_s=args.timeout)  # fmt: skip
    daemon.load()

    def stop(signum, _frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    daemon.bind()
    try:
        daemon.serve_forever()
    finally:
        daemon.close()
        log("stopped")
    return 0


# -- the client commands' daemon path (verify/enroll/users --daemon): kept here so those files change by a line --
def add_daemon_flag(p) -> None:
    p.add_argument("--daemon", metavar="SOCKET", default=None,
                   help="ask a running faceunlock daemon at SOCKET (its own camera and system store) instead of "
                        "loading a model here; verify without --source uses the system daemon when it runs")  # fmt: skip


def resolve_socket(args):
    """The socket named by --daemon, or the system socket for a command given no --source (None: run locally)."""
    from faceunlock.daemon_client import SYSTEM_SOCKET, system_socket
    from faceunlock.errors import InvalidInput

    if getattr(args, "daemon", None):
        return args.daemon
    if getattr(args, "source", True):
        return None
    found = system_socket()
    if found is None:
        raise InvalidInput(f"give --source SRC, or start the faceunlock daemon (no socket at {SYSTEM_SOCKET})")
    return found


def _ranges(args, default_limit: int | None = None) -> dict:
    out = {}
    if getattr(args, "skip", 0):
        out["skip"] = args.skip
    limit = getattr(args, "max_frames", None)
    if limit is not None and limit != default_limit:
        out["limit"] = limit
    return out


def _note_source(args) -> None:
    import sys

    if getattr(args, "source", None):
        print("faceunlock: note: the daemon reads its own camera/source; --source is not sent to it "
              "(--skip/--max-frames are, for a recorded source)", file=sys.stderr)  # fmt: skip


def _password(prompt: str) -> str:
    import getpass

    return getpass.getpass(prompt + " ")


def _exit_code(word: str) -> int:
    return {"OK": 0, "FAIL": 1}.get(word, 2)


def verify_via_daemon(args, path) -> int:
    """`verify USER --daemon SOCKET`: exit 0 accepted (OK), 1 refused (FAIL), 2 anything else."""
    import sys

    from faceunlock.cli.common import emit_json
    from faceunlock.daemon_client import DaemonClient

    reply = DaemonClient(path).verify(args.user, **_ranges(args))
    if args.json:
        emit_json({"user": args.user, "result": reply.word, "message": reply.text, **(reply.decision or {})})
    elif reply.word == "OK":
        print(f"ACCEPTED: {reply.text}")
    elif reply.word == "FAIL":
        print(f"REJECTED: {reply.text}")
    else:
        print(f"faceunlock: daemon: {reply.word} {reply.text}", file=sys.stderr)
    return _exit_code(reply.word)


def enroll_via_daemon(args, path) -> int:
    import sys

    from faceunlock.cli.common import emit_json
    from faceunlock.daemon_client import DaemonClient

    _note_source(args)
    reply = DaemonClient(path, timeout=600).enroll(args.user, label=args.label, replace=args.replace,
                                                   password=_password, **_ranges(args, default_limit=300))  # fmt: skip
    if reply.word != "OK":
        print(f"faceunlock: daemon: {reply.word} {reply.text}", file=sys.stderr)
        return 2
    info = reply.payload()
    if args.json:
        emit_json(info)
    else:
        print(f"enrolled {info.get('user')} ({info.get('label')}) in the system store: {info.get('templates')} "
              f"templates from {info.get('frames_usable')} usable of {info.get('frames_seen')} frames, "
              f"model {info.get('model')}")  # fmt: skip
    return 0


def users_via_daemon(args, path) -> int:
    import sys

    from faceunlock.cli.common import emit_json
    from faceunlock.daemon_client import DaemonClient

    client = DaemonClient(path)
    if args.action == "remove":
        reply = client.remove(args.user, password=_password)
        if reply.word != "OK":
            print(f"faceunlock: daemon: {reply.word} {reply.text}", file=sys.stderr)
            return 2
        print(f"removed {args.user} from the system store")
        return 0
    reply = client.list_users()
    if reply.word != "OK":
        print(f"faceunlock: daemon: {reply.word} {reply.text}", file=sys.stderr)
        return 2
    if getattr(args, "json", False):
        emit_json({"users": reply.users, "store": "system"})
        return 0
    if not reply.users:
        print("no users enrolled in the system store")
    for r in reply.users:
        apps = ", ".join(f"{a['label']} ({a['templates']} templates, {a['model']})" for a in r.get("appearances", []))
        print(f"{r['user']}: {apps or r.get('error', '')}")
    return 0
