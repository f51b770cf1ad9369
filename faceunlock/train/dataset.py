"""Folder-per-person datasets as aligned chips, the identity-disjoint split, augmentation, and the P×K sampler.

Chips are aligned once per file (facesets caches MTCNN detections) and held in memory as uint8: personal
datasets are hundreds to a few thousand faces, so every epoch after the first costs only the network.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from faceunlock.errors import DatasetError
from faceunlock.facesets import DetectionCache, load_chips, scan_identities
from faceunlock.images import is_image_file

log = logging.getLogger(__name__)

AUGMENTATIONS = ("none", "flip", "brighter", "darker")
"""Deterministic chip variants, in the order `--augment N` takes them. A variant is deterministic so that
head-only training can cache the frozen trunk's features once per (image, variant)."""


@dataclass
class FaceSet:
    """Aligned chips with integer labels. `names[label]` is the identity; `negative_only` marks samples
    whose identity has a single usable image (or comes from --negatives): they can only be negatives."""

    chips: np.ndarray
    labels: np.ndarray
    names: list[str]
    paths: list[Path]
    negative_only: np.ndarray
    problems: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    _fingerprint: str | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.labels)

    def select(self, mask: np.ndarray) -> FaceSet:
        """The samples where `mask` is true (labels and names kept: label values stay comparable)."""
        idx = np.flatnonzero(mask)
        return FaceSet(self.chips[idx], self.labels[idx], self.names, [self.paths[i] for i in idx],
                       self.negative_only[idx], list(self.problems), list(self.warnings))  # fmt: skip

    def identities(self, with_positives: bool = True) -> list[int]:
        """Labels present; with_positives: only those with ≥ 2 images that are not negative-only."""
        labels = self.labels[~self.negative_only] if with_positives else self.labels
        values, counts = np.unique(labels, return_counts=True)
        return [int(v) for v, c in zip(values, counts, strict=True) if c >= 2 or not with_positives]

    def fingerprint(self) -> str:
        """Content hash of chips and labels: keys the feature cache and guards --resume against a changed set."""
        if self._fingerprint is None:
            h = hashlib.sha256()
            h.update(np.ascontiguousarray(self.labels, np.int64).tobytes())
            h.update(np.ascontiguousarray(self.chips).tobytes())
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def summary(self) -> dict:
        return {
            "images": len(self),
            "identities": len(set(self.labels.tolist())),
            "identities_with_pairs": len(self.identities()),
            "negative_only_images": int(self.negative_only.sum()),
            "skipped_files": len(self.problems),
        }


def _negative_folder(root: Path) -> dict[str, list[Path]]:
    """--negatives: sub-folders are people; loose images in the folder are one person each."""
    groups = scan_identities(root)
    try:
        loose = sorted(p for p in root.iterdir() if is_image_file(p))
    except OSError as e:
        raise DatasetError(f"{root}: cannot list folder ({e})") from e
    for p in loose:
        groups[f"{root.name}/{p.name}"] = [p]
    return groups


def load_faceset(
    root: Path,
    backbone,
    cache: DetectionCache | None = None,
    progress: bool = False,
    negatives: bool = False,
    prefix: str = "",
) -> FaceSet:
    """Scan, detect (cached) and align a folder-per-person dataset for `backbone`.

    Files without a usable face are listed in `problems`; an identity left with one usable image is kept
    as a negative only, with a warning, because it can never form a positive pair.
    """
    root = Path(root)
    groups = _negative_folder(root) if negatives else scan_identities(root)
    files = [f for fs in groups.values() for f in fs]
    owner = {f: name for name, fs in groups.items() for f in fs}
    chips, kept, problems = load_chips(files, backbone, cache=cache, progress=progress)
    names = sorted({owner[p] for p in kept})
    index = {n: i for i, n in enumerate(names)}
    labels = np.array([index[owner[p]] for p in kept], np.int64)
    counts = np.bincount(labels, minlength=len(names)) if len(labels) else np.zeros(0, int)
    warnings = []
    if not negatives:
        for name, n in zip(names, counts, strict=True):
            if n == 1:
                warnings.append(f"{root / name}: only one usable image; used as a negative only")
    single = counts[labels] < 2 if len(labels) else np.zeros(0, bool)
    neg_only = np.ones(len(labels), bool) if negatives else single
    return FaceSet(chips, labels, [prefix + n for n in names], kept, neg_only,
                   [(str(p), r) for p, r in problems], warnings)  # fmt: skip


