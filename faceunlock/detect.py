"""Face detection with facenet-pytorch's MTCNN networks (run by faceunlock/mtcnn.py): frame → faces (box, score, 5 landmarks).

Detection runs on a downscaled copy of large frames (a webcam face is big; MTCNN's cost grows with pixels), and
boxes/landmarks are mapped back to full resolution so alignment cuts from the sharp original.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from faceunlock.mtcnn import Zone, overlaps


@dataclass(frozen=True)
class Face:
    """One detected face in frame pixels. Landmarks: left eye, right eye, nose, mouth left, mouth right (x, y)."""

    box: np.ndarray  # [x1, y1, x2, y2]
    score: float
    landmarks: np.ndarray  # 5×2

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def height(self) -> float:
        return float(self.box[3] - self.box[1])

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    @property
    def centre(self) -> np.ndarray:
        return np.array([(self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2])


def choose_primary(faces: list[Face], frame_shape: tuple[int, ...]) -> Face | None:
    """The face the user means: the largest, discounted by its distance from the frame centre and by how much of
    it lies outside the frame.

    A bystander's larger face at the edge should not beat the user's face in the middle; among similar
    sizes the centred one wins (LFW's labelled face is the centred one). A box mostly outside the picture (MTCNN
    extrapolates a half-visible head) would align to replicated border pixels, so it counts by its visible part,
    squared: on lfw-dev's Akmal_Taher_0001 a 199-px box 82 % outside no longer beats the centred 95-px face.
    """
    if not faces:
        return None
    h, w = frame_shape[:2]
    centre = np.array([w / 2, h / 2])
    half_diag = float(np.hypot(w, h)) / 2 or 1.0

    def weight(f: Face) -> float:
        off = float(np.linalg.norm(f.centre - centre)) / half_diag
        x1, y1, x2, y2 = (float(v) for v in f.box)
        inside = max(0.0, min(x2, w) - max(x1, 0.0)) * max(0.0, min(y2, h) - max(y1, 0.0))
        visible = inside / f.area if f.area > 0 else 0.0
        return f.area * visible**2 * (1.0 - 0.6 * min(off, 1.0))

    return max(faces, key=weight)


FOLLOW_MARGIN = 0.5  # the zone: the previous box grown by half its width on every side
FOLLOW_MIN_WINDOW = 0.5  # pyramid levels whose 12-px window covers under half the previous width are skipped,
FOLLOW_MAX_WINDOW = 3.0  # and those whose window covers over three times it
FOLLOW_MIN_OVERLAP = 0.05  # candidates overlapping the previous face less (IoU) never reach R-Net


def follow_zone(prev: Face, scale: float = 1.0) -> Zone:
    """Where to look for `prev`'s face in the next frame (in pixels of the image scaled by `scale`).

    Measured on every frame of the shared videos (decision 024): a face moves a few pixels a frame, and with
    these bounds the search returns the full search's box bit for bit on every followed frame of the webcam
    clip, and on all but 2 of 91 of the crowded street video; a window floor of 0.6 or a ceiling of 2, or a
    margin of 0.3, no longer did (or lost the face more often).
    """
    w = prev.width * scale
    x1, y1, x2, y2 = (float(v) * scale for v in prev.box)
    m = FOLLOW_MARGIN * w
    return Zone((x1 - m, y1 - m, x2 + m, y2 + m), FOLLOW_MIN_WINDOW * w, FOLLOW_MAX_WINDOW * w, (x1, y1, x2, y2),
                FOLLOW_MIN_OVERLAP)


def overlap(a: Face, b: Face) -> float:
    """Intersection over union of two faces' boxes (mtcnn.overlaps' rule); 0 for boxes with no area."""
    with np.errstate(invalid="ignore", divide="ignore"):
        v = float(overlaps(a.box[None, :4], b.box[None, :4])[0, 0])
    return v if np.isfinite(v) else 0.0


class FaceDetector:
    """MTCNN wrapper. `max_side`: longest side of the copy that detection runs on (None = full frame)."""

    def __init__(
        self,
        device: str = "cpu",
        max_side: int | None = 480,
        min_face_size: int = 20,
        thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
        min_score: float = 0.9,
    ) -> None:
        from faceunlock.mtcnn import MTCNN  # the networks load when a detector is built

        self.max_side = max_side
        self.min_score = min_score
        self._min_face_size = min_face_size
        self._thresholds = thresholds
        self._mtcnn = MTCNN(device=device)

    def detect(self, image: np.ndarray, min_face_px: float | None = None, near: Face | None = None) -> list[Face]:
        """All faces in an RGB uint8 frame, most confident first.

        `min_face_px` (frame pixels) skips the pyramid levels that could only find faces the quality gate
        would reject anyway: ~1.25× faster detection on webcam frames (benchmarks/latency.py).
        `near` (a face in the previous frame): search only around it, on the levels that can find a face its
        size (decision 024); faces not wholly inside that zone are left out (the zone cut them short).
        """
        h, w = image.shape[:2]
        scale = 1.0
        small = image
        if self.max_side and max(h, w) > self.max_side:
            scale = self.max_side / max(h, w)
            small = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        floor = self._min_face_size
        if min_face_px is not None:
            floor = max(floor, int(min_face_px * scale))
        if min(small.shape[:2]) < floor:  # MTCNN has no scale to try: it would crash
            return []
        zone = None if near is None else follow_zone(near, scale)
        boxes, probs, points = self._mtcnn.detect(small, floor, self._thresholds, zone)
        if zone is not None:
            x1, y1, x2, y2 = zone.box
            inside = (boxes[:, 0] > x1) & (boxes[:, 1] > y1) & (boxes[:, 2] < x2) & (boxes[:, 3] < y2)
            boxes, probs, points = boxes[inside], probs[inside], points[inside]
        boxes, points = boxes / scale, points / scale
        faces = [
            Face(box=b, score=float(p), landmarks=pt)
            for b, p, pt in zip(boxes, probs, points, strict=True)
            if p >= self.min_score
        ]
        return sorted(faces, key=lambda f: -f.score)

    def primary(self, image: np.ndarray, pad_retry: bool = False) -> Face | None:
        """The one face to authenticate or enrol from this frame (see choose_primary).

        `pad_retry`: for datasets of tight face crops (Extended Yale B), where MTCNN misses faces that touch the
        border, try again on a copy with a 30 % black border and map the result back to the original pixels.
        """
        face = choose_primary(self.detect(image), image.shape)
        if face is None and pad_retry:
            h, w = image.shape[:2]
            py, px = int(0.3 * h), int(0.3 * w)
            padded = cv2.copyMakeBorder(image, py, py, px, px, cv2.BORDER_CONSTANT, value=(0, 0, 0))
            found = choose_primary(self.detect(padded), padded.shape)
            if found is not None:
                off = np.array([px, py], np.float32)
                face = Face(found.box - np.tile(off, 2), found.score, found.landmarks - off)
        return face
