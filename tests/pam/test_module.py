"""The C module against sockets that are not the daemon: down, hung, garbled, impostor, remote sessions.

The servers here are throwaway fakes on purpose: they play a daemon that is absent, hangs or misbehaves, which a
working daemon never does. Each result is read twice: through the issue's stack (face sufficient, then pam_deny:
what a user gets) and with the module alone (its own return code)."""

from __future__ import annotations

import os

import pytest

from tests.pam.pamhelp import (
    AUTH_ERR,
    AUTHINFO_UNAVAIL,
    IGNORED,
    LOOKING,
    SUCCESS,
    pamtester,
    serve_once_in_background,  # fmt: skip
    stack,
)


def test_daemon_not_running_fails_in_under_a_second(pam_service, sockdir):
    sock = sockdir / "absent.sock"
    real = pam_service(stack(f"socket={sock} timeout=3"))
    probe = pam_service(stack(f"socket={sock} timeout=3", probe=True))
    r = pamtester(real.name, "root")
    assert r.rc != 0 and AUTH_ERR in r.out and SUCCESS not in r.out
    assert r.seconds < 1.0, f"took {r.seconds:.2f} s"
    p = pamtester(probe.name, "root")
    assert AUTHINFO_UNAVAIL in p.out and p.seconds < 1.0


def test_stale_socket_nobody_listens_fails_at_once(pam_service, sockdir):
    import socket

    sock = sockdir / "stale.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(sock))
    s.close()  # the file stays, nobody listens: ECONNREFUSED
    probe = pam_service(stack(f"socket={sock}", probe=True))
    p = pamtester(probe.name, "root")
    assert AUTHINFO_UNAVAIL in p.out and p.seconds < 1.0


@pytest.mark.parametrize(("timeout", "says"), [(1.0, None), (2.5, None), (1.5, b"INFO Looking for your face\xe2\x80\xa6\n")],
                         ids=["silent-1s", "silent-2.5s", "stuck-mid-attempt-1.5s"])  # fmt: skip
def test_daemon_hung_fails_at_the_timeout(pam_service, sockdir, timeout, says):
    sock = sockdir / "hung.sock"
    server = serve_once_in_background(sock, says, hold_s=timeout + 10, then_hold=True)
    try:
        real = pam_service(stack(f"socket={sock} timeout={timeout}"))
        r = pamtester(real.name, "root")
        assert r.rc != 0 and AUTH_ERR in r.out
        assert (LOOKING in r.out) == (says is not None)  # "looking" only once the daemon said it holds the camera
        assert abs(r.seconds - timeout) <= 0.5, f"failed after {r.seconds:.2f} s, timeout {timeout} s"
        probe = pam_service(stack(f"socket={sock} timeout={timeout}", probe=True))
        p = pamtester(probe.name, "root")
        assert AUTHINFO_UNAVAIL in p.out and abs(p.seconds - timeout) <= 0.5
    finally:
        server.kill()
        server.wait()