def merge(a: FaceSet, b: FaceSet) -> FaceSet:
    """Concatenate two sets; b's labels are shifted past a's so identities never collide."""
    return FaceSet(
        np.concatenate([a.chips, b.chips]), np.concatenate([a.labels, b.labels + len(a.names)]),
        a.names + b.names, a.paths + b.paths, np.concatenate([a.negative_only, b.negative_only]),
        a.problems + b.problems, a.warnings + b.warnings,
    )  # fmt: skip


def split_identities(
    fs: FaceSet, val_fraction: float, seed: int, min_val: int = 2
) -> tuple[FaceSet, FaceSet]:
    """Identity-disjoint held-out split: no person in the held-out set was ever trained on.

    Only identities with pairs are eligible for held-out (it needs genuine pairs); at least `min_val` go
    there and at least two (or one plus negatives) stay for training, else a DatasetError says to add
    people or pass --val.
    """
    eligible = fs.identities()
    n_val = max(min_val, round(len(eligible) * val_fraction))
    has_neg = bool(fs.negative_only.any())
    if len(eligible) - n_val < (1 if has_neg else 2):
        raise DatasetError(
            f"{len(eligible)} people with ≥ 2 usable images is too few to hold out {n_val} for evaluation and "
            "still train on at least 2: add people, add --negatives DIR, or pass a separate --val DIR"
        )
    rng = np.random.default_rng(seed)
    val_ids = set(rng.permutation(eligible)[:n_val].tolist())
    in_val = np.isin(fs.labels, list(val_ids))
    val = fs.select(in_val)
    val.problems, val.warnings = (
        [],
        [],
    )  # they describe the source folder: reported once, with the training set
    return fs.select(~in_val), val


def augment(chips: np.ndarray, variant: int) -> np.ndarray:
    """Chip variant `variant` (index into AUGMENTATIONS) of a uint8 N×S×S×3 batch."""
    kind = AUGMENTATIONS[variant]
    if kind == "none":
        return chips
    if kind == "flip":
        return np.ascontiguousarray(chips[:, :, ::-1])
    gamma = 0.7 if kind == "brighter" else 1.4
    lut = np.clip(255.0 * (np.arange(256) / 255.0) ** gamma + 0.5, 0, 255).astype(np.uint8)
    return lut[chips]


@dataclass
class TrainingData:
    """What a run trains on and what it is judged on (never the same people), and how they were split."""

    train: FaceSet
    val: FaceSet
    split: str


def prepare_data(cfg, backbone, rt) -> TrainingData:
    """Load train / negatives / held-out chips for a FineTuneConfig `cfg` on runtime `rt`.

    Rank 0 detects first (the detection cache is one SQLite file); the other ranks then only read it.
    """
    if not rt.is_main:
        rt.barrier()
    cache = DetectionCache()
    try:
        progress = cfg.progress and rt.is_main
        train = load_faceset(cfg.data, backbone, cache, progress)
        if len(train.names) == 0:
            raise DatasetError(
                f"{cfg.data}: no usable faces in any sub-folder (one folder per person expected)"
            )
        if cfg.negatives:
            neg = load_faceset(cfg.negatives, backbone, cache, progress, negatives=True, prefix="neg:")
            train = merge(train, neg)
        has_neg = bool(train.negative_only.any())
        if cfg.val:
            val = load_faceset(cfg.val, backbone, cache, progress, prefix="val:")
            shared = {n.removeprefix("val:") for n in val.names} & set(train.names)
            if shared:
                train.warnings.append(f"--val shares folder names with the training data ({sorted(shared)[:3]}…): "
                                      "if these are the same people, held-out numbers are optimistic")  # fmt: skip
            split = f"--val {cfg.val}"
        else:
            if len(train.identities()) < 2 and not has_neg:
                raise DatasetError(_too_few(cfg.data, train))
            train, val = split_identities(train, cfg.val_fraction, cfg.seed)
            split = f"identity-disjoint: {len(val.identities())} of the people held out (seed {cfg.seed})"
        if len(train.identities()) < (1 if has_neg else 2):
            raise DatasetError(_too_few(cfg.data, train))
        if len(val.identities()) < 2:
            raise DatasetError(f"held-out set has {len(val.identities())} people with ≥ 2 usable images; "
                               "it needs at least 2 to measure genuine and impostor pairs")  # fmt: skip
    finally:
        cache.close()
    if rt.is_main:
        rt.barrier()
    return TrainingData(train, val, split)


