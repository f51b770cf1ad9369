"""`AuthPolicy`: what one authentication attempt is, in one place (re-exported by faceunlock.auth).

Kept apart from auth.py, without numpy or torch, so `faceunlock verify --help` can show the defaults cheaply.
The numbers and the data they were chosen from: docs/decisions/009-one-attempt.md and 006-liveness.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from faceunlock.errors import InvalidInput

MIN_WINDOW, MAX_WINDOW = 3, 15  # the window a person may choose (Settings, `faceunlock lock --frames`)


@dataclass(frozen=True)
class AuthPolicy:
    """What one attempt is: the only place these numbers live (CLI, lock screen, Test recognition, daemon)."""

    required: int = 3  # matching (and live) frames needed …
    window: int = 5  # … within this many consecutive judged frames
    max_frames: int = 60  # frames one attempt may look at before it gives up
    timeout_s: float | None = None
    max_judged: int | None = None  # judged frames after which an unaccepted attempt is over (None: no cap)
    live_threshold: float = 0.5  # per frame: a live score below it is a photo/screen (liveness.py)
    min_change: float = 1.0  # mean |Δ grey| (0–255) between aligned chips below which a frame repeats
    max_shift: float = 0.5  # box centre moves at most this many face widths between judged frames …
    max_scale: float = 1.5  # … and its width changes at most this factor, else it is another face
    track_distance: float | None = None  # embedding distance to the last judged frame; None = calibration's

    def __post_init__(self) -> None:
        if not 1 <= self.required <= self.window:
            raise InvalidInput("need 1 ≤ required ≤ window")
        if self.max_frames < 1 or (self.max_judged is not None and self.max_judged < self.required):
            raise InvalidInput("need max_frames ≥ 1 and max_judged ≥ required")

    @classmethod
    def for_window(cls, window: int | None = None, **kw) -> AuthPolicy:
        """The policy for a window a person chose (Settings, `lock --frames`; None: the default), clamped to
        MIN_WINDOW..MAX_WINDOW: 60 % of its frames must match, at least 2 (one lucky frame never unlocks)."""
        w = min(MAX_WINDOW, max(MIN_WINDOW, window if window is not None else cls.window))
        return cls(required=max(2, min(w, math.ceil(0.6 * w))), window=w, **kw)