@pytest.mark.parametrize(("answer", "expected"), [
    (b"INFO Looking for your face\xe2\x80\xa6\nOK face recognised\n", SUCCESS),
    (b"FAIL no match\n", AUTH_ERR),
    (b"DENIED uid 1000 may only ask about its own account\n", AUTH_ERR),
    (b"IGNORE not enrolled\n", IGNORED),
    (b"UNAVAIL busy: the camera is in use\n", AUTHINFO_UNAVAIL),
    (b"MAYBE\n", AUTHINFO_UNAVAIL),                      # unknown word, then EOF: no final line
    (b"DECISION {}\nPASSWORD p\nOK face recognised\n", SUCCESS),  # unknown progress words are skipped
    (b"OK", AUTHINFO_UNAVAIL),                           # no newline, then EOF: not an answer
    (b"", AUTHINFO_UNAVAIL),                             # closed without answering
    (b"INFO " + b"x" * 1100 + b"\nOK\n", AUTHINFO_UNAVAIL),  # a line over 1024 bytes
    (b"OK\x00 sneaky\n", AUTHINFO_UNAVAIL),              # NUL inside a line
    (b"ok lowercase\n", AUTHINFO_UNAVAIL),
], ids=["ok", "fail", "denied", "ignore", "unavail", "unknown", "progress-words", "no-newline", "eof", "too-long", "nul", "case"])  # fmt: skip
def test_each_answer_maps_to_its_pam_code(pam_service, sockdir, answer, expected):
    sock = sockdir / "d.sock"
    server = serve_once_in_background(sock, answer)
    try:
        probe = pam_service(stack(f"socket={sock} timeout=3", probe=True))
        p = pamtester(probe.name, "root")
        assert expected in p.out, p.out
        assert p.seconds < 2.0
        real = pam_service(stack(f"socket={sock} timeout=3"))
        r = pamtester(real.name, "root")
        assert r.ok == (expected == SUCCESS), r.out  # the face is sufficient; everything else → pam_deny here
    finally:
        server.kill()
        server.wait()


def test_an_impostor_on_a_root_owned_socket_is_not_trusted(pam_service, sockdir):
    """The socket file is root's, but the process answering (SO_PEERCRED) is `nobody`: its OK is not believed."""
    os.chmod(sockdir, 0o755)
    sock = sockdir / "d.sock"
    server = serve_once_in_background(sock, b"OK trust me\n", uid=65534)
    try:
        assert os.stat(sock).st_uid == 0
        probe = pam_service(stack(f"socket={sock}", probe=True))
        p = pamtester(probe.name, "root")
        assert AUTHINFO_UNAVAIL in p.out and SUCCESS not in p.out
        # Named as the daemon's account, the same server is trusted: the check is on the uid, not luck.
        for owner in ("nobody", "65534"):
            trusted = pam_service(stack(f"socket={sock} owner={owner}", probe=True))
            assert pamtester(trusted.name, "root").ok, owner
    finally:
        server.kill()
        server.wait()


def test_a_socket_file_owned_by_someone_else_is_not_asked(pam_service, sockdir):
    sock = sockdir / "d.sock"
    server = serve_once_in_background(sock, b"OK trust me\n")
    try:
        os.chown(sock, 65534, 65534)
        probe = pam_service(stack(f"socket={sock}", probe=True))
        p = pamtester(probe.name, "root")
        assert AUTHINFO_UNAVAIL in p.out and LOOKING not in p.out
    finally:
        server.kill()
        server.wait()


def test_a_socket_in_a_folder_others_may_write_is_not_asked(pam_service, sockdir):
    sock = sockdir / "d.sock"
    server = serve_once_in_background(sock, b"OK trust me\n")
    try:
        os.chmod(sockdir, 0o777)  # anyone could swap the socket for their own
        probe = pam_service(stack(f"socket={sock}", probe=True))
        assert AUTHINFO_UNAVAIL in pamtester(probe.name, "root").out
    finally:
        server.kill()
        server.wait()


@pytest.mark.parametrize("item", ["rhost=host.example", "rhost=192.0.2.7", "tty=ssh"])
def test_remote_session_is_never_offered_the_face(pam_service, sockdir, item):
    sock = sockdir / "d.sock"
    server = serve_once_in_background(sock, b"OK would be accepted\n")
    try:
        probe = pam_service(stack(f"socket={sock}", probe=True))
        assert pamtester(probe.name, "root").ok  # locally, this server's OK would pass …
        p = pamtester(probe.name, "root", item)
        assert IGNORED in p.out and LOOKING not in p.out  # … from a remote host the face is not even tried
        real = pam_service(stack(f"socket={sock}"))
        r = pamtester(real.name, "root", item)
        assert not r.ok and LOOKING not in r.out
    finally:
        server.kill()
        server.wait()


