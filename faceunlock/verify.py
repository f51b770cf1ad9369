"""The decision: distances from live frames to the user's templates, against the calibrated threshold.

One lucky frame must not unlock: `required` good frames within the last `window` must each be closer than the
threshold to some template, and (when liveness runs) each of those same frames judged live. The threshold comes
only from a Calibration bound to the active model — there is no default distance anywhere in this path.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field

import numpy as np

from faceunlock.calibrate import Calibration
from faceunlock.embed import pairwise_distances
from faceunlock.policy import AuthPolicy

_DEFAULT = AuthPolicy()


@dataclass
class Decision:
    """What was decided and why; serialisable for `verify --json` and logs."""

    accepted: bool
    reason: str
    threshold: float
    distances: list[float] = field(default_factory=list)  # per usable frame: min distance to a template
    frames_seen: int = 0
    frames_usable: int = 0
    matches: int = 0
    required: int = 0
    model: str = ""
    rejected_frames: dict[str, int] = field(default_factory=dict)  # Rejection (a str) → count
    liveness: float | None = None  # mean live probability over the last window's judged frames, if run
    spoof: bool = False
    locked_out_s: float = 0.0  # > 0: refused by the lockout before any frame was read; wait this long

    def to_dict(self) -> dict:
        return asdict(self)


class Verifier:
    """Stateful multi-frame verifier for one user and one model."""

    def __init__(self, templates: np.ndarray, calibration: Calibration, required: int = _DEFAULT.required,
                 window: int = _DEFAULT.window) -> None:  # fmt: skip
        templates = np.asarray(templates, np.float32)
        if templates.ndim != 2 or len(templates) == 0:
            raise ValueError("no templates for this model: enrol first")
        if required < 1 or window < required:
            raise ValueError("need 1 ≤ required ≤ window")
        self.templates = templates
        self.calibration = calibration
        self.threshold = float(calibration.threshold)
        self.required, self.window = required, window
        self.recent: deque[bool] = deque(maxlen=window)
        self.distances: list[float] = []
        self.matched: list[bool] = []

    def distance(self, embedding: np.ndarray) -> float:
        return float(pairwise_distances(np.asarray(embedding)[None], self.templates).min())

    def add(self, embedding: np.ndarray, live: bool = True) -> bool:
        """Score one usable frame; True once `required` of the last `window` frames matched.

        A frame matches only when it is close enough AND `live` (judged live on this very frame)."""
        d = self.distance(embedding)
        match = d <= self.threshold and live
        self.distances.append(d)
        self.matched.append(match)
        self.recent.append(match)
        return self.satisfied

    def reset(self) -> None:
        """Forget the window (another face took over): earlier frames no longer count towards acceptance."""
        self.recent.clear()

    @property
    def satisfied(self) -> bool:
        return sum(self.recent) >= self.required

    def decision(self, frames_seen: int, model: str = "", rejected: dict[str, int] | None = None,
                 ended: str = "") -> Decision:  # fmt: skip
        matches = sum(self.matched)
        if self.satisfied:
            reason = f"{sum(self.recent)} of the last {len(self.recent)} usable frames matched (≤ {self.threshold:.4f})"
        elif not self.distances:
            reason = "no usable face in any frame" + (f" ({ended})" if ended else "")
        else:
            reason = (f"only {matches} of {len(self.distances)} usable frames matched; {self.required} within "
                      f"{self.window} consecutive needed; best distance {min(self.distances):.4f} vs threshold "
                      f"{self.threshold:.4f}" + (f" ({ended})" if ended else ""))  # fmt: skip
        return Decision(self.satisfied, reason, self.threshold, [round(d, 5) for d in self.distances],
                        frames_seen, len(self.distances), matches, self.required, model, dict(rejected or {}))  # fmt: skip
