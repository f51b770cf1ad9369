"""A tiny, real second X11 client (libX11 + libXtst through ctypes: no extra package) for the grab tests.

    python -m tests.attacks.x11_client hold        grab the keyboard on the root window, print "grabbed", hold
                                                   it until a line arrives on stdin (or stdin closes), release
    python -m tests.attacks.x11_client probe       try to grab the keyboard; print the X status (0 = Success,
                                                   1 = AlreadyGrabbed …), release at once
    python -m tests.attacks.x11_client type TEXT   type TEXT then Return with XTEST, as a person at the keyboard

DISPLAY selects the X server (an Xvfb in the tests).
"""

from __future__ import annotations

import ctypes
import sys

GRAB_MODE_ASYNC = 1
CURRENT_TIME = 0
STATUS = {0: "Success", 1: "AlreadyGrabbed", 2: "GrabInvalidTime", 3: "GrabNotViewable", 4: "GrabFrozen"}


def _x11() -> tuple[ctypes.CDLL, int]:
    x = ctypes.CDLL("libX11.so.6")
    x.XOpenDisplay.restype = ctypes.c_void_p
    x.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x.XDefaultRootWindow.restype = ctypes.c_ulong
    x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    x.XGrabKeyboard.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                ctypes.c_ulong]  # fmt: skip
    x.XUngrabKeyboard.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
    x.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
    x.XCloseDisplay.argtypes = [ctypes.c_void_p]
    x.XStringToKeysym.restype = ctypes.c_ulong
    x.XStringToKeysym.argtypes = [ctypes.c_char_p]
    x.XKeysymToKeycode.restype = ctypes.c_ubyte
    x.XKeysymToKeycode.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
    dpy = x.XOpenDisplay(None)
    if not dpy:
        sys.exit("cannot open display")
    return x, dpy


def grab(x: ctypes.CDLL, dpy: int) -> int:
    status = x.XGrabKeyboard(dpy, x.XDefaultRootWindow(dpy), 1, GRAB_MODE_ASYNC, GRAB_MODE_ASYNC, CURRENT_TIME)
    x.XSync(dpy, 0)
    return status


def type_text(x: ctypes.CDLL, dpy: int, text: str) -> None:
    xtst = ctypes.CDLL("libXtst.so.6")
    xtst.XTestFakeKeyEvent.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_ulong]
    names = [{" ": "space"}.get(c, c) for c in text] + ["Return"]
    for name in names:
        code = x.XKeysymToKeycode(dpy, x.XStringToKeysym(name.encode()))
        if not code:
            sys.exit(f"no keycode for {name!r}")
        xtst.XTestFakeKeyEvent(dpy, code, 1, 0)
        xtst.XTestFakeKeyEvent(dpy, code, 0, 0)
        x.XSync(dpy, 0)


def main(argv: list[str]) -> int:
    x, dpy = _x11()
    try:
        if argv[0] == "hold":
            status = grab(x, dpy)
            print("grabbed" if status == 0 else f"not grabbed: {STATUS.get(status, status)}", flush=True)
            if status != 0:
                return 1
            sys.stdin.readline()
            x.XUngrabKeyboard(dpy, CURRENT_TIME)
            x.XSync(dpy, 0)
            print("released", flush=True)
        elif argv[0] == "probe":
            status = grab(x, dpy)
            print(STATUS.get(status, status), flush=True)
            x.XUngrabKeyboard(dpy, CURRENT_TIME)
            x.XSync(dpy, 0)
        elif argv[0] == "type":
            type_text(x, dpy, argv[1])
        else:
            return 2
    finally:
        x.XCloseDisplay(dpy)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
