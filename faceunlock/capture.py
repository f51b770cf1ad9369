"""Frame sources behind one interface: a webcam index, a video file, or still images (files or a folder).

A machine without a webcam (CI, a test, a demo) uses a video or a folder exactly where a camera would be.
Frames are RGB uint8. A source that cannot be opened raises CameraError naming it; one that stops delivering
frames simply ends (the caller decides; the lock screen stays locked). A FIFO, socket or device given as a file
(or sitting in an image folder) is refused up front, naming it: opening one would block forever (issue 9.10).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from faceunlock.errors import CameraError, ImageReadError
from faceunlock.files import NotRegularFile, check_regular
from faceunlock.images import IMAGE_SUFFIXES, has_image_suffix, load_image

VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}


class FrameSource:
    """Iterate frames; `read()` returns None at the end. Use as a context manager so cameras are released."""

    description = "source"
    fps: float | None = None

    def read(self) -> np.ndarray | None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __iter__(self) -> Iterator[np.ndarray]:
        while (frame := self.read()) is not None:
            yield frame

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class VideoCaptureSource(FrameSource):
    """A webcam (int index) or a video file through OpenCV; `realtime` paces a file at its own fps."""

    def __init__(self, target: int | str, realtime: bool = False) -> None:
        self.description = f"camera {target}" if isinstance(target, int) else str(target)
        self._cap = cv2.VideoCapture(target)
        if not self._cap.isOpened():
            self._cap.release()
            what = f"camera {target} (is it plugged in and not used by another program?)" if isinstance(
                target, int) else f"{target}: cannot open video"  # fmt: skip
            raise CameraError(f"cannot open {what}")
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and fps > 0 else None
        self._realtime = realtime and isinstance(target, str) and self.fps is not None
        self._next_t = time.monotonic()

    def read(self) -> np.ndarray | None:
        if self._cap is None:
            return None
        if self._realtime:
            delay = self._next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._next_t = max(self._next_t, time.monotonic() - 1.0) + 1.0 / self.fps
        ok, frame = self._cap.read()
        if not ok or frame is None:
            return None
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)

    def skip(self, n: int) -> int:
        """Drop n frames without decoding or pacing them (grab only); returns how many were dropped."""
        dropped = 0
        while self._cap is not None and dropped < n and self._cap.grab():
            dropped += 1
        self._next_t = time.monotonic()
        return dropped

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class ImageSource(FrameSource):
    """Still images in order; undecodable files are skipped and listed in `problems`, not fatal."""

    def __init__(self, files: list[Path]) -> None:
        self.files = files
        self.description = f"{len(files)} image(s)" if len(files) != 1 else str(files[0])
        self.problems: list[str] = []
        self._i = 0
        self.last_path: Path | None = None

    def read(self) -> np.ndarray | None:
        while self._i < len(self.files):
            path = self.files[self._i]
            self._i += 1
            try:
                frame = load_image(path)
            except ImageReadError as e:
                self.problems.append(str(e))
                continue
            self.last_path = path
            return frame
        return None


class SlicedSource(FrameSource):
    """Skip the first `skip` frames and stop after `limit` (e.g. enrol on frames 0–99, verify on the rest)."""

    def __init__(self, inner: FrameSource, skip: int = 0, limit: int | None = None, step: int = 1) -> None:
        self.inner, self.skip, self.limit, self.step = inner, skip, limit, max(1, step)
        self.description, self.fps = inner.description, inner.fps
        self._seen = 0
        self._given = 0

    def read(self) -> np.ndarray | None:
        if self.limit is not None and self._given >= self.limit:
            return None
        if self._seen < self.skip and isinstance(self.inner, VideoCaptureSource):
            self._seen += self.inner.skip(self.skip - self._seen)  # fast: no decode, no realtime pacing
        while True:
            frame = self.inner.read()
            if frame is None:
                return None
            i = self._seen
            self._seen += 1
            if i >= self.skip and (i - self.skip) % self.step == 0:
                self._given += 1
                return frame

    def close(self) -> None:
        self.inner.close()


def _require_regular(path: Path) -> None:
    try:
        check_regular(path)
    except NotRegularFile as e:
        raise CameraError(str(e)) from None
    except FileNotFoundError:
        raise CameraError(f"{path}: no such file") from None
    except OSError as e:
        raise CameraError(f"{path}: cannot read ({e.strerror or e})") from None


def folder_images(path: Path) -> list[Path]:
    """Image files of a folder, sorted; CameraError naming the first image-named entry that is not a regular
    file (a FIFO would hang the reader) or when there are none."""
    try:
        entries = sorted(p for p in path.iterdir() if has_image_suffix(p) and not p.is_dir())
    except OSError as e:
        raise CameraError(f"{path}: cannot list folder ({e.strerror or e})") from None
    for p in entries:
        _require_regular(p)
    if not entries:
        raise CameraError(f"{path}: folder holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return entries


def open_source(spec: str | int | list, skip: int = 0, limit: int | None = None, step: int = 1,
                realtime: bool = False) -> FrameSource:  # fmt: skip
    """"0" → webcam 0; a video file; an image file; a folder of images; or a list of image files."""
    if isinstance(spec, list | tuple) and len(spec) == 1:
        spec = spec[0]
    if isinstance(spec, list | tuple):
        files = [Path(s) for s in spec]
        for f in files:
            _require_regular(f)
        src: FrameSource = ImageSource(files)
    elif isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
        src = VideoCaptureSource(int(spec))
    else:
        path = Path(spec).expanduser()
        if path.is_dir():
            src = ImageSource(folder_images(path))
        elif not path.exists():
            raise CameraError(f"{path}: no such file or folder")
        else:
            _require_regular(path)
            if path.suffix.lower() in VIDEO_SUFFIXES:
                src = VideoCaptureSource(str(path), realtime=realtime)
            elif path.suffix.lower() in IMAGE_SUFFIXES:
                src = ImageSource([path])
            else:
                raise CameraError(f"{path}: not a video or image file this app reads")
    if skip or limit is not None or step != 1:
        src = SlicedSource(src, skip, limit, step)
    return src


def is_camera(spec: str | int) -> bool:
    """A camera index ("0"; at most 3 ASCII digits), as opposed to a video, an image or a folder standing in for
    one. The settings file may hold only this (decision 010/008: a file any process of the user can write)."""
    if isinstance(spec, int):
        return spec >= 0
    return isinstance(spec, str) and spec.isascii() and spec.isdigit() and len(spec) <= 3


def describe_source(spec: str) -> str:
    """Plain words for a source spec, for status lines and dialogs."""
    if is_camera(spec):
        return f"camera {spec}"
    p = Path(spec).expanduser()
    kind = "image folder" if p.is_dir() else "video file" if p.suffix else "file"
    return f"{kind} {p.name or p}"
