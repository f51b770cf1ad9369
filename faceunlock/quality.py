"""Per-face quality gates, each with a reason a person can act on ("move closer", "too dark" …).

A bad frame must never be embedded: blur, darkness or a strongly turned head push genuine distances up
(false rejects) and make templates poor. Pose comes from MTCNN's five landmarks, no extra model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from faceunlock.detect import Face
from faceunlock.reasons import Rejection


@dataclass(frozen=True)
class QualityLimits:
    """Defaults measured on webcam frames and photos in ../shared/data (see tests/test_quality.py)."""

    min_face_px: float = 64.0  # box width in frame pixels
    min_brightness: float = 40.0  # mean grey level of the face, 0..255
    max_brightness: float = 235.0
    min_sharpness: float = 12.0  # variance of the Laplacian on a 112-px face crop
    max_yaw: float = 0.30  # nose offset from the eye midpoint, in eye distances
    max_roll_deg: float = 25.0
    pitch_range: tuple[float, float] = (0.25, 0.80)  # nose height between eyes (0) and mouth (1)


@dataclass
class Quality:
    ok: bool
    reasons: list[Rejection] = field(default_factory=list)  # every gate that failed, in gate order
    guidance: str = ""  # the first fix to ask for
    details: list[str] = field(default_factory=list)  # the measurements behind `reasons` ("brightness 31" …)
    size: float = 0.0
    brightness: float = 0.0
    sharpness: float = 0.0
    yaw: float = 0.0
    pitch: float = 0.5
    roll: float = 0.0


def head_pose(face: Face) -> tuple[float, float, float]:
    """(yaw, pitch, roll°) from landmarks: yaw/pitch as landmark ratios (0 and ~0.5 when frontal)."""
    le, re, nose, ml, mr = np.asarray(face.landmarks, np.float64)
    eye_mid, mouth_mid = (le + re) / 2, (ml + mr) / 2
    ed = float(np.linalg.norm(re - le)) or 1.0
    roll = math.degrees(math.atan2(re[1] - le[1], re[0] - le[0]))
    # project the nose onto the eye axis: signed offset in eye distances
    axis = (re - le) / ed
    yaw = float(np.dot(nose - eye_mid, axis) / ed)
    span = float(np.dot(mouth_mid - eye_mid, np.array([-axis[1], axis[0]])))
    pitch = float(np.dot(nose - eye_mid, np.array([-axis[1], axis[0]])) / span) if abs(span) > 1e-6 else 0.5
    return yaw, pitch, roll


def face_region(image: np.ndarray, face: Face, size: int = 112) -> np.ndarray:
    """The face box as a size×size grey patch (for brightness and blur)."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = face.box
    x1, y1 = int(max(x1, 0)), int(max(y1, 0))
    x2, y2 = int(min(x2, w)), int(min(y2, h))
    if x2 - x1 < 2 or y2 - y1 < 2:
        return np.zeros((size, size), np.uint8)
    grey = cv2.cvtColor(np.ascontiguousarray(image[y1:y2, x1:x2]), cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, (size, size), interpolation=cv2.INTER_AREA)


def assess(image: np.ndarray, face: Face, limits: QualityLimits | None = None) -> Quality:
    """All gates for one face; `ok` only when every gate passes. `guidance` is the first fix to ask for."""
    lim = limits or QualityLimits()
    patch = face_region(image, face)
    brightness = float(patch.mean())
    sharpness = float(cv2.Laplacian(patch, cv2.CV_64F).var())
    yaw, pitch, roll = head_pose(face)
    failed: list[tuple[Rejection, str, str]] = []  # (reason, measurement, guidance)
    if face.width < lim.min_face_px:
        failed.append((Rejection.TOO_SMALL, f"{face.width:.0f} px < {lim.min_face_px:.0f}", ""))
    if brightness < lim.min_brightness:
        failed.append((Rejection.TOO_DARK, f"brightness {brightness:.0f}", ""))
    elif brightness > lim.max_brightness:
        failed.append((Rejection.OVEREXPOSED, f"brightness {brightness:.0f}", ""))
    if sharpness < lim.min_sharpness:
        failed.append((Rejection.BLURRED, f"sharpness {sharpness:.1f}", ""))
    if abs(roll) > lim.max_roll_deg:
        failed.append((Rejection.TILTED, f"{roll:.0f}°", ""))
    if abs(yaw) > lim.max_yaw:
        # nose towards image-right = the person turned to their left; mirror preview shows it the other way
        failed.append((Rejection.TURNED, f"yaw {yaw:+.2f}",
                       "Look slightly " + ("right" if yaw > 0 else "left") + ", towards the camera"))  # fmt: skip
    if not lim.pitch_range[0] <= pitch <= lim.pitch_range[1]:
        up = pitch < lim.pitch_range[0]
        failed.append((Rejection.LOOKING_UP if up else Rejection.LOOKING_DOWN, f"pitch {pitch:.2f}", ""))
    guidance = (failed[0][2] or failed[0][0].guidance) if failed else ""
    return Quality(not failed, [r for r, _, _ in failed], guidance, [d for _, d, _ in failed], face.width,
                   brightness, sharpness, yaw, pitch, roll)  # fmt: skip
