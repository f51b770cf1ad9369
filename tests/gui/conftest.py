"""Fixtures for the Qt tests: offscreen Qt, one engine per session, one wizard enrolment per session.

The engine (2–5 s) and the wizard enrolment from real.mov (the slowest step) are made once and shared; every
test still gets its own FACEUNLOCK_HOME (store, lock-out state, settings) through `gui_home`.
"""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before any Qt import: no display needed

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.shared_data import need

WEIGHTS = "dlib-resnet34"
# Threshold for the bundled dlib ResNet-34 while its shipped calibration.json does not exist yet: dlib's own
# published operating point is 0.6; 0.5 is stricter and still accepts real.mov (genuine ≈ 0.27–0.35 here).
TEST_THRESHOLD = 0.5


def write_test_calibration(home: Path) -> None:
    """If the bundled model has no calibration file, put a test one under FACEUNLOCK_HOME=`home`."""
    from faceunlock.backbones import dlib_resnet
    from faceunlock.calibrate import AttemptCalibration, Calibration

    bundled = dlib_resnet.BUNDLED_DIR / "calibration.json"
    if bundled.is_file():
        return
    sha = dlib_resnet.bundled_sha256()
    path = home / "data" / "models" / "calibrations" / f"{sha[:16]}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    Calibration(backbone=WEIGHTS, arch=WEIGHTS, sha256=sha, threshold=TEST_THRESHOLD, target_far=1e-3, far=0.0,
                far_upper_95=0.0, tar=1.0, tar_lower_95=0.0, n_genuine=0, n_impostor=0,
                dataset="test fixture (not a measurement)",
                attempt=AttemptCalibration(threshold=TEST_THRESHOLD, enrol_threshold=TEST_THRESHOLD, target_far=1e-3,
                                           required=3, window=5, enrol=4, probe=5)).save(path)  # fmt: skip


@pytest.fixture(scope="session")
def real_mov() -> Path:
    return need("liveness", "webcam-replay", "real.mov")


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory):
    """The bundled model + MTCNN, loaded once for the whole session."""
    from faceunlock.auth import Engine

    home = tmp_path_factory.mktemp("engine-home")
    write_test_calibration(home)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FACEUNLOCK_HOME", str(home))
        return Engine.load(WEIGHTS)


@pytest.fixture
def provider(engine) -> Callable:
    return lambda: engine


@pytest.fixture
def gui_home(fu_home: Path, keyring_session, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private FACEUNLOCK_HOME and XDG_CONFIG_HOME, the session keyring, and a calibration for subprocesses."""
    write_test_calibration(fu_home)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(fu_home / "xdg-config"))
    return fu_home


class StallMeter:
    """A 10 ms QTimer; the largest gap between ticks is how long the UI thread was blocked."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.max_gap = 0.0
        self.ticks = 0
        self._last: float | None = None
        self.timer = QTimer(interval=10)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.max_gap = max(self.max_gap, now - self._last)
        self._last = now
        self.ticks += 1

    def start(self) -> None:
        self._last = None
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()


@dataclass
class WizardRun:
    home: Path
    summary: object
    fut: bytes
    seconds: float
    max_stall: float
    frames: int
    poses: list


def wait_until(qapp, predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        qapp.processEvents()
        time.sleep(0.005)
    return True


@pytest.fixture(scope="session")
def wizard_run(qapp, engine, keyring_session, real_mov, tmp_path_factory) -> WizardRun:
    """Enrol "alice" once through the real wizard from real.mov (every frame, full pose coverage), measuring
    the UI thread's longest stall while frames are detected, embedded and the templates saved."""
    from faceunlock.gui.enroll import EnrollWizard
    from faceunlock.secrets import set_password
    from faceunlock.store import TemplateStore

    home = tmp_path_factory.mktemp("wizard-home")
    write_test_calibration(home)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FACEUNLOCK_HOME", str(home))
        set_password("correct horse")
        w = EnrollWizard(lambda: engine, str(real_mov), user="alice", realtime=False)
        w.show()
        assert wait_until(qapp, lambda: w.needs_password is not None, 20), w.welcome_note.text()
        assert w.next_btn.isEnabled(), w.welcome_note.text()
        meter = StallMeter()
        meter.start()
        t0 = time.monotonic()
        w.next_btn.click()  # password already set → straight to the capture page
        assert w.page == w.CAPTURE
        thread = w.thread
        ok = wait_until(qapp, lambda: w.page == w.DONE, 240)
        seconds = time.monotonic() - t0
        meter.stop()
        assert ok, "the wizard did not finish"
        assert w.summary is not None, w.done_text.text()
        frames = thread.frames_processed
        poses = list(w.summary.poses)
        w.next_btn.click()  # Close
        fut = TemplateStore().path("alice").read_bytes()
    return WizardRun(home, w.summary, fut, seconds, meter.max_gap, frames, poses)


def install_alice(run: WizardRun, home: Path) -> None:
    """Put the wizard's encrypted templates into another test's home (same keyring → same store key)."""
    from faceunlock.store import TemplateStore

    path = TemplateStore().path("alice")
    assert str(path).startswith(str(home))
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_bytes(run.fut)