def test_ssh_environment_turns_the_face_off(pam_service, sockdir):
    """sudo inside an SSH login sets no PAM_RHOST; its environment still says SSH."""
    sock = sockdir / "d.sock"
    server = serve_once_in_background(sock, b"OK would be accepted\n")
    try:
        probe = pam_service(stack(f"socket={sock}", probe=True))
        r = pamtester(probe.name, "root", extra_env={"SSH_CONNECTION": "192.0.2.7 50000 192.0.2.1 22"})
        assert IGNORED in r.out
    finally:
        server.kill()
        server.wait()


def test_services_list_offers_the_face_only_to_listed_services(pam_service, sockdir):
    sock = sockdir / "d.sock"
    server = serve_once_in_background(sock, b"OK would be accepted\n")
    try:
        other = pam_service(stack(f"socket={sock} services=sudo,polkit-1", probe=True))
        assert IGNORED in pamtester(other.name, "root").out
        listed = pam_service(stack(f"socket={sock} services=sudo,PLACEHOLDER", probe=True))
        listed.path.write_text(listed.path.read_text().replace("PLACEHOLDER", listed.name))
        assert pamtester(listed.name, "root").ok
    finally:
        server.kill()
        server.wait()


@pytest.mark.parametrize("args", ["timeout=0", "timeout=abc", "socket=relative.sock", "owner=no-such-user-xyz",
                                  "frobnicate"])  # fmt: skip
def test_bad_arguments_never_let_anyone_in(pam_service, sockdir, args):
    sock = sockdir / "d.sock"
    server = serve_once_in_background(sock, b"OK would be accepted\n")
    try:
        a = args if args.startswith("socket=") else f"socket={sock} {args}"
        probe = pam_service(stack(a, probe=True))
        p = pamtester(probe.name, "root")
        assert not p.ok and LOOKING not in p.out
        real = pam_service(stack(a))
        assert not pamtester(real.name, "root").ok
    finally:
        server.kill()
        server.wait()


def test_setcred_says_success(pam_service, sockdir):
    """pam_setcred through libpam (ctypes; pamtester has no setcred): a module returning PAM_IGNORE there made a
    client fail with PAM_CRED_ERR (SYSTEM-NOTES), so it must say PAM_SUCCESS."""
    import ctypes
    import ctypes.util

    class Conv(ctypes.Structure):
        _fields_ = [("conv", ctypes.c_void_p), ("appdata_ptr", ctypes.c_void_p)]

    if os.environ.get("FACEUNLOCK_PAM_PRELOAD"):
        pytest.skip("a sanitizer build cannot load into this (unsanitized) Python process")
    libpam = ctypes.CDLL(ctypes.util.find_library("pam"))
    probe = pam_service(stack(f"socket={sockdir / 'none.sock'}", probe=True))
    handle = ctypes.c_void_p()
    conv = Conv(None, None)
    assert libpam.pam_start(probe.name.encode(), b"root", ctypes.byref(conv), ctypes.byref(handle)) == 0
    try:
        PAM_ESTABLISH_CRED = 0x0002
        assert libpam.pam_setcred(handle, PAM_ESTABLISH_CRED) == 0
    finally:
        libpam.pam_end(handle, 0)


def test_pam_silent_and_quiet_show_no_message(pam_service, sockdir):
    sock = sockdir / "d.sock"
    server = serve_once_in_background(sock, b"INFO Face found\nOK face recognised\n")
    try:
        loud = pam_service(stack(f"socket={sock}", probe=True))
        r = pamtester(loud.name, "root")
        assert r.ok and LOOKING in r.out and "Face found" in r.out
        quiet = pam_service(stack(f"socket={sock} quiet", probe=True))
        r = pamtester(quiet.name, "root")
        assert r.ok and LOOKING not in r.out and "Face found" not in r.out
        s = pamtester(loud.name, "root", op="authenticate(PAM_SILENT)")
        assert s.ok and LOOKING not in s.out
    finally:
        server.kill()
        server.wait()
