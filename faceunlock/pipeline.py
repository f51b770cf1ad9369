"""One frame through the core: detect → choose the user's face → quality gates → align → (embed).

Shared by enrolment, verification, the lock screen and benchmarks, so every path sees the same face the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from faceunlock.detect import Face, FaceDetector, choose_primary
from faceunlock.embed import Backbone
from faceunlock.quality import Quality, QualityLimits, assess
from faceunlock.reasons import Rejection


@dataclass
class FrameResult:
    face: Face | None
    quality: Quality | None
    chip: np.ndarray | None  # aligned chip when the face passed the gates
    n_faces: int = 0

    @property
    def usable(self) -> bool:
        return self.chip is not None

    @property
    def rejection(self) -> Rejection | None:
        """Why this frame cannot be used (the first gate that failed), or None when it is usable."""
        if self.face is None:
            return Rejection.NO_FACE
        if self.chip is None and self.quality is not None and self.quality.reasons:
            return self.quality.reasons[0]
        return None

    @property
    def message(self) -> str:
        if self.face is None:
            return Rejection.NO_FACE.guidance
        if self.quality is not None and not self.quality.ok:
            return self.quality.guidance
        return "Face found"


class FaceProcessor:
    """Holds the detector and the backbone; cheap per frame, expensive to build (load once)."""

    def __init__(self, backbone: Backbone, detector: FaceDetector | None = None,
                 limits: QualityLimits | None = None) -> None:  # fmt: skip
        self.backbone = backbone
        self.detector = detector or FaceDetector(device=backbone.device)
        self.limits = limits or QualityLimits()

    def analyze(self, frame: np.ndarray) -> FrameResult:
        # 0.8: MTCNN's pyramid floor is approximate; faces a little under the gate still get "move closer"
        faces = self.detector.detect(frame, min_face_px=0.8 * self.limits.min_face_px)

        face = choose_primary(faces, frame.shape)
        if face is None:
            return FrameResult(None, None, None, 0)
        q = assess(frame, face, self.limits)
        chip = self.backbone.align(frame, face) if q.ok else None
        return FrameResult(face, q, chip, len(faces))

    def embed_one(self, chip: np.ndarray) -> np.ndarray:
        return self.backbone.embed(chip[None])[0]
