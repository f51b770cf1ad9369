"""The `faceunlock lock` process: one instance per user, keyboard signals ignored, the window shown first and the
model loaded after it, exit 0 only once unlocked."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from faceunlock.gui.face_unlock import DEFAULT_REARM_S
from faceunlock.gui.lockscreen import LockScreen


def seconds_since_process_start() -> float | None:
    """Wall time since this process was created (Linux /proc), to report how fast the lock appeared."""
    import os

    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


_INSTANCE_FD = None


def _single_instance() -> bool:
    """One lock screen per user: a second `faceunlock lock` (autostart + a shortcut) would stack windows."""
    import fcntl

    from faceunlock import paths

    global _INSTANCE_FD
    path = paths.ensure_private_dir(paths.data_dir()) / "lockscreen.lock"
    fd = open(path, "a")  # noqa: SIM115 - held open (and locked) for the life of the process
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fd.close()
        return False
    _INSTANCE_FD = fd
    return True


def run_lock(user: str, source: str, *, weights: str = "auto", device: str = "cpu", window: int | None = None,
             required: int | None = None, rearm_s: float = DEFAULT_REARM_S, skip: int = 0) -> int:  # fmt: skip
    """The `faceunlock lock` process: windows first, model later; returns 0 only once unlocked.

    `window`/`required` override the core AuthPolicy's (None keeps them)."""
    import os
    import signal
    import sys

    from faceunlock.gui.workers import ENGINES, GuiThreadGC, wait_retired

    if not _single_instance():
        print("faceunlock lock: the screen is already locked by another `faceunlock lock`", file=sys.stderr)
        return 2
    for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP):  # keyboard signals from a terminal
        signal.signal(sig, signal.SIG_IGN)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    if QGuiApplication.platformName().startswith("wayland"):
        print(f"faceunlock lock: warning: on {QGuiApplication.platformName()} an app cannot grab the keyboard or "
              "stay above other windows for sure; rely on your desktop's own screen lock there.", file=sys.stderr)  # fmt: skip
    app.setApplicationName("faceunlock")
    app.setStyle("Fusion")
    app.setQuitOnLastWindowClosed(False)
    GuiThreadGC(parent=app).start()
    lock = LockScreen(user, source, lambda: ENGINES.get(weights, device), window=window, required=required,
                      rearm_s=rearm_s, skip=skip)  # fmt: skip

    def shown() -> None:
        t = seconds_since_process_start()
        print(f"faceunlock lock: screen locked for {user}" + (f" ({t:.2f} s after start)" if t else ""),
              file=sys.stderr, flush=True)  # fmt: skip

    lock.on_first_paint = shown
    lock.unlocked.connect(lambda how: app.quit())
    lock.lock()
    app.exec()
    how = lock.unlocked_by
    lock.shutdown(wait_ms=3000)
    if not wait_retired(3000) or (lock.face_thread is not None and lock.face_thread.isRunning()):
        # the model is still loading in its thread: nothing left to protect, leave without waiting for it
        sys.stderr.flush()
        os._exit(0 if how else 2)
    if how:
        print(f"faceunlock lock: unlocked by {how}", file=sys.stderr)
    return 0 if how else 2
