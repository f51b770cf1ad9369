"""The lock screen: a full-screen window on every screen that only the enrolled face or the password opens.

Fail closed: every way out except `_unlock()` is blocked — closeEvent is ignored, Esc/Alt+F4/Alt+Tab are
swallowed (and the keyboard and mouse are grabbed on X11, so the window manager never sees them), and any error
in the face thread (no camera, no model, no templates, an exception) only turns face unlock off: the screen stays
locked and the password keeps working. The password and the face share one back-off (faceunlock.lockout).

Never shown as locked without the grab (issue 9.4): on X11 another client (a menu, a game, a malicious program)
can hold the keyboard grab, and then typed keys — the password included — go to that client, not to us. Like
i3lock and xsecurelock we grab before we count as locked and retry; unlike i3lock (which gives up and exits after
about a second) we keep the screen covered and keep retrying every 200 ms, but say so plainly on screen ("Cannot
lock: another program holds the keyboard — retrying"), hide the password field, log it, and report "screen
locked" (on_first_paint) only once both grabs are held. Platforms that cannot grab at all (Wayland, offscreen)
are not X11: there the desktop's own locker is the answer (`faceunlock lock` warns).

Frame source (issue 9.7): when the source is a video or folder rather than a camera (tests, demos, given on the
command line), the lock screen says so on screen.

The face side (re-arm delay, attempts, liveness, lockout) is faceunlock.gui.face_unlock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QGuiApplication, QKeyEvent, QLinearGradient, QPainter, QScreen
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from faceunlock.gui.face_unlock import DEFAULT_REARM_S, FaceUnlockThread
from faceunlock.gui.lock_panel import LockPanel, format_wait
from faceunlock.gui.theme import COLORS
from faceunlock.gui.workers import run_async, wait_children

if TYPE_CHECKING:
    from faceunlock.auth import Engine
    from faceunlock.lockout import Lockout

log = logging.getLogger(__name__)

GRAB_RETRY_MS = 200
GRAB_QUIET_MS = 1000  # a menu closing releases its grab within this: only then say the screen cannot lock
GRAB_LOG_EVERY_S = 30.0
CANNOT_LOCK = "Cannot lock: another program holds the {what} — retrying"


class LockWindow(QWidget):
    """One full-screen, frameless, always-on-top window; refuses to close and swallows every key we don't
    want (Esc, Alt+F4, Alt+Tab, Super…). Only the controller can let it close, after unlocking."""

    def __init__(self, screen: QScreen, panel: LockPanel | None = None) -> None:
        flags = Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint
        if QGuiApplication.platformName() == "xcb":
            # override-redirect: the window manager cannot minimise, move or switch away from it
            flags |= Qt.WindowType.X11BypassWindowManagerHint
        super().__init__(None, flags)
        self.setWindowTitle("faceunlock: locked")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        self.setCursor(Qt.CursorShape.ArrowCursor)
        self.panel = panel
        self.allow_close = False
        self.painted = False
        self.first_paint: Callable[[], None] | None = None
        lay = QVBoxLayout(self)
        lay.addStretch(3)
        if panel is not None:
            lay.addWidget(panel, 0, Qt.AlignmentFlag.AlignHCenter)
        else:
            hint = QLabel("Locked. Unlock on the main screen.")
            hint.setStyleSheet(f"color: {COLORS['muted_on_dark']}; font-size: 14pt; background: transparent;")
            lay.addWidget(hint, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addStretch(4)
        self.place_on(screen)

    def place_on(self, screen: QScreen) -> None:
        self.setScreen(screen)
        self.setGeometry(screen.geometry())

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        p = QPainter(self)
        g = QLinearGradient(0, 0, 0, self.height())
        g.setColorAt(0, QColor(COLORS["lock_bg_top"]))
        g.setColorAt(1, QColor(COLORS["lock_bg_bottom"]))
        p.fillRect(self.rect(), g)
        p.end()
        if not self.painted:
            self.painted = True
            if self.first_paint:
                self.first_paint()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        if self.allow_close:
            event.accept()
        else:
            event.ignore()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        event.accept()  # Esc, Alt+F4, Alt+Tab … reach us only if no child took them: drop them all

    def event(self, e: QEvent) -> bool:
        if e.type() == QEvent.Type.ShortcutOverride:
            # Only let keys through that the password field needs; never a shortcut that could leave.
            e.accept()
            return True
        if e.type() == QEvent.Type.WindowDeactivate and not self.allow_close:
            QTimer.singleShot(0, self._reassert)
        return super().event(e)

    def _reassert(self) -> None:
        if not self.allow_close:
            self.raise_()
            self.activateWindow()


class LockScreen(QObject):
    """Controller: one LockWindow per screen, the face thread, password checks, the back-off countdown."""

    unlocked = Signal(str)  # "face" or "password"

    def __init__(self, user: str, source: str, engine_provider: Callable[[], Engine], *,
                 lockout: Lockout | None = None, password_checker: Callable[[str], bool] | None = None,
                 window: int | None = None, required: int | None = None, rearm_s: float = DEFAULT_REARM_S,
                 realtime: bool = True,
                 skip: int = 0, grab: bool = True, parent: QObject | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        from faceunlock.lockout import Lockout

        self.user, self.source, self.engine_provider = user, source, engine_provider
        self.lockout = lockout or Lockout()
        if password_checker is None:
            from faceunlock.secrets import check_password

            password_checker = check_password
        self.password_checker = password_checker
        self.decision_window, self.required, self.rearm_s = window, required, rearm_s
        self.realtime, self.skip, self.grab = realtime, skip, grab
        self.locked = False
        self.unlocked_by = ""
        self.checking = False
        self.face_thread: FaceUnlockThread | None = None
        self.on_first_paint: Callable[[], None] | None = None
        self.panel = LockPanel(user)
        self.panel.submitted.connect(self.submit_password)
        self.windows: list[LockWindow] = []
        self._timer = QTimer(self, interval=250)
        self._timer.timeout.connect(self._tick)
        self._backoff_shown = False
        self.grabbed = False  # keyboard and mouse grabbed (X11 only)
        # "off" (grab=False), "unsupported" (not X11), "pending" (trying quietly), "held", "blocked" (another
        # client holds a grab: the screen is shown as NOT locked and the password field is off)
        self.grab_state = "off"
        self._grab_started = 0.0
        self._grab_logged = 0.0
        self._first_paint_pending = False
        self._face_logged = ""
        from faceunlock.capture import describe_source, is_camera

        if not is_camera(source):
            self.panel.set_source_note(f"Test or demo: face frames come from {describe_source(source)} given on "
                                       "the command line, not from a camera.")  # fmt: skip

    # -- locking ---------------------------------------------------------------------------------------------
    def lock(self) -> None:
        """Show the windows (before anything slow), then start the face thread."""
        self.locked = True
        app = QGuiApplication.instance()
        screens = app.screens() or [app.primaryScreen()]
        primary = app.primaryScreen() or screens[0]
        main = LockWindow(primary, self.panel)
        main.first_paint = self._first_paint
        self.windows = [main] + [LockWindow(s) for s in screens if s is not primary]
        app.screenAdded.connect(self._screen_added)
        for w in self.windows:
            self._show(w)
        main.activateWindow()
        self.panel.password.setFocus()
        self._tick()
        self._timer.start()
        if self.grab and QGuiApplication.platformName() == "xcb":
            self.grab_state = "pending"
            self._grab_started = time.monotonic()
            self.panel.set_input_enabled(False)
            QTimer.singleShot(0, self._grab)
        elif self.grab:
            self.grab_state = "unsupported"
            QTimer.singleShot(0, self._grab)  # other platforms never grant it: try once, harmlessly
        QTimer.singleShot(0, self.start_face)

    @staticmethod
    def _show(w: LockWindow) -> None:
        if QGuiApplication.platformName() == "xcb":
            w.show()  # override-redirect: our geometry is final, no window manager involved
        else:
            w.showFullScreen()
        w.raise_()

    @property
    def secure(self) -> bool:
        """Whether the screen may be presented as locked: the grabs are held, or this platform has none."""
        return self.grab_state in ("off", "unsupported", "held")

    def _first_paint(self) -> None:
        if not self.secure:
            self._first_paint_pending = True  # "screen locked" is reported once the grab is held
            return
        if self.on_first_paint:
            self.on_first_paint()

    def _enable_input(self) -> None:
        """Turn the password field back on, unless the grab is missing or the back-off is running."""
        if self.locked and self.secure and not self.checking and self.lockout.seconds_remaining() <= 0:
            self.panel.set_input_enabled(True)

    def _screen_added(self, screen: QScreen) -> None:
        if self.locked:
            w = LockWindow(screen)
            self.windows.append(w)
            self._show(w)

    def _grab(self) -> None:
        """Grab keyboard and mouse for the main window; while another client holds a grab, retry every 200 ms
        and, after GRAB_QUIET_MS, show and log that the screen is not locked."""
        if not self.locked or not self.windows:
            return
        handle = self.windows[0].windowHandle()
        keyboard = handle is not None and handle.setKeyboardGrabEnabled(True)
        mouse = keyboard and handle.setMouseGrabEnabled(True)
        self.grabbed = bool(keyboard and mouse)
        if self.grab_state == "unsupported":
            return
        if self.grabbed:
            self._grab_held()
            return
        what = "mouse" if keyboard else "keyboard"
        now = time.monotonic()
        if self.grab_state == "blocked" or (now - self._grab_started) * 1000 >= GRAB_QUIET_MS:
            text = CANNOT_LOCK.format(what=what)
            if self.grab_state != "blocked" or self.panel.grab_warning.text() != text:
                self.grab_state = "blocked"
                self.panel.set_grab_warning(text)
                self.panel.set_input_enabled(False)
                self.panel.set_message("Keys typed now would go to that program: do not type your password.",
                                       "warn")  # fmt: skip
                for w in self.windows:
                    w.setWindowTitle("faceunlock: NOT locked (another program holds the keyboard)")
            if now - self._grab_logged >= GRAB_LOG_EVERY_S:
                self._grab_logged = now
                log.warning("%s (for %.1f s)", text, now - self._grab_started)
        QTimer.singleShot(GRAB_RETRY_MS, self._grab)

    def _grab_held(self) -> None:
        was = self.grab_state
        self.grab_state = "held"
        if was == "blocked":
            log.warning("keyboard and mouse grabbed after %.1f s: the screen is locked now",
                        time.monotonic() - self._grab_started)
            self.panel.set_grab_warning("")
            self.panel.set_message("", "info")
            for w in self.windows:
                w.setWindowTitle("faceunlock: locked")
        self._enable_input()
        self._tick()
        if self._first_paint_pending:
            self._first_paint_pending = False
            if self.on_first_paint:
                self.on_first_paint()

    def start_face(self) -> None:
        if not self.locked:
            return
        from faceunlock.gui.daemon_lock import daemon_face_thread

        # the system daemon decides when it holds this face (warm model, its camera and lockout); else in-process
        t = daemon_face_thread(self.user, self.source, self.rearm_s, parent=self) or FaceUnlockThread(
            self.source, self.engine_provider, self.user, self.lockout, window=self.decision_window,
            required=self.required, rearm_s=self.rearm_s, realtime=self.realtime, skip=self.skip, parent=self)
        t.status.connect(self._face_status)
        t.failed.connect(self._face_failed)
        t.source_ended.connect(self._face_source_ended)
        t.accepted.connect(self._face_accepted)
        t.attempt_failed.connect(self._face_attempt_failed)
        self.face_thread = t
        t.start()

    # -- face ------------------------------------------------------------------------------------------------
    def _face_status(self, kind: str, text: str) -> None:
        if kind in ("ready", "camera") and text != self._face_logged:  # which source, and why it does not open
            self._face_logged = text
            log.warning("face unlock: %s", text)
        if kind == "ready":  # "Using camera 0": keep the user-facing line about the face
            return
        self.panel.set_face(kind, text)

    def _face_failed(self, message: str) -> None:
        log.warning("face unlock is not available (the password still works): %s", message)
        self.panel.set_face("error", "Face unlock is not available. Use your password.", message)

    def _face_source_ended(self, message: str) -> None:
        log.warning("the frame source stopped (the password still works): %s", message)
        self.panel.set_face("camera", "The camera stopped. Use your password.", message)

    def _face_accepted(self, decision) -> None:
        if self.locked:
            self._unlock("face")

    def _face_attempt_failed(self, decision) -> None:
        self._tick()

    # -- password --------------------------------------------------------------------------------------------
    def submit_password(self, pw: str) -> None:
        """Check in a thread (scrypt + keyring); wrong → one failure; the back-off applies before checking."""
        if not self.locked or self.checking or not self.secure:
            return
        wait = self.lockout.seconds_remaining()
        if wait > 0:
            self._tick()
            return
        self.checking = True
        self.panel.set_input_enabled(False)
        self.panel.set_message("Checking…", "info")
        lockout, checker = self.lockout, self.password_checker

        def check() -> bool:
            ok = bool(checker(pw))
            if ok:
                lockout.record_success()
            else:
                lockout.record_failure()
            return ok

        run_async(self, check, self._password_checked, self._password_error)

    def _password_checked(self, ok: bool) -> None:
        self.checking = False
        self.panel.password.clear()
        if not self.locked:  # the face got there first
            return
        if ok:
            self._unlock("password")
            return
        self.panel.set_message("Wrong password.")
        self._enable_input()
        self._tick()

    def _password_error(self, message: str) -> None:
        self.checking = False
        self.panel.password.clear()
        self.panel.set_message("Your password cannot be checked: the system keyring is locked or not running. "
                               "The screen stays locked; face unlock still works if it is on.")  # fmt: skip
        self.panel.face_detail.setToolTip(message)
        self._enable_input()
        self._tick()

    # -- countdown --------------------------------------------------------------------------------------------
    def _tick(self) -> None:
        self.panel.tick()
        if self.checking or not self.locked:
            return
        wait = self.lockout.seconds_remaining()
        if wait > 0:
            self._backoff_shown = True
            self.panel.set_input_enabled(False)
            self.panel.set_message(f"Too many failed attempts. Try again in {format_wait(wait)}.", "warn")
        elif self._backoff_shown:
            self._backoff_shown = False
            self._enable_input()
            self.panel.set_message("You can try again now.", "info")

    @property
    def backoff_active(self) -> bool:
        return self.lockout.seconds_remaining() > 0

    # -- unlocking ----------------------------------------------------------------------------------------------
    def _unlock(self, how: str) -> None:
        """The only way the windows close."""
        self.locked = False
        self.unlocked_by = how
        self._timer.stop()
        if self.face_thread is not None:
            self.face_thread.requestInterruption()
        for w in self.windows:
            handle = w.windowHandle()
            if handle is not None:
                handle.setKeyboardGrabEnabled(False)
                handle.setMouseGrabEnabled(False)
            w.allow_close = True
            w.close()
        self.unlocked.emit(how)

    def shutdown(self, wait_ms: int = 10000) -> None:
        """Stop the face thread and let a password check finish (tests and the CLI call this at the end)."""
        if self.face_thread is not None:
            self.face_thread.stop(wait_ms)
        wait_children(self, wait_ms)
        self._timer.stop()
        if QApplication.instance() is not None:
            try:
                QGuiApplication.instance().screenAdded.disconnect(self._screen_added)
            except (RuntimeError, TypeError):
                pass
