"""Everything slow runs here, off the UI thread: loading the model, reading the camera, detecting, embedding,
checking the password (scrypt + D-Bus). The UI only receives small results through queued signals, so it keeps
painting and answering keys (the lock screen must never look frozen).

torch and the engine are imported inside these threads only, so a window can appear before they load.
"""

from __future__ import annotations

import gc
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import QObject, QThread, Signal
from PySide6.QtGui import QImage

from faceunlock.errors import CameraError, FaceUnlockError

if TYPE_CHECKING:
    import numpy as np

    from faceunlock.auth import Engine
    from faceunlock.pipeline import FrameResult

PREVIEW_MAX_WIDTH = 720
CAMERA_RETRY_S = 3.0


def describe_error(e: BaseException) -> str:
    """A sentence for the user; unexpected exceptions are also printed with their traceback for bug reports."""
    if isinstance(e, FaceUnlockError):
        return str(e)
    traceback.print_exception(e, file=sys.stderr)
    return f"unexpected error ({type(e).__name__}: {e})"


class GuiThreadGC(QObject):
    """Run Python's cycle collector only in the UI thread.

    Why: automatic collection runs in whichever thread happens to allocate, and our workers allocate on every
    frame; a reference cycle that holds a widget (a closed dialog, a lambda) would then be destroyed in a worker
    thread, which crashes Qt. So automatic collection is off while the app runs and this timer collects instead.
    """

    def __init__(self, interval_ms: int = 500, parent: QObject | None = None) -> None:
        from PySide6.QtCore import QTimer

        super().__init__(parent)
        self._timer = QTimer(self, interval=interval_ms)
        self._timer.timeout.connect(self.collect)
        self._was_enabled = gc.isenabled()

    def start(self) -> None:
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self.collect()
        if self._was_enabled:
            gc.enable()

    def collect(self) -> None:
        counts, limits = gc.get_count(), gc.get_threshold()
        for gen in (2, 1, 0):
            if counts[gen] > limits[gen]:
                gc.collect(gen)
                return


