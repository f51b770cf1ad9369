"""Embed a folder-per-person dataset with progress: shared by `calibrate` and `evaluate`."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class EmbeddedSet:
    embeddings: np.ndarray
    labels: list[str]
    paths: list[Path]
    problems: list[tuple[Path, str]]
    genuine: np.ndarray
    impostor: np.ndarray
    table: list[dict]


def embed_dataset(root: Path, backbone, max_per_identity: int | None = None,
                  target_fars: tuple[float, ...] = (1e-3, 1e-4, 1e-5)) -> EmbeddedSet:  # fmt: skip
    from faceunlock.calibrate import all_pair_distances, tar_at_far
    from faceunlock.errors import DatasetError
    from faceunlock.facesets import DetectionCache, embed_files, scan_identities

    ids = scan_identities(root)
    files, labels = [], []
    for name, fs in ids.items():
        fs = fs[:max_per_identity] if max_per_identity else fs
        files += fs
        labels += [name] * len(fs)
    if len(ids) < 2:
        raise DatasetError(f"{root}: need at least 2 people (one sub-folder each), found {len(ids)}")
    label_of = dict(zip(files, labels, strict=True))
    cache = DetectionCache()
    try:
        emb, kept, problems = embed_files(files, backbone, cache=cache, progress=True)
    finally:
        cache.close()
    kept_labels = [label_of[p] for p in kept]
    genuine, impostor = all_pair_distances(emb, np.asarray(kept_labels))
    if len(genuine) == 0 or len(impostor) == 0:
        raise DatasetError(f"{root}: need people with ≥ 2 usable photos to measure genuine pairs")
    table = [tar_at_far(genuine, impostor, f) for f in target_fars]
    return EmbeddedSet(emb, kept_labels, kept, problems, genuine, impostor, table)


def report_problems(problems: list[tuple[Path, str]], limit: int = 10) -> None:
    if not problems:
        return
    print(f"{len(problems)} file(s) skipped:", file=sys.stderr)
    for _, msg in problems[:limit]:
        print(f"  {msg}", file=sys.stderr)
    if len(problems) > limit:
        print(f"  … and {len(problems) - limit} more (use --json for all)", file=sys.stderr)
