"""Enrolment: turn a stream of frames into a few diverse, consistent templates for one person.

Consecutive video frames are near-duplicates, so all usable chips are collected, embedded, cleaned of
outliers (a second person walking by, a bad alignment), and the most mutually distant ones kept: templates that
cover the poses the user showed, not ten copies of one frame. The pose quotas (poses.PoseCoverage: mostly
straight, a few turned each way) are part of the session, so every front end enrols the same way.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from faceunlock.calibrate import Calibration
from faceunlock.embed import pairwise_distances
from faceunlock.errors import FaceUnlockError
from faceunlock.pipeline import FaceProcessor, FrameResult
from faceunlock.poses import PoseCoverage
from faceunlock.reasons import Rejection


class EnrollmentError(FaceUnlockError):
    """Not enough good frames, or frames of more than one person."""


@dataclass
class EnrollmentResult:
    embeddings: np.ndarray
    frames_seen: int
    frames_usable: int
    outliers: int
    rejected: dict[str, int] = field(default_factory=dict)


def farthest_point_sample(emb: np.ndarray, k: int) -> list[int]:
    """Indices of k rows that spread out the set (greedy max-min distance, starting from the medoid)."""
    if len(emb) <= k:
        return list(range(len(emb)))
    d = pairwise_distances(emb, emb)
    chosen = [int(np.argmin(d.sum(1)))]
    best = d[chosen[0]].copy()
    while len(chosen) < k:
        i = int(np.argmax(best))
        if best[i] <= 0:  # only copies of chosen rows are left
            break
        chosen.append(i)
        best = np.minimum(best, d[i])
    return chosen


class EnrollmentSession:
    """Feed frames with `offer`; `finish` returns the templates (or raises EnrollmentError saying why)."""

    def __init__(self, processor: FaceProcessor, calibration: Calibration, target_frames: int = 20,
                 n_templates: int | None = None, max_outlier_fraction: float = 0.3,
                 coverage: PoseCoverage | None = None) -> None:  # fmt: skip
        self.processor, self.calibration = processor, calibration
        self.coverage = coverage or PoseCoverage.for_frames(target_frames)
        self.target_frames, self.n_templates = self.coverage.total, n_templates
        self.max_outlier_fraction = max_outlier_fraction
        self.chips: list[np.ndarray] = []
        self.frames_seen = 0
        self.rejected: Counter[Rejection] = Counter()
        self._last_landmarks: np.ndarray | None = None

    @property
    def progress(self) -> float:
        return self.coverage.captured / self.coverage.total

    @property
    def done(self) -> bool:
        """Every pose quota is met."""
        return self.coverage.complete

    @property
    def can_finish(self) -> bool:
        """Enough to enrol now (the straight quota), for a person who cannot turn or a video that does not."""
        return self.coverage.basics_done

    def offer(self, frame: np.ndarray) -> FrameResult:
        """Analyse one frame and keep its chip if usable, in a pose still needed, and not a still copy of the
        previous one. A frame in a pose already covered comes back unusable, guiding to the next pose."""
        self.frames_seen += 1
        r = self.processor.analyze(frame)
        if r.rejection:
            self.rejected[r.rejection] += 1
        elif not self.done:
            if self.coverage.classify(r.quality.yaw).full:
                self.rejected[Rejection.POSE_CAPTURED] += 1
                q = dataclasses.replace(r.quality, ok=False, reasons=[Rejection.POSE_CAPTURED],
                                        guidance=self.coverage.next_prompt())  # fmt: skip
                return FrameResult(r.face, q, None, r.n_faces)
            lm = r.face.landmarks
            moved = self._last_landmarks is None or float(np.abs(lm - self._last_landmarks).max()) > 1.0
            if moved:
                self.chips.append(r.chip)
                self.coverage.add(r.quality.yaw)
                self._last_landmarks = lm
            else:
                self.rejected[Rejection.DUPLICATE] += 1
        return r

    def finish(self) -> EnrollmentResult:
        min_needed = max(3, self.target_frames // 4)
        if len(self.chips) < min_needed:
            top = ", ".join(f"{k}: {v}" for k, v in self.rejected.most_common(3)) or "no frames"
            raise EnrollmentError(
                f"only {len(self.chips)} usable frames of {self.frames_seen} (need ≥ {min_needed}); rejected — {top}"
            )
        emb = self.processor.backbone.embed(np.stack(self.chips))
        templates, outliers = select_templates(emb, self.calibration.decision.enrol_threshold, self.n_templates,
                                               self.max_outlier_fraction)  # fmt: skip
        return EnrollmentResult(templates, self.frames_seen, len(self.chips), outliers, dict(self.rejected))


def select_templates(emb: np.ndarray, threshold: float, n_templates: int | None = None,
                     max_outlier_fraction: float = 0.3,
                     ) -> tuple[np.ndarray, int]:  # fmt: skip
    """The enrolment's choice of templates from the usable frames' embeddings → (templates, outliers).

    A frame farther than `threshold` (the calibration's enrol_threshold) from the mean of the other frames is
    an outlier (another person, a bad alignment); too many of them refuse the enrolment. The rest are kept — all
    of them by default, so the appearance's centroid (what the Verifier compares with) is the mean of every good
    frame, not of the most spread ones (decision 019) — or the `n_templates` most mutually distant. Also what the
    attempt simulation (attempts.py) enrols with, so its error rates are those of this code.
    """
    emb = np.asarray(emb, np.float32)
    n = len(emb)
    if n == 1:
        inlier = np.ones(1, bool)
    else:
        others = (emb.sum(axis=0, keepdims=True) - emb) / (n - 1)
        inlier = np.linalg.norm(emb - others, axis=1) <= threshold
    outliers = int((~inlier).sum())
    if outliers > max_outlier_fraction * n:
        raise EnrollmentError(
            f"{outliers} of {n} frames do not match the others: one person only, please, "
            "facing the camera in steady light"
        )
    kept = emb[inlier]
    if n_templates is None or n_templates >= len(kept):
        return kept, outliers
    return kept[farthest_point_sample(kept, n_templates)], outliers
