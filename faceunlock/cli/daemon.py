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
