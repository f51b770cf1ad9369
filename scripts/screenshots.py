"""Drive the real app under Xvfb and capture the root window at each step (called by scripts/screenshots.sh).

Usage: screenshots.py OUT_DIR SIZE_LABEL VIDEO STRANGER_DIR (real.mov to enrol from; photos of someone else for
the lock screen, so it stays locked while we photograph it). Needs DISPLAY (Xvfb), an unlocked Secret Service keyring on the
session bus, FACEUNLOCK_HOME pointing at a throw-away folder, and ImageMagick's `import`.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

WEIGHTS = "dlib-resnet34"
PASSWORD = "screenshots"


def ensure_calibration() -> None:
    """The bundled model ships its calibration; until it does, screenshots use a stand-in (labelled as such)."""
    from faceunlock.backbones import dlib_resnet
    from faceunlock.calibrate import Calibration
    from faceunlock.paths import user_models_dir

    if (dlib_resnet.BUNDLED_DIR / "calibration.json").is_file():
        return
    sha = dlib_resnet.bundled_sha256()
    path = user_models_dir() / "calibrations" / f"{sha[:16]}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    Calibration(backbone=WEIGHTS, arch=WEIGHTS, sha256=sha, threshold=0.5, target_far=1e-3, far=0.0,
                far_upper_95=0.0, tar=1.0, tar_lower_95=0.0, n_genuine=0, n_impostor=0,
                dataset="screenshot stand-in").save(path)  # fmt: skip


class Shooter:
    def __init__(self, app: QApplication, out: Path, size: str) -> None:
        self.app, self.out, self.size = app, out, size
        self.taken: list[Path] = []

    def pump(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.app.processEvents()
            time.sleep(0.01)

    def until(self, predicate, timeout: float, what: str) -> None:
        end = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > end:
                raise SystemExit(f"screenshots: timed out waiting for {what}")
            self.app.processEvents()
            time.sleep(0.01)

    def shot(self, name: str) -> None:
        self.pump(0.4)  # let the X server draw
        path = self.out / f"{self.size}-{name}.png"
        subprocess.run(["import", "-window", "root", str(path)], check=True)
        self.taken.append(path)
        print(f"  {path}")


def centre(w: QWidget) -> None:
    geo = w.screen().availableGeometry()
    w.move(geo.center() - w.rect().center())


def main() -> int:
    out, size, source, stranger = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    out.mkdir(parents=True, exist_ok=True)
    from faceunlock.gui.theme import app_icon
    from faceunlock.gui.workers import GuiThreadGC

    app = QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    app.setWindowIcon(app_icon())
    GuiThreadGC(parent=app).start()
    ensure_calibration()
    s = Shooter(app, out, size)

    from faceunlock.gui.app import MainWindow
    from faceunlock.gui.settings import Settings

    settings = Settings(source=source)
    main_win = MainWindow(settings, weights=WEIGHTS)
    main_win.show()
    centre(main_win)
    s.until(lambda: main_win.status is not None, 120, "the status checks")
    s.shot("01-main-first-run")

    from faceunlock.gui.enroll import EnrollWizard

    wiz = EnrollWizard(main_win.engine, source, user="alice", realtime=False, parent=main_win)
    wiz.show()
    centre(wiz)
    s.until(lambda: wiz.needs_password is not None, 30, "the keyring check")
    s.shot("02-wizard-welcome")
    wiz.next_btn.click()
    QTest.keyClicks(wiz.pw1, PASSWORD)
    QTest.keyClicks(wiz.pw2, PASSWORD[:-3])
    s.shot("03-wizard-password")
    QTest.keyClicks(wiz.pw2, PASSWORD[-3:])
    wiz.next_btn.click()
    s.until(lambda: wiz.page == wiz.CAPTURE, 30, "the capture page")
    s.until(lambda: wiz.bar.value() >= 30, 180, "capture progress")
    s.shot("04-wizard-capture-straight")
    s.until(lambda: wiz.bar.value() >= 60 or wiz.page == wiz.DONE, 180, "the straight quota")
    if wiz.page == wiz.CAPTURE:
        s.shot("05-wizard-capture-turn")
    s.until(lambda: wiz.page == wiz.DONE, 300, "the end of enrolment")
    s.shot("06-wizard-done")
    wiz.next_btn.click()
    main_win.refresh()
    s.until(lambda: main_win._checking is None and main_win.users.count() > 0, 120, "the refreshed user list")
    s.shot("07-main-enrolled")

    from faceunlock.gui.settings_dialog import SettingsDialog

    d = SettingsDialog(settings, parent=main_win)
    d.show()
    centre(d)
    s.shot("08-settings")
    d.reject()

    from faceunlock.gui.recognition import RecognitionDialog

    r = RecognitionDialog(main_win.engine, source, "alice", settings.policy.window, settings.policy.required, realtime=False,
                          skip=180, parent=main_win)  # fmt: skip
    r.show()
    centre(r)
    s.until(lambda: r.decision is not None, 120, "the recognition test")
    s.shot("09-test-recognition")
    r.accept()
    main_win.hide()

    lock_screens(s, stranger)
    main_win.close()
    from faceunlock.gui.workers import wait_retired

    wait_retired()
    return 0


def lock_screens(s: Shooter, source: str) -> None:
    from faceunlock.gui.lockscreen import LockScreen
    from faceunlock.gui.workers import ENGINES
    from faceunlock.lockout import Lockout
    from faceunlock.paths import data_dir

    now = [time.time()]
    lockout = Lockout(data_dir() / "lockout.json", clock=lambda: now[0])
    lock = LockScreen("alice", source, lambda: ENGINES.get(WEIGHTS), lockout=lockout, rearm_s=0.5)
    lock.lock()
    try:
        photograph_lock(s, lock, now)
    finally:
        lock.shutdown()
    print(f"  lock screen unlocked by {lock.unlocked_by}")


def photograph_lock(s: Shooter, lock, now: list[float]) -> None:
    s.shot("10-lock-just-locked")
    print(f"  keyboard and mouse grabbed: {lock.grabbed}")
    QTest.keyClicks(lock.panel.password, "not my password")
    QTest.keyClick(lock.panel.password, Qt.Key.Key_Return)
    s.until(lambda: not lock.checking, 20, "the password check")
    s.shot("11-lock-wrong-password")
    # the stranger's face also fails (one failure per attempt): together they reach the back-off
    while lock.locked and not lock.backoff_active:
        s.until(lambda: lock.panel.password.isEnabled() or lock.backoff_active, 20, "the password field")
        if lock.backoff_active:
            break
        QTest.keyClicks(lock.panel.password, "guess")
        QTest.keyClick(lock.panel.password, Qt.Key.Key_Return)
        s.until(lambda: not lock.checking, 20, "the password check")
    if lock.locked:
        s.pump(0.5)
        s.shot("12-lock-backoff")
    # The stranger walks away. While a stranger's face stays in front of the camera each attempt fails within a
    # fraction of a second of a back-off ending and starts the next (decision 005), so the owner's password can
    # only wait; the face source stops here as a person would leave.
    if lock.face_thread is not None:
        lock.face_thread.stop()
    for _ in range(5):  # skip the clock past the back-off, then the owner types the password
        if not lock.locked:
            break
        if lock.backoff_active:
            now[0] += 301
        s.until(lambda: lock.panel.password.isEnabled() or not lock.locked, 20, "the end of the back-off")
        if lock.locked:
            QTest.keyClicks(lock.panel.password, PASSWORD)
            QTest.keyClick(lock.panel.password, Qt.Key.Key_Return)
            s.until(lambda: not lock.checking, 20, "the password check")


if __name__ == "__main__":
    raise SystemExit(main())
