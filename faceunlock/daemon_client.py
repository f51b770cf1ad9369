"""Client side of the faceunlockd protocol (docs/protocol.md), in the core so the CLI and GUI need no service code.

One request per connection over a Unix stream socket; lines are UTF-8, end with "\\n", at most 1024 bytes. The
daemon answers zero or more progress lines (INFO …, and for some verbs USER / DECISION / PASSWORD lines), then one
final line whose first word is one of FINAL_WORDS, then closes. Everything the daemon decides is final: nothing
here ever turns a missing or garbled answer into "accepted".
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from faceunlock.errors import FaceUnlockError

PROTOCOL_VERSION = 1
SYSTEM_SOCKET = Path("/run/faceunlock/faceunlockd.sock")
MAX_LINE = 1024
FINAL_WORDS = ("OK", "FAIL", "IGNORE", "UNAVAIL", "DENIED")


class DaemonError(FaceUnlockError):
    """The daemon could not be reached or spoke out of protocol (exit 2: never a decision)."""


def daemon_answers(path: str | os.PathLike | None = None, timeout: float = 1.0) -> dict | None:
    """STATUS of the daemon at `path` (default: the system socket) when it answers within `timeout`, else None."""
    found = path if path is not None else system_socket()
    if found is None:
        return None
    try:
        reply = DaemonClient(found, timeout=timeout).status()
    except DaemonError:
        return None
    return reply.payload() if reply.ok else None


def system_socket() -> Path | None:
    """The system daemon's socket when one is there (FACEUNLOCK_SOCKET overrides the path), else None."""
    path = Path(os.environ.get("FACEUNLOCK_SOCKET") or SYSTEM_SOCKET)
    try:
        import stat

        return path if stat.S_ISSOCK(path.stat().st_mode) else None
    except OSError:
        return None


@dataclass
class Reply:
    """The final line (`word` in FINAL_WORDS, `text`) plus everything the daemon sent before it."""

    word: str
    text: str
    info: list[str] = field(default_factory=list)
    users: list[dict] = field(default_factory=list)
    decision: dict | None = None

    @property
    def ok(self) -> bool:
        return self.word == "OK"

    def payload(self) -> dict:
        """The JSON object an OK management reply carries ({} when its text is not JSON)."""
        try:
            value = json.loads(self.text)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


def encode_line(line: str) -> bytes:
    data = (line + "\n").encode("utf-8")
    if len(data) > MAX_LINE or "\n" in line or "\r" in line or "\0" in line:
        raise DaemonError("request line too long or holds a line break")
    return data


class Connection:
    """One request/answer exchange with the daemon: send the request, read lines until the final one."""

    def __init__(self, path: str | os.PathLike, timeout: float | None = 120.0) -> None:
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(self.path)
        except OSError as e:
            self.sock.close()
            raise DaemonError(f"cannot reach the faceunlock daemon at {self.path}: {e.strerror or e}") from e
        self._buf = b""

    def send(self, line: str) -> None:
        try:
            self.sock.sendall(encode_line(line))
        except OSError as e:
            raise DaemonError(f"the daemon at {self.path} closed the connection: {e}") from e

    def read_line(self) -> str | None:
        """The next line without its "\\n", or None when the daemon closed the connection."""
        while b"\n" not in self._buf:
            try:
                chunk = self.sock.recv(4096)
            except TimeoutError as e:
                raise DaemonError(f"no answer from the daemon at {self.path} in time") from e
            except OSError as e:
                raise DaemonError(f"lost the daemon at {self.path}: {e}") from e
            if not chunk:
                return None
            self._buf += chunk
            if len(self._buf) > 64 * MAX_LINE:
                raise DaemonError("the daemon sent an over-long line")
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode("utf-8", "replace")

    def close(self) -> None:
        self.sock.close()

    def hang_up(self) -> None:
        """From another thread: end the exchange now (the daemon cancels the attempt; a pending read returns)."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


PasswordPrompt = Callable[[str], str | None]


class DaemonClient:
    """Typed calls for each verb of docs/protocol.md. `password` is asked only when the daemon sends PASSWORD."""

    def __init__(self, path: str | os.PathLike | None = None, timeout: float | None = 120.0) -> None:
        found = path if path is not None else system_socket()
        if found is None:
            raise DaemonError(f"no faceunlock daemon socket at {SYSTEM_SOCKET} (is faceunlockd running?)")
        self.path = Path(found)
        self.timeout = timeout

    def request(self, line: str, on_info: Callable[[str], None] | None = None, password: PasswordPrompt | None = None,
                on_connect: Callable[[Connection], None] | None = None) -> Reply:  # fmt: skip
        """Send `line`, collect the answer. `on_connect` gets the open connection (closing it cancels the request)."""
        with Connection(self.path, self.timeout) as conn:
            if on_connect:
                on_connect(conn)
            conn.send(line)
            info: list[str] = []
            users: list[dict] = []
            decision = None
            while (got := conn.read_line()) is not None:
                word, _, text = got.partition(" ")
                if word in FINAL_WORDS:
                    return Reply(word, text, info, users, decision)
                if word == "INFO":
                    info.append(text)
                    if on_info:
                        on_info(text)
                elif word == "USER":
                    users.append(_json_object(text))
                elif word == "DECISION":
                    decision = _json_object(text)
                elif word == "PASSWORD":
                    secret = password(text) if password else None
                    if secret is None:
                        raise DaemonError("the daemon asks for your account password and none was given")
                    conn.send(f"PASS {secret}")
                # unknown progress words are ignored: newer daemons may add some
            raise DaemonError(f"the daemon at {self.path} closed the connection without an answer")

    # -- verbs ------------------------------------------------------------------------------------------------
    def auth(self, user: str, on_info: Callable[[str], None] | None = None, **ranges: int) -> Reply:
        """AUTH: one attempt for `user`. `ranges` (skip=, limit=) only for a recorded source and uid 0."""
        return self.request(_line("AUTH", user, **ranges), on_info)

    def verify(self, user: str, on_info: Callable[[str], None] | None = None,
               on_connect: Callable[[Connection], None] | None = None, **ranges: int) -> Reply:  # fmt: skip
        """VERIFY: AUTH plus a DECISION line (the full decision as JSON) before the final line."""
        return self.request(_line("VERIFY", user, **ranges), on_info, on_connect=on_connect)

    def enroll(self, user: str, label: str = "default", replace: bool = False, password: PasswordPrompt | None = None,
               on_info: Callable[[str], None] | None = None, on_connect: Callable[[Connection], None] | None = None,
               **ranges: int) -> Reply:  # fmt: skip
        line = _line("ENROLL", user, label=label, replace=int(replace), **ranges)
        return self.request(line, on_info, password, on_connect)

    def remove(self, user: str, password: PasswordPrompt | None = None) -> Reply:
        return self.request(_line("REMOVE", user), None, password)

    def list_users(self) -> Reply:
        return self.request(_line("LIST"))

    def status(self) -> Reply:
        return self.request(_line("STATUS"))


def _line(verb: str, *args: str, **options) -> str:
    parts = [verb, str(PROTOCOL_VERSION), *args]
    parts += [f"{k}={v}" for k, v in options.items() if v is not None]
    for p in parts:
        if not p or any(c.isspace() for c in p):
            raise DaemonError(f"invalid request field {p!r} (no spaces allowed)")
    return " ".join(parts)


def _json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError as e:
        raise DaemonError(f"the daemon sent invalid JSON: {text[:80]!r}") from e
    if not isinstance(value, dict):
        raise DaemonError("the daemon sent JSON that is not an object")
    return value
