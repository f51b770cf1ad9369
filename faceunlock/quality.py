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
    reasons: list[str] = field(default_factory=list)
    guidance: str = ""
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
    reasons, guidance = [], []
    if face.width < lim.min_face_px:
        reasons.append(f"face too small ({face.width:.0f} px < {lim.min_face_px:.0f})")
        guidance.append("Move closer to the camera")
    if brightness < lim.min_brightness:
        reasons.append(f"too dark (brightness {brightness:.0f})")
        guidance.append("Too dark: turn on a light facing you")
    elif brightness > lim.max_brightness:
        reasons.append(f"overexposed (brightness {brightness:.0f})")
        guidance.append("Too bright: avoid light shining into the camera")
    if sharpness < lim.min_sharpness:
        reasons.append(f"blurred (sharpness {sharpness:.1f})")
        guidance.append("Hold still")
    if abs(roll) > lim.max_roll_deg:
        reasons.append(f"head tilted ({roll:.0f}°)")
        guidance.append("Keep your head upright")
    if abs(yaw) > lim.max_yaw:
        reasons.append(f"head turned (yaw {yaw:+.2f})")
        # nose towards image-right = the person turned to their left; mirror preview shows it the other way
        guidance.append("Look slightly " + ("right" if yaw > 0 else "left") + ", towards the camera")
    if not lim.pitch_range[0] <= pitch <= lim.pitch_range[1]:
        reasons.append(f"head tilted {'up' if pitch < lim.pitch_range[0] else 'down'} (pitch {pitch:.2f})")
        guidance.append("Look straight at the camera")
    return Quality(not reasons, reasons, guidance[0] if guidance else "", face.width, brightness, sharpness,
                   yaw, pitch, roll)  # fmt: skip
