"""`AuthPolicy`: what one authentication attempt is, in one place (re-exported by faceunlock.auth).

Kept apart from auth.py, without numpy or torch, so `faceunlock verify --help` can show the defaults cheaply.
The numbers and the data they were chosen from: docs/decisions/009-one-attempt.md and 006-liveness.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from faceunlock.errors import InvalidInput


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
    def with_window(cls, window: int | None = None, required: int | None = None, **kw) -> AuthPolicy:
        """The default policy with a different window (GUI settings, CLI flags); None keeps the default."""
        base = cls()
        return cls(required=base.required if required is None else required,
                   window=base.window if window is None else window, **kw)  # fmt: skip
