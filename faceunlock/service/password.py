"""Check an account password through PAM inside the daemon (ctypes to libpam: no extra dependency).

Why PAM and not /etc/shadow: the admin's policy (pam_unix, pam_faillock, LDAP, …) applies, and hashes stay out
of this code. Why its own service `faceunlock` (pam.d/faceunlock, pam_unix only): the stock `other`/`login`
stacks include common-auth, where the PAM issue may put the face module itself — the face must never stand in
for the password that authorises changing faces. The daemon refuses password checks when the service file is
not installed, rather than fall back to `other`. Needs root (pam_unix reads /etc/shadow for other users).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from pathlib import Path

PAM_SUCCESS = 0
PAM_PROMPT_ECHO_OFF = 1
PAM_PROMPT_ECHO_ON = 2
PAM_DISALLOW_NULL_AUTHTOK = 0x0001
PAM_CONV_ERR = 19
SERVICE_DIRS = (Path("/etc/pam.d"), Path("/usr/lib/pam.d"), Path("/lib/pam.d"))


class _Message(ctypes.Structure):
    _fields_ = [("msg_style", ctypes.c_int), ("msg", ctypes.c_char_p)]


class _Response(ctypes.Structure):
    _fields_ = [("resp", ctypes.c_void_p), ("resp_retcode", ctypes.c_int)]


_CONV = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.POINTER(_Message)),
                         ctypes.POINTER(ctypes.POINTER(_Response)), ctypes.c_void_p)  # fmt: skip


class _Conv(ctypes.Structure):
    _fields_ = [("conv", _CONV), ("appdata_ptr", ctypes.c_void_p)]


_lock = threading.Lock()
_libs: tuple | None = None


def _load():
    global _libs
    if _libs is None:
        pam = ctypes.CDLL(ctypes.util.find_library("pam") or "libpam.so.0")
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.calloc.restype = ctypes.c_void_p
        libc.calloc.argtypes = [ctypes.c_size_t, ctypes.c_size_t]
        libc.strdup.restype = ctypes.c_void_p
        libc.strdup.argtypes = [ctypes.c_char_p]
        pam.pam_start.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(_Conv),
                                  ctypes.POINTER(ctypes.c_void_p)]  # fmt: skip
        pam.pam_authenticate.argtypes = [ctypes.c_void_p, ctypes.c_int]
        pam.pam_acct_mgmt.argtypes = [ctypes.c_void_p, ctypes.c_int]
        pam.pam_end.argtypes = [ctypes.c_void_p, ctypes.c_int]
        pam.pam_strerror.argtypes = [ctypes.c_void_p, ctypes.c_int]
        pam.pam_strerror.restype = ctypes.c_char_p
        _libs = (pam, libc)
    return _libs


def service_installed(service: str) -> bool:
    return any((d / service).is_file() for d in SERVICE_DIRS)


def check_password(user: str, password: str, service: str = "faceunlock") -> tuple[bool, str]:
    """(True, "") when PAM `service` accepts `password` for `user` and the account is usable; else (False, why)."""
    if not service_installed(service):
        return False, (f"password checks are not set up: install faceunlock/service/pam.d/faceunlock as "
                       f"/etc/pam.d/{service}")  # fmt: skip
    pam, libc = _load()
    secret = password.encode("utf-8")

    @_CONV
    def conv(n, messages, responses, _data):
        array = libc.calloc(n, ctypes.sizeof(_Response))
        if not array:
            return PAM_CONV_ERR
        out = ctypes.cast(array, ctypes.POINTER(_Response))
        for i in range(n):
            if messages[i].contents.msg_style == PAM_PROMPT_ECHO_OFF:
                out[i].resp = libc.strdup(secret)  # libpam frees it
            # echo-on prompts (a user name, an OTP) get no answer: this check is the password only
        responses[0] = out
        return PAM_SUCCESS

    with _lock:
        handle = ctypes.c_void_p()
        conversation = _Conv(conv, None)
        rc = pam.pam_start(service.encode(), user.encode(), ctypes.byref(conversation), ctypes.byref(handle))
        if rc != PAM_SUCCESS:
            return False, f"PAM could not start ({rc})"
        try:
            rc = pam.pam_authenticate(handle, PAM_DISALLOW_NULL_AUTHTOK)
            if rc == PAM_SUCCESS:
                rc = pam.pam_acct_mgmt(handle, PAM_DISALLOW_NULL_AUTHTOK)
            why = pam.pam_strerror(handle, rc).decode("utf-8", "replace") if rc != PAM_SUCCESS else ""
        finally:
            pam.pam_end(handle, rc)
    return rc == PAM_SUCCESS, why