def _too_few(root: Path, fs: FaceSet) -> str:
    return (f"{root}: {len(fs.identities())} people with ≥ 2 usable face images; fine-tuning needs at least 2 "
            "(or 1 plus --negatives DIR with other people)")  # fmt: skip


class PKSampler:
    """Batches of P identities × K images, the same list on every process, each process taking its share.

    An epoch draws about one pass over the trainable images: identities are visited in shuffled rounds so
    each appears equally often, and each identity's images are drawn without replacement until used up.
    Identities with fewer than K images contribute all they have. `n_negatives` one-image negatives are
    appended to each batch. The batch list depends only on (seed, epoch), so under DDP rank r takes batches
    r, r+W, … of a list truncated to a multiple of W: disjoint, equal in number (no rank waits forever).
    """

    def __init__(self, labels: np.ndarray, negative_only: np.ndarray, p: int, k: int, seed: int = 0,
                 rank: int = 0, world_size: int = 1, n_negatives: int = 0) -> None:  # fmt: skip
        labels, negative_only = np.asarray(labels), np.asarray(negative_only, bool)
        self.pools = {}
        for lab in np.unique(labels[~negative_only]):
            idx = np.flatnonzero((labels == lab) & ~negative_only)
            if len(idx) >= 2:
                self.pools[int(lab)] = idx
        self.negatives = np.flatnonzero(negative_only)
        if len(self.pools) < 1 or (len(self.pools) < 2 and len(self.negatives) == 0):
            raise DatasetError(
                "training needs at least 2 people with ≥ 2 usable images (or 1 plus --negatives)"
            )
        self.p = min(p, len(self.pools))
        self.k = k
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.n_negatives = min(n_negatives, len(self.negatives))
        self.epoch = 0
        images = sum(len(v) for v in self.pools.values())
        per_batch = sum(sorted((min(len(v), k) for v in self.pools.values()), reverse=True)[: self.p])
        n = max(1, math.ceil(images / per_batch))
        self.batches_total = max(world_size, n - n % world_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def all_batches(self) -> list[np.ndarray]:
        """Every process's batches for this epoch, in order (rank r uses entries r, r+W, …)."""
        rng = np.random.default_rng([self.seed, self.epoch])
        ids = list(self.pools)
        queue: list[int] = []
        pools = {i: list(rng.permutation(v)) for i, v in self.pools.items()}
        negs = list(rng.permutation(self.negatives))
        out = []
        for _ in range(self.batches_total):
            chosen: list[int] = []
            while len(chosen) < self.p:
                if not queue:
                    queue = [int(i) for i in rng.permutation(ids)]
                i = queue.pop()
                if i in chosen:  # the end of a round met the start of the next: put it back for later
                    queue.insert(0, i)
                    continue
                chosen.append(i)
            batch = []
            for i in chosen:
                take = min(self.k, len(self.pools[i]))
                if len(pools[i]) < take:
                    pools[i] += list(rng.permutation(self.pools[i]))
                batch += pools[i][:take]
                del pools[i][:take]
            for _ in range(self.n_negatives):
                if not negs:
                    negs = list(rng.permutation(self.negatives))
                batch.append(negs.pop())
            out.append(np.asarray(batch, np.int64))
        return out

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self.all_batches()[self.rank :: self.world_size])

    def __len__(self) -> int:
        return self.batches_total // self.world_size
