"""Folders of face photos → aligned chips, with MTCNN run once per file.

Detections (not chips) are cached in a small SQLite file keyed by path, size and mtime: the chip depends on the
backbone but the detection does not, so `align`, `calibrate`, `evaluate` and `fine-tune` all share one cache and a
second run never detects again. Beside them the same file keeps each photo's embedding per weights file
(`embed_files`), so evaluating a second pairs list or calibrating on a set already measured embeds nothing again.
Files that fail to decode or hold no face are reported, never fatal — including a FIFO or device named like an
image, which load_image refuses without opening it for a blocking read.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from faceunlock import paths
from faceunlock.detect import Face, FaceDetector
from faceunlock.errors import DatasetError, ImageReadError
from faceunlock.images import has_image_suffix, load_image

CACHE_VERSION = "mtcnn-480-padretry-v2"  # in every key: bump it when detection or an alignment recipe changes


def scan_identities(root: Path) -> dict[str, list[Path]]:
    """Folder-per-identity layout → {identity: sorted image paths}. Unreadable root → DatasetError."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder (expected one sub-folder per person)")
    try:
        subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError as e:
        raise DatasetError(f"{root}: cannot list folder ({e})") from e
    out: dict[str, list[Path]] = {}
    for d in subdirs:
        try:
            # not is_file(): a FIFO named x.jpg is listed, so that load_image reports it instead of skipping it
            files = sorted(p for p in d.iterdir() if has_image_suffix(p) and not p.is_dir())
        except OSError as e:
            raise DatasetError(f"{d}: cannot list folder ({e})") from e
        if files:
            out[d.name] = files
    return out


class DetectionCache:
    """path+size+mtime → the primary face (or the reason there is none), in SQLite under the cache dir."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path else paths.cache_dir() / "detections.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # several processes (a fine-tune and a calibrate) may share the cache: WAL + a wait, short transactions
        self._db = sqlite3.connect(self.path, timeout=120)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError:  # another process holds it right now; the busy timeout still applies
            pass
        self._db.execute("CREATE TABLE IF NOT EXISTS det (key TEXT PRIMARY KEY, value TEXT)")
        self._db.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, value BLOB)")

    @staticmethod
    def key(path: Path) -> str:
        st = path.stat()
        return f"{CACHE_VERSION}|{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"

    def get(self, path: Path) -> dict | None:
        row = self._db.execute("SELECT value FROM det WHERE key=?", (self.key(path),)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, path: Path, value: dict) -> None:
        self._db.execute("INSERT OR REPLACE INTO det VALUES (?, ?)", (self.key(path), json.dumps(value)))

    def get_embedding(self, path: Path, model: str) -> np.ndarray | None:
        """The embedding `model` (see `model_key`) made of this file's cached face, or None."""
        row = self._db.execute("SELECT value FROM emb WHERE key=?", (f"{self.key(path)}|{model}",)).fetchone()
        return np.frombuffer(row[0], np.float32).copy() if row else None

    def put_embedding(self, path: Path, model: str, vec: np.ndarray) -> None:
        self._db.execute("INSERT OR REPLACE INTO emb VALUES (?, ?)",
                         (f"{self.key(path)}|{model}", np.asarray(vec, np.float32).tobytes()))  # fmt: skip

    def commit(self) -> None:
        self._db.commit()

    def close(self) -> None:
        self._db.commit()
        self._db.close()


def face_to_dict(face: Face) -> dict:
    return {"box": face.box.tolist(), "score": face.score, "landmarks": face.landmarks.tolist()}


def face_from_dict(d: dict) -> Face:
    return Face(np.asarray(d["box"], np.float32), float(d["score"]), np.asarray(d["landmarks"], np.float32))


@dataclass
class Detected:
    path: Path
    face: Face | None
    problem: str | None = None
    image: np.ndarray | None = field(default=None, repr=False)


def iter_detect_files(
    files: Iterable[Path],
    detector_factory: Callable[[], FaceDetector] = FaceDetector,
    cache: DetectionCache | None = None,
    progress: bool = False,
    keep_images: bool = False,
) -> Iterator[Detected]:
    """Primary face per file (cached), one file at a time: a decoded photo lives only until the caller moves to
    the next one, so memory does not grow with the dataset (a folder of phone photos is 36 MB a picture). The
    detector is built only if some file is not cached yet; the cache is committed every 25 files, so an
    interrupted run resumes where it stopped."""
    from tqdm import tqdm

    files = list(files)
    detector: FaceDetector | None = None
    try:
        for i, path in enumerate(tqdm(files, desc="detect", unit="img", disable=not progress)):
            try:
                cached = cache.get(path) if cache else None
            except OSError:  # vanished or unreadable: load_image below reports it
                cached = None
            image = None
            if cached is None or keep_images:
                try:
                    image = load_image(path)
                except ImageReadError as e:
                    yield Detected(path, None, str(e))
                    continue
            if cached is None:
                if detector is None:
                    detector = detector_factory()
                face = detector.primary(image, pad_retry=True)
                cached = {"face": face_to_dict(face)} if face else {"face": None}
                if cache:
                    cache.put(path, cached)
                    if i % 25 == 0:
                        cache.commit()
            face = face_from_dict(cached["face"]) if cached["face"] else None
            yield Detected(path, face, None if face else f"{path}: no face found", image)
    finally:
        if cache:
            cache.commit()


