"""Why a frame does not count, as a typed value: one place for the key that counters and JSON use and for the
words a person is shown.

Quality gates, the pipeline, an attempt, enrolment and the GUI all speak `Rejection`; nobody recovers a reason by
cutting up a message any more. The values are the short keys the CLI's `--json` has always printed ("too dark",
"repeated frame" …), so scripts reading `rejected_frames` see the same text (a StrEnum is a str).
"""

from __future__ import annotations

from enum import StrEnum


class Rejection(StrEnum):
    NO_FACE = "no face"
    TOO_SMALL = "face too small"
    TOO_DARK = "too dark"
    OVEREXPOSED = "overexposed"
    BLURRED = "blurred"
    TILTED = "head tilted"  # roll: the head leans to one side
    TURNED = "head turned"  # yaw beyond the gate
    LOOKING_UP = "head tilted up"
    LOOKING_DOWN = "head tilted down"
    POSE_CAPTURED = "pose already captured"  # enrolment: this pose's quota is full
    DUPLICATE = "duplicate frame"  # enrolment: the same picture as the previous one
    REPEATED = "repeated frame"  # an attempt: (almost) identical to a frame already judged — a looped still

    @property
    def guidance(self) -> str:
        """What to ask the person to do (TURNED and POSE_CAPTURED are refined where the direction is known)."""
        return _GUIDANCE[self]


_GUIDANCE = {
    Rejection.NO_FACE: "No face found: look at the camera",
    Rejection.TOO_SMALL: "Move closer to the camera",
    Rejection.TOO_DARK: "Too dark: turn on a light facing you",
    Rejection.OVEREXPOSED: "Too bright: avoid light shining into the camera",
    Rejection.BLURRED: "Hold still",
    Rejection.TILTED: "Keep your head upright",
    Rejection.TURNED: "Look towards the camera",
    Rejection.LOOKING_UP: "Look straight at the camera",
    Rejection.LOOKING_DOWN: "Look straight at the camera",
    Rejection.POSE_CAPTURED: "Turn your head a little",
    Rejection.DUPLICATE: "Move a little",
    Rejection.REPEATED: "Move a little",
}