class EngineCache:
    """Load each model once per process (2–5 s) and share it between screens; thread-safe, errors not cached."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._engines: dict[tuple[str, str], Engine] = {}

    def get(self, weights: str = "auto", device: str = "cpu") -> Engine:
        """The loaded engine (blocks while loading: call from a worker thread)."""
        with self._lock:
            key = (weights, device)
            if key not in self._engines:
                from faceunlock.auth import Engine

                self._engines[key] = Engine.load(weights, device)
            return self._engines[key]

    def put(self, engine: Engine, weights: str = "auto", device: str = "cpu") -> None:
        with self._lock:
            self._engines[(weights, device)] = engine

    def peek(self, weights: str = "auto", device: str = "cpu") -> Engine | None:
        with self._lock:
            return self._engines.get((weights, device))


ENGINES = EngineCache()


class FunctionThread(QThread):
    """Run one callable in a thread; `done(result)` or `failed(message)` arrive in the UI thread."""

    done = Signal(object)
    failed = Signal(str)

    def __init__(self, fn: Callable[[], Any], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._fn = fn

    def run(self) -> None:
        try:
            result = self._fn()
        except Exception as e:  # noqa: BLE001 - every failure must reach the UI, never kill the thread silently
            self.failed.emit(describe_error(e))  # (the exception is not kept: its traceback would be a cycle)
            return
        self.done.emit(result)


def run_async(parent: QObject, fn: Callable[[], Any], on_done: Callable[[Any], None] | None = None,
              on_error: Callable[[str], None] | None = None) -> FunctionThread:  # fmt: skip
    """Start `fn` in a FunctionThread owned by `parent`; callbacks run in the UI thread."""
    t = FunctionThread(fn, parent)
    if on_done:
        t.done.connect(on_done)
    if on_error:
        t.failed.connect(on_error)
    t.finished.connect(t.deleteLater)
    t.start()
    return t


def wait_children(owner: QObject, timeout_ms: int = 10000) -> None:
    """Wait for the threads `owner` started (destroying a running QThread aborts the process)."""
    for t in owner.findChildren(QThread):
        if t.isRunning():
            t.wait(timeout_ms)


_RETIRED: set[QThread] = set()


def retire(thread: QThread) -> None:
    """Let a thread finish in the background (the UI must not wait for a frame or a model load to end)."""
    thread.requestInterruption()
    if not thread.isRunning():
        return
    thread.setParent(None)
    _RETIRED.add(thread)  # keep it alive: destroying a running QThread aborts the process
    thread.finished.connect(lambda: _RETIRED.discard(thread))
    if not thread.isRunning():  # it ended before the connection was made: nobody else will discard it
        _RETIRED.discard(thread)


def retire_children(owner: QObject) -> None:
    """Retire every thread `owner` (or a child of it) still runs — also one whose result has arrived but which is
    still ending — so closing or deleting `owner` never destroys a running QThread (that aborts the process)."""
    for t in owner.findChildren(QThread):
        retire(t)


def stop_or_retire(thread: QThread, wait_ms: int) -> None:
    """After asking `thread` to stop: wait up to `wait_ms` for it, and if it still runs, retire it — its parent
    must never destroy it mid-run (that aborts the process, taking the lock screen or the app with it)."""
    if thread.isRunning() and not thread.wait(wait_ms):
        retire(thread)


def wait_retired(timeout_ms: int = 15000) -> bool:
    """Wait for retired threads (before the process exits); True if all ended.

    A retired thread may already be deleted: run_async's threads delete themselves when they finish, and one can
    finish between `retire` seeing it run and connecting its discard (CI, 2026-12-05: "Internal C++ object
    (FunctionThread) already deleted" here). Qt never deletes a running QThread, so a deleted one has ended."""
    for t in list(_RETIRED):
        if shiboken6.isValid(t) and t.isRunning() and not t.wait(timeout_ms):
            return False
        _RETIRED.discard(t)
    return True


@dataclass
class PreviewFrame:
    """A downscaled (and, for a webcam, mirrored) picture plus what the core saw in the full frame."""

    image: QImage
    result: FrameResult | None
    frame_width: int
    frame_height: int
    mirrored: bool
    note: str = ""  # what the screen's logic made of this frame (e.g. "matched", "pose captured")


def to_qimage(frame: np.ndarray, mirror: bool, max_width: int = PREVIEW_MAX_WIDTH) -> QImage:
    """RGB uint8 frame → an owned QImage for painting (the resize happens here, not in the UI thread)."""
    import cv2
    import numpy as np

    h, w = frame.shape[:2]
    if w > max_width:
        frame = cv2.resize(frame, (max_width, round(h * max_width / w)), interpolation=cv2.INTER_AREA)
    if mirror:
        frame = frame[:, ::-1]
    if frame.ndim == 2:
        frame = np.repeat(frame[:, :, None], 3, axis=2)
    frame = np.ascontiguousarray(frame[:, :, :3])
    img = QImage(frame.data, frame.shape[1], frame.shape[0], frame.strides[0], QImage.Format.Format_RGB888)
    return img.copy()  # detach from the numpy buffer


class FrameThread(QThread):
    """Camera loop: get the engine, open the source, then read → process → emit, until stopped.

    Subclasses implement `process(engine, frame)` (and optionally `prepare(engine)` / `paused()`). A webcam
    that fails or disappears is retried every few seconds; a video file or image folder that ends emits
    `source_ended` (the lock screen treats that as "camera gone" and stays locked).
    """

    frame_ready = Signal(object)  # PreviewFrame
    status = Signal(str, str)  # kind ("loading", "camera", "ready", "paused"), text
    failed = Signal(str)  # the loop stopped: why, in words
    source_ended = Signal(str)

    def __init__(self, source: str, engine_provider: Callable[[], Engine], *, realtime: bool = True,
                 skip: int = 0, parent: QObject | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.source = source
        self.engine_provider = engine_provider
        self.realtime = realtime
        self.skip = skip
        self.live = source.isdigit()
        self.frames_processed = 0

    # -- hooks ---------------------------------------------------------------------------------------------
    def prepare(self, engine: Engine) -> None:
        """Runs once in the thread after the engine is loaded (load templates, build sessions …)."""

    def process(self, engine: Engine, frame: np.ndarray) -> tuple[FrameResult | None, str]:
        """Analyse one frame; return the result to draw and a short note for the screen."""
        raise NotImplementedError

    def paused(self) -> bool:
        """True while no frame should be processed (e.g. lockout back-off)."""
        return False

    def after_loop(self, engine: Engine) -> None:
        """Runs in the thread when the loop ends (stopped, or a file source ran out)."""

    # -- loop ----------------------------------------------------------------------------------------------
    def stop(self, wait_ms: int = 5000) -> None:
        """Ask the loop to end after the current frame, and wait for it (a frame takes well under a second);
        still running after `wait_ms` (a model still loading), it is retired rather than left to its parent."""
        self.requestInterruption()
        stop_or_retire(self, wait_ms)

    def _sleep(self, seconds: float) -> None:
        end = int(seconds * 1000)
        while end > 0 and not self.isInterruptionRequested():
            self.msleep(min(100, end))
            end -= 100

    def run(self) -> None:
        try:
            self.status.emit("loading", "Loading the face model…")
            engine = self.engine_provider()
            if self.isInterruptionRequested():
                return
            self.prepare(engine)
            self._loop(engine)
            self.after_loop(engine)
        except Exception as e:  # noqa: BLE001 - report, never crash the app; the caller decides (lock stays)
            self.failed.emit(describe_error(e))

    def _open(self):
        from faceunlock.capture import open_source

        return open_source(self.source, skip=self.skip, realtime=self.realtime)

    def _loop(self, engine: Engine) -> None:
        while not self.isInterruptionRequested():
            try:
                src = self._open()
            except CameraError as e:
                if not self.live:
                    raise
                self.status.emit("camera", f"{e}. Retrying…")
                self._sleep(CAMERA_RETRY_S)
                continue
            self.status.emit("ready", f"Using {src.description}")
            with src:
                while not self.isInterruptionRequested():
                    if self.paused():
                        self.msleep(100)
                        continue
                    frame = src.read()
                    if frame is None:
                        break
                    result, note = self.process(engine, frame)
                    self.frames_processed += 1
                    if self.isInterruptionRequested():
                        break
                    h, w = frame.shape[:2]
                    self.frame_ready.emit(PreviewFrame(to_qimage(frame, self.live), result, w, h, self.live, note))
            if self.isInterruptionRequested():
                return
            if not self.live:
                self.source_ended.emit(f"{src.description} has no more frames")
                return
            self.status.emit("camera", "The camera stopped sending pictures (unplugged?). Retrying…")
            self._sleep(CAMERA_RETRY_S)
