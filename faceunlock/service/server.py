"""faceunlockd: one warm engine, one camera, one attempt at a time, over a Unix socket (docs/protocol.md).

Threads: the main thread accepts; each connection gets a thread, so a second client is told "busy" at once while
an attempt runs. The camera lock is taken without waiting. Every answer that is not OK leaves the caller locked
out of the face path and free to use the password.
"""

from __future__ import annotations

import json
import os
import pwd
import select
import socket
import stat
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from faceunlock import runtime
from faceunlock.daemon_client import MAX_LINE, PROTOCOL_VERSION
from faceunlock.errors import FaceUnlockError
from faceunlock.service import password as pam_password
from faceunlock.service.keyfile import default_key_file, load_key
from faceunlock.service.system_store import NoSuchAccount, SystemStore, account_uid, store_is_empty
from faceunlock.service.trust import TrustError, check_trusted, private_dir
from faceunlock.store import validate_user

REQUEST_TIMEOUT_S = 10.0  # to send the request line
PASSWORD_TIMEOUT_S = 120.0  # to answer PASSWORD (a person typing)
SEND_TIMEOUT_S = 30.0  # a client that stops reading is treated as gone
MAX_CONNECTIONS = 8
# What a non-root caller learns about its own attempt: the verdict and counts, no distances, threshold or scores.
PUBLIC_DECISION_KEYS = ("accepted", "spoof", "frames_seen", "frames_usable", "required", "model", "rejected_frames",
                        "locked_out_s")  # fmt: skip
MAX_PER_USER = 2  # connections one non-root uid may hold at once: nobody can starve the others' AUTH
ENROLL_MAX_FRAMES = 300


class Hangup(Exception):
    """The client closed its end: stop what it asked for."""


@dataclass
class Request:
    verb: str
    version: str
    args: list[str]
    options: dict[str, str]

    @classmethod
    def parse(cls, line: str) -> Request:
        words = line.split(" ")
        if len(words) < 2 or any(not w for w in words):
            raise ValueError("expected: VERB VERSION [ARGS…] (single spaces)")
        args = [w for w in words[2:] if "=" not in w]
        options = dict(w.split("=", 1) for w in words[2:] if "=" in w)
        return cls(words[0], words[1], args, options)


