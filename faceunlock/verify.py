"""The decision: the attempt's live frames, fused, against the centroid of each enrolled appearance.

One lucky frame must not unlock, and one attempt's frames carry more than its best frame: the embeddings of the
live frames within the last `window` judged frames (at least `required` of them) are averaged, and the attempt
is accepted when that average is within the calibrated attempt-level threshold of the centroid of one of the
user's appearances (docs/decisions/019: cfp-dev FRR 30 % → 2 % with the attempt-level FAR ≤ 7.6e-5). The
threshold comes only from a Calibration bound to the active model — there is no default distance anywhere in this path.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from faceunlock.calibrate import Calibration
from faceunlock.embed import pairwise_distances
from faceunlock.policy import AuthPolicy

_DEFAULT = AuthPolicy()


def appearance_centroids(templates: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """One mean embedding per enrolled appearance (a 2-D array is one appearance) → A×D."""
    groups = [templates] if isinstance(templates, np.ndarray) else list(templates)
    groups = [np.asarray(g, np.float32) for g in groups]
    if not groups or any(g.ndim != 2 or len(g) == 0 for g in groups):
        raise ValueError("no templates for this model: enrol first")
    if len({g.shape[1] for g in groups}) != 1:
        raise ValueError("appearances have embeddings of different sizes")
    return np.stack([g.mean(axis=0) for g in groups])


def fused_distance(frames: np.ndarray, centroids: np.ndarray) -> float:
    """Distance from the mean of an attempt's frames (n×D) to the closest appearance centroid."""
    return float(pairwise_distances(np.asarray(frames, np.float32).mean(axis=0, keepdims=True), centroids).min())


@dataclass
class Decision:
    """What was decided and why; serialisable for `verify --json` and logs."""

    accepted: bool
    reason: str
    threshold: float
    distances: list[float] = field(default_factory=list)  # per usable frame: distance to the closest centroid
    frames_seen: int = 0
    frames_usable: int = 0
    matches: int = 0  # live frames fused in the decisive (or last) window
    required: int = 0
    model: str = ""
    rejected_frames: dict[str, int] = field(default_factory=dict)  # Rejection (a str) → count
    liveness: float | None = None  # mean live probability over the last window's judged frames, if run
    spoof: bool = False
    locked_out_s: float = 0.0  # > 0: refused by the lockout before any frame was read; wait this long
    fused_distance: float | None = None  # the best window's fused distance (what the threshold bounds)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Decision:
        """From `to_dict()` (e.g. the daemon's reply); unknown keys ignored."""
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def summary(self) -> str:
        """One line for a person: how many good frames were fused, how close, against what threshold."""
        fused = f"fused distance {self.fused_distance:.3f}, " if self.fused_distance is not None else ""
        return (f"{self.matches} live of {self.frames_usable} good frames fused ({fused}threshold "
                f"{self.threshold:.3f}, model {self.model})")


class Verifier:
    """Stateful multi-frame verifier for one user and one model.

    `required` never drops below the calibration's: fewer fused frames would have a higher FAR than measured."""

    def __init__(self, templates: np.ndarray | Sequence[np.ndarray], calibration: Calibration,
                 required: int = _DEFAULT.required, window: int = _DEFAULT.window) -> None:  # fmt: skip
        if required < 1 or window < required:
            raise ValueError("need 1 ≤ required ≤ window")
        self.templates = templates
        self.centroids = appearance_centroids(templates)
        self.calibration = calibration
        decision = calibration.decision
        self.threshold = float(decision.threshold)
        self.required = max(required, decision.required)
        self.window = max(window, self.required)
        self.recent: deque[tuple[np.ndarray, bool]] = deque(maxlen=self.window)
        self.distances: list[float] = []
        self.fused: float | None = None  # the current window's fused distance (None: too few live frames)
        self.best: float | None = None
        self.accepted = False

    def distance(self, embedding: np.ndarray) -> float:
        return float(pairwise_distances(np.asarray(embedding, np.float32)[None], self.centroids).min())

    def add(self, embedding: np.ndarray, live: bool = True) -> bool:
        """Score one usable frame; True once the live frames of the window, fused, are close enough.

        Only frames judged live on that very frame are fused; at least `required` of them are needed."""
        e = np.asarray(embedding, np.float32)
        self.distances.append(self.distance(e))
        self.recent.append((e, bool(live)))
        frames = [f for f, ok in self.recent if ok]
        self.fused = fused_distance(np.stack(frames), self.centroids) if len(frames) >= self.required else None
        if self.fused is not None:
            self.best = self.fused if self.best is None else min(self.best, self.fused)
        self.accepted = self.fused is not None and self.fused <= self.threshold
        return self.accepted

    def reset(self) -> None:
        """Forget the window (another face took over): earlier frames no longer count towards acceptance."""
        self.recent.clear()
        self.fused, self.accepted = None, False

    @property
    def satisfied(self) -> bool:
        return self.accepted

    @property
    def live_in_window(self) -> int:
        return sum(ok for _, ok in self.recent)

    def decision(self, frames_seen: int, model: str = "", rejected: dict[str, int] | None = None,
                 ended: str = "") -> Decision:  # fmt: skip
        tail = f" ({ended})" if ended else ""
        if self.satisfied:
            reason = (f"{self.live_in_window} live frames of the last {len(self.recent)}, fused, matched "
                      f"(distance {self.fused:.4f} ≤ {self.threshold:.4f})")  # fmt: skip
        elif not self.distances:
            reason = "no usable face in any frame" + tail
        elif self.best is None:
            reason = (f"never {self.required} live frames within {self.window} consecutive usable frames "
                      f"({len(self.distances)} usable)" + tail)  # fmt: skip
        else:
            reason = (f"no window of {self.required}+ live frames matched: best fused distance {self.best:.4f} vs "
                      f"threshold {self.threshold:.4f} ({len(self.distances)} usable frames)" + tail)  # fmt: skip
        return Decision(self.satisfied, reason, self.threshold, [round(d, 5) for d in self.distances],
                        frames_seen, len(self.distances), self.live_in_window, self.required, model,
                        dict(rejected or {}), fused_distance=None if self.best is None else round(self.best, 5))  # fmt: skip