def model_key(backbone) -> str | None:
    """What an embedding depends on besides the photo and its face: the architecture (its alignment recipe) and
    the weights file's hash. None for weights that are not a file's (nothing stable to key them by)."""
    return f"{backbone.arch}|{backbone.name}|{backbone.sha256}" if backbone.sha256 else None


def embed_files(
    files: Iterable[Path],
    backbone,
    detector_factory: Callable[[], FaceDetector] = FaceDetector,
    cache: DetectionCache | None = None,
    progress: bool = False,
    batch: int = 64,
) -> tuple[np.ndarray, list[Path], list[tuple[Path, str]]]:
    """Each file's primary face embedded by `backbone` → (embeddings N×D, kept paths in `files` order,
    [(path, problem)]).

    Streams: a photo is decoded, detected (or its cached face read) and aligned, its chip waits for a batch of
    `batch`, and only the embeddings are kept — memory does not grow with the dataset. Embeddings are cached per
    weights file (`model_key`): a file already embedded by these weights is neither decoded nor embedded again."""
    files = list(files)
    model = model_key(backbone) if cache else None
    done: dict[Path, np.ndarray] = {}
    todo = []
    for path in files:
        try:
            vec = cache.get_embedding(path, model) if model else None
        except OSError:  # vanished or unreadable: the detection pass reports it
            vec = None
        if vec is None:
            todo.append(path)
        else:
            done[path] = vec
    problems: list[tuple[Path, str]] = []
    waiting: list[tuple[Path, np.ndarray]] = []

    def flush() -> None:
        vecs = backbone.embed(np.stack([c for _, c in waiting]))
        for (path, _), vec in zip(waiting, vecs, strict=True):
            done[path] = vec
            if model:
                cache.put_embedding(path, model, vec)
        waiting.clear()

    for det in iter_detect_files(todo, detector_factory, cache, progress, keep_images=True):
        if det.face is None:
            problems.append((det.path, det.problem or "no face"))
            continue
        try:
            waiting.append((det.path, backbone.align(det.image, det.face)))
        except ValueError as e:
            problems.append((det.path, f"{det.path}: cannot align ({e})"))
        if len(waiting) >= batch:
            flush()
    if waiting:
        flush()
    if cache:
        cache.commit()
    kept = [p for p in files if p in done]
    emb = np.stack([done[p] for p in kept]) if kept else np.zeros((0, backbone.embedding_dim), np.float32)
    return emb.astype(np.float32, copy=False), kept, problems


def detect_files(files: Iterable[Path], detector_factory: Callable[[], FaceDetector] = FaceDetector,
                 cache: DetectionCache | None = None, progress: bool = False,
                 keep_images: bool = False) -> list[Detected]:  # fmt: skip
    """All of `iter_detect_files` as a list (keep_images=True then holds every photo: prefer the iterator)."""
    return list(iter_detect_files(files, detector_factory, cache, progress, keep_images))


def load_chips(
    files: Iterable[Path],
    backbone,
    detector_factory: Callable[[], FaceDetector] = FaceDetector,
    cache: DetectionCache | None = None,
    progress: bool = False,
) -> tuple[np.ndarray, list[Path], list[tuple[Path, str]]]:
    """Aligned chips for `backbone` → (chips N×S×S×3 uint8, kept paths, [(path, problem)])."""
    chips, kept, problems = [], [], []
    for det in iter_detect_files(files, detector_factory, cache, progress, keep_images=True):
        if det.face is None:
            problems.append((det.path, det.problem or "no face"))
            continue
        try:
            chips.append(backbone.align(det.image, det.face))
            kept.append(det.path)
        except ValueError as e:
            problems.append((det.path, f"{det.path}: cannot align ({e})"))
    s = backbone.input_size
    arr = np.stack(chips) if chips else np.zeros((0, s, s, 3), np.uint8)
    return arr, kept, problems