class Client:
    """One accepted connection: its peer credentials, line I/O, and hang-up detection."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        self.pid, self.uid, self.gid = struct.unpack("3i", creds)
        self._buf = b""
        self.gone = False

    def read_line(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no request line in time")
            self.sock.settimeout(left)
            chunk = self.sock.recv(MAX_LINE)
            if not chunk:
                raise Hangup()
            self._buf += chunk
            if len(self._buf) > MAX_LINE and b"\n" not in self._buf[:MAX_LINE]:
                raise ValueError(f"request line longer than {MAX_LINE} bytes")
        line, self._buf = self._buf.split(b"\n", 1)
        self.sock.settimeout(SEND_TIMEOUT_S)
        return line.decode("utf-8")

    def send(self, word: str, text: str = "") -> None:
        line = f"{word} {text}".rstrip().replace("\n", " ")
        data = line.encode("utf-8")[: MAX_LINE - 1] + b"\n"
        try:
            self.sock.sendall(data)
        except OSError:
            self.gone = True
            raise Hangup() from None

    def hung_up(self) -> bool:
        """True once the client closed the connection (EOF or reset), checked without blocking."""
        if self.gone:
            return True
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
            if readable and self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
                self.gone = True
        except BlockingIOError:
            pass
        except OSError:
            self.gone = True
        return self.gone


@dataclass
class Counters:
    attempts: int = 0
    accepted: int = 0
    cancelled: int = 0
    busy: int = 0
    enrolments: int = 0
    by_result: dict[str, int] = field(default_factory=dict)


class Daemon:
    """Owns the engine, the camera, the system store, the key and the lockout; answers one connection per thread."""

    def __init__(self, socket_path: Path, state_dir: Path, source: str = "0", key_file: Path | None = None,
                 weights: str = "auto", device: str = "cpu", pam_service: str = "faceunlock",
                 liveness: bool = True, max_frames: int = 60, timeout_s: float | None = 15.0) -> None:  # fmt: skip
        self.socket_path = Path(os.path.abspath(socket_path))
        self.state_dir = private_dir(Path(state_dir), "state folder")
        self.source = source
        self.recorded = not str(source).isdigit()
        self.key_file = Path(key_file) if key_file else default_key_file(self.state_dir)
        self.weights, self.device, self.liveness = weights, device, liveness
        self.pam_service = pam_service
        from faceunlock.policy import AuthPolicy

        self.policy = AuthPolicy(max_frames=max_frames, timeout_s=timeout_s)  # the core's rule; camera limits only
        self.camera = threading.Lock()
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self.per_uid: dict[int, int] = {}
        self.per_uid_lock = threading.Lock()
        self.counters = Counters()
        self.engine = None
        self.store: SystemStore | None = None
        self.listener: socket.socket | None = None

    # -- start-up -----------------------------------------------------------------------------------------------
    def load(self) -> None:
        """Key, model, calibration and liveness, each from a place only root can change; then the store."""
        from faceunlock.auth import Engine

        key = load_key(self.key_file, store_empty=store_is_empty(self.state_dir))
        # the compiled networks decide who gets in, like the weights: the daemon keeps its own, in its 0700 state
        if not os.environ.get(runtime.GRAPHS_ENV):
            os.environ[runtime.GRAPHS_ENV] = str(private_dir(self.state_dir / "graphs", "graphs folder"))
        self.engine = Engine.load(self.weights, self.device, liveness=self.liveness)
        self._check_model_files()
        self.store = SystemStore(self.state_dir, key, self.engine.backbone.sha256)
        private_dir(self.state_dir / "lockout", "lockout folder")

    def _check_model_files(self) -> None:
        files = [self.engine.backbone.weights_path, self.engine.calibration.notes.get("path")]
        folders = [Path(f).parent for f in files if f]
        if self.engine.liveness is not None:
            from faceunlock.liveness import MODEL_DIR

            folders.append(MODEL_DIR)
        if runtime.onnx_runtime(self.device):
            folders.append(runtime.graphs_dir())
        for f in files:
            if f:
                check_trusted(Path(f), "model")
        for d in folders:
            check_trusted(d, "model folder")
            for p in d.iterdir():
                if p.is_file():
                    check_trusted(p, "model file")

    def bind(self) -> None:
        path = self.socket_path
        if not path.parent.exists():
            path.parent.mkdir(parents=True, mode=0o755)
        check_trusted(path.parent, "socket folder")  # else a user could swap the socket for their own
        if path.exists() or path.is_symlink():
            if not stat.S_ISSOCK(path.lstat().st_mode):
                raise TrustError(f"{path} exists and is not a socket: refusing to replace it")
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(str(path))
                raise TrustError(f"another daemon answers on {path}")
            except ConnectionRefusedError:
                path.unlink()  # stale socket of a daemon that died
            finally:
                probe.close()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(path))
        os.chmod(path, 0o666)  # anyone may ask; SO_PEERCRED decides what they may ask about
        sock.listen(16)
        self.listener = sock

    def serve_forever(self) -> None:
        log(f"ready on {self.socket_path} (model {self.engine.backbone.name}, source {self.source}, "
            f"state {self.state_dir}, uid {os.geteuid()})")  # fmt: skip
        while True:
            conn, _ = self.listener.accept()
            if not self.slots.acquire(blocking=False):
                try:
                    conn.sendall(b"UNAVAIL busy: too many connections\n")
                finally:
                    conn.close()
                continue
            threading.Thread(target=self._serve_one, args=(conn,), daemon=True).start()

    def close(self) -> None:
        if self.listener is not None:
            self.listener.close()
            try:
                if stat.S_ISSOCK(self.socket_path.lstat().st_mode):
                    self.socket_path.unlink()
            except OSError:
                pass

    # -- one connection -------------------------------------------------------------------------------------------
    def _serve_one(self, conn: socket.socket) -> None:
        client = None
        verb, user, result = "?", "-", "?"
        counted = False
        try:
            client = Client(conn)
            with self.per_uid_lock:
                held = self.per_uid.get(client.uid, 0)
                if client.uid != 0 and held >= MAX_PER_USER:
                    result = "UNAVAIL"
                    client.send("UNAVAIL", "busy: too many connections from this user")
                    return
                self.per_uid[client.uid] = held + 1
                counted = True
            line = client.read_line(REQUEST_TIMEOUT_S)
            try:
                req = Request.parse(line)
            except ValueError as e:
                result = "UNAVAIL"
                client.send("UNAVAIL", f"bad request: {e}")
                return
            verb, user = req.verb, (req.args[0] if req.args else "-")
            verb = verb if verb.isalpha() and len(verb) <= 16 else "?"  # the log gets no caller-made bytes
            user = user if user.replace("-", "").replace("_", "").replace(".", "").isalnum() else "?"
            result = self.dispatch(client, req)
        except Hangup:
            result = "hung up"
        except (TimeoutError, ValueError, UnicodeDecodeError) as e:
            result = "UNAVAIL"
            if client is not None:
                try:
                    client.send("UNAVAIL", f"bad request: {e}")
                except Hangup:
                    pass
        except Exception as e:  # a bug must not take the daemon down: answer UNAVAIL, the password still works
            result = "UNAVAIL"
            log(f"error: {e.__class__.__name__}: {e}")
            if client is not None:
                try:
                    client.send("UNAVAIL", "internal error (see the daemon's log)")
                except Hangup:
                    pass
        finally:
            conn.close()
            self.slots.release()
            if counted:
                with self.per_uid_lock:
                    self.per_uid[client.uid] -= 1
            self.counters.by_result[result] = self.counters.by_result.get(result, 0) + 1
            uid = client.uid if client else "?"
            log(f"uid {uid} {verb} {user}: {result}")

    def dispatch(self, client: Client, req: Request) -> str:
        """Answer `req`; returns the final word (for the log)."""
        handlers: dict[str, Callable[[Client, Request], str]] = {
            "AUTH": self.do_auth, "VERIFY": self.do_auth, "ENROLL": self.do_enroll, "REMOVE": self.do_remove,
            "LIST": self.do_list, "STATUS": self.do_status}  # fmt: skip
        if req.version != str(PROTOCOL_VERSION):
            return self._final(client, "UNAVAIL", f"unsupported protocol version {req.version!r} (this daemon: "
                                                  f"{PROTOCOL_VERSION})")  # fmt: skip
        handler = handlers.get(req.verb)
        if handler is None:
            return self._final(client, "UNAVAIL", f"unknown request {req.verb!r}")
        return handler(client, req)

    @staticmethod
    def _final(client: Client, word: str, text: str) -> str:
        client.send(word, text)
        return word

    def _who(self, client: Client, req: Request, nargs: int = 1) -> tuple[str | None, str | None]:
        """(user, None) when the caller may act on the named account, else (None, final word already sent)."""
        if len(req.args) != nargs:
            return None, self._final(client, "UNAVAIL", f"bad request: {req.verb} takes {nargs} argument(s)")
        user = req.args[0]
        try:
            validate_user(user)
        except ValueError as e:
            return None, self._final(client, "UNAVAIL", f"bad request: {e}")
        if client.uid != 0:
            try:
                own = pwd.getpwuid(client.uid).pw_name
            except KeyError:
                own = None
            if own != user:
                return None, self._final(client, "DENIED", f"uid {client.uid} may only ask about its own account")
        try:
            account_uid(user)
        except NoSuchAccount:
            return None, self._final(client, "IGNORE", f"no account named {user}")
        return user, None

    def _ranges(self, client: Client, req: Request, default_limit: int | None) -> tuple[int, int | None]:
        """Frame ranges (skip=, limit=) for tests and benchmarks: root only, and only on a recorded source."""
        skip, limit = req.options.get("skip"), req.options.get("limit")
        if skip is None and limit is None:
            return 0, default_limit
        if client.uid != 0 or not self.recorded:
            raise PermissionError("frame ranges are only for root on a recorded source")
        first, count = int(skip or 0), (int(limit) if limit is not None else default_limit)
        if first < 0 or (count is not None and count < 1):
            raise ValueError("skip must be ≥ 0 and limit ≥ 1")
        return first, count

    def _frames(self, client: Client, skip: int, limit: int | None) -> Iterator[np.ndarray]:
        """The daemon's own source, opened now and released when the generator closes; stops on hang-up."""
        from faceunlock.capture import open_source

        with open_source(self.source, skip=skip, limit=limit) as src:
            for frame in src:
                if client.hung_up():
                    return
                yield frame

    def _lockout(self, user: str):
        from faceunlock.lockout import Lockout

        return Lockout(self.state_dir / "lockout" / f"{user}.json")

    # -- AUTH / VERIFY -----------------------------------------------------------------------------------------------
    def do_auth(self, client: Client, req: Request) -> str:
        user, done = self._who(client, req)
        if done:
            return done
        from faceunlock.auth import user_templates
        from faceunlock.errors import StoreError

        if not self.store.exists(user):
            return self._final(client, "IGNORE", f"{user} has no face enrolled")
        lockout = self._lockout(user)
        if (wait := lockout.seconds_remaining()) > 0:
            return self._final(client, "FAIL", f"too many failed attempts: face unlock is off for {wait:.0f} s")
        try:
            templates = user_templates(self.store, user, self.engine.backbone)
        except StoreError as e:
            return self._final(client, "UNAVAIL", f"templates unusable: {e}")
        try:
            skip, limit = self._ranges(client, req, None)
        except (PermissionError, ValueError) as e:
            return self._final(client, "UNAVAIL", str(e))
        if not self.camera.acquire(blocking=False):
            self.counters.busy += 1
            return self._final(client, "UNAVAIL", "busy: the camera is in use by another attempt")
        try:
            self.counters.attempts += 1
            client.send("INFO", "Looking for your face…")
            decision = self._attempt(client, user, templates, lockout, skip, limit)
        except FaceUnlockError as e:  # camera, decode: nothing judged
            return self._final(client, "UNAVAIL", str(e))
        finally:
            self.camera.release()
        if client.hung_up():
            self.counters.cancelled += 1
            raise Hangup()
        if req.verb == "VERIFY":
            details = decision.to_dict()
            if client.uid != 0:  # scores would let a caller hill-climb a photo towards the threshold
                details = {k: v for k, v in details.items() if k in PUBLIC_DECISION_KEYS}
            client.send("DECISION", json.dumps(details, separators=(",", ":"), default=str))
        if decision.accepted:
            self.counters.accepted += 1
            return self._final(client, "OK", f"face recognised: {user}")
        if decision.frames_usable == 0 and not decision.spoof and not decision.locked_out_s:
            return self._final(client, "UNAVAIL", f"no usable face seen ({decision.reason})")
        if client.uid == 0 or decision.locked_out_s:
            return self._final(client, "FAIL", decision.reason)
        return self._final(client, "FAIL", "presentation attack suspected: a photo or a screen, not a live face"
                           if decision.spoof else "face not recognised")  # fmt: skip

    def _attempt(self, client: Client, user: str, templates: np.ndarray, lockout, skip: int, limit: int | None):
        from faceunlock import auth

        last = [""]

        def on_frame(r) -> None:
            if r.message != last[0]:
                last[0] = r.message
                try:
                    client.send("INFO", r.message)
                except Hangup:
                    pass  # noticed by cancelled()/the frame source

        frames = self._frames(client, skip, limit)
        try:
            return auth.authenticate(self.engine, templates, frames, lockout=lockout, policy=self.policy,
                                     on_frame=on_frame, cancelled=client.hung_up)  # fmt: skip
        finally:
            frames.close()  # releases the camera even when the attempt stopped early

    # -- management ---------------------------------------------------------------------------------------------------
    def _password_ok(self, client: Client, user: str) -> str | None:
        """None when the caller is root or proved the account password; else the final word already sent."""
        if client.uid == 0:
            return None
        if not pam_password.service_installed(self.pam_service):
            return self._final(client, "UNAVAIL", f"password checks are not set up on this machine (no PAM "
                                                  f"service {self.pam_service!r})")  # fmt: skip
        client.send("PASSWORD", f"Password for {user}:")
        line = client.read_line(PASSWORD_TIMEOUT_S)
        word, _, secret = line.partition(" ")
        if word != "PASS":
            return self._final(client, "UNAVAIL", "bad request: expected PASS <password>")
        ok, why = pam_password.check_password(user, secret, self.pam_service)
        if not ok:
            return self._final(client, "DENIED", f"password not accepted: {why}")
        return None

    def do_enroll(self, client: Client, req: Request) -> str:
        user, done = self._who(client, req)
        if done:
            return done
        from faceunlock.enrollment import EnrollmentError, EnrollmentSession
        from faceunlock.store import TemplateEntry

        label, replace = req.options.get("label", "default"), req.options.get("replace", "0") == "1"
        try:
            validate_user(label)  # same safe alphabet for labels
            skip, limit = self._ranges(client, req, ENROLL_MAX_FRAMES)
        except (PermissionError, ValueError) as e:
            return self._final(client, "UNAVAIL", f"bad request: {e}")
        if done := self._password_ok(client, user):
            return done
        if not self.camera.acquire(blocking=False):
            self.counters.busy += 1
            return self._final(client, "UNAVAIL", "busy: the camera is in use by another attempt")
        engine = self.engine
        try:
            client.send("INFO", "Look at the camera; turn your head a little")
            session = EnrollmentSession(engine.processor, engine.calibration)
            frames = self._frames(client, skip, limit)
            try:
                shown = -1
                for frame in frames:
                    session.offer(frame)
                    if len(session.chips) != shown:
                        shown = len(session.chips)
                        client.send("INFO", f"{shown}/{session.target_frames} good frames")
                    if session.done:
                        break
            finally:
                frames.close()
            if client.hung_up():
                raise Hangup()  # nothing saved
            result = session.finish()
        except Hangup:
            self.counters.cancelled += 1
            raise
        except EnrollmentError as e:
            return self._final(client, "FAIL", str(e))
        except FaceUnlockError as e:
            return self._final(client, "UNAVAIL", str(e))
        finally:
            self.camera.release()
        entry = TemplateEntry.create(result.embeddings, engine.backbone.name, engine.backbone.sha256, label)
        self.store.put_appearance(user, entry, replace_all=replace)
        self.counters.enrolments += 1
        info = {"user": user, "label": label, "templates": len(result.embeddings), "frames_seen": result.frames_seen,
                "frames_usable": result.frames_usable, "outliers": result.outliers, "model": engine.backbone.name}  # fmt: skip
        return self._final(client, "OK", json.dumps(info, separators=(",", ":")))

    def do_remove(self, client: Client, req: Request) -> str:
        user, done = self._who(client, req)
        if done:
            return done
        if done := self._password_ok(client, user):
            return done
        if not self.store.remove(user):
            return self._final(client, "FAIL", f"{user} has no face enrolled")
        return self._final(client, "OK", json.dumps({"removed": user}))

    def do_list(self, client: Client, req: Request) -> str:
        from faceunlock.errors import StoreError

        users = self.store.users()
        if client.uid != 0:
            try:
                own = pwd.getpwuid(client.uid).pw_name
            except KeyError:
                own = None
            users = [u for u in users if u == own]
        for u in users:
            row: dict = {"user": u}
            try:
                t = self.store.load(u)
                row["appearances"] = [{"label": e.label, "templates": len(e.embeddings), "model": e.backbone,
                                       "created": e.created} for e in t.entries]  # fmt: skip
            except (StoreError, ValueError) as e:
                row["error"] = str(e)[:300]
            client.send("USER", json.dumps(row, separators=(",", ":")))
        return self._final(client, "OK", json.dumps({"users": len(users)}))

    def do_status(self, client: Client, req: Request) -> str:
        info = {"protocol": PROTOCOL_VERSION, "model": self.engine.backbone.name, "store": "system",
                "busy": self.camera.locked(), "liveness": self.engine.liveness is not None}  # fmt: skip
        if client.uid == 0:
            c = self.counters
            info.update({"source": str(self.source), "state_dir": str(self.state_dir), "uid": os.geteuid(),
                         "attempts": c.attempts, "accepted": c.accepted, "cancelled": c.cancelled, "busy_refused": c.busy,
                         "enrolments": c.enrolments})  # fmt: skip
        return self._final(client, "OK", json.dumps(info, separators=(",", ":")))


def log(msg: str) -> None:
    print(f"faceunlockd: {msg}", file=sys.stderr, flush=True)
