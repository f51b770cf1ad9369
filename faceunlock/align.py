"""Face alignment: cut the chip a backbone was trained on, from a frame and the detector's output.

Two recipes, because the two backbones were trained on different crops: facenet-pytorch's InceptionResnetV1 sees
the MTCNN box (plus margin) resized to a square; dlib's ResNet sees a similarity-warped chip that puts the five
landmarks on a fixed template.
"""

from __future__ import annotations

import cv2
import numpy as np


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping src points onto dst (Umeyama).

    Returns a 2×3 matrix for cv2.warpAffine. No reflection is allowed: a mirrored face is a different face.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s_c, d_c = src - mu_s, dst - mu_d
    var_s = (s_c**2).sum() / len(src)
    cov = d_c.T @ s_c / len(src)
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1
    rot = u @ np.diag(d) @ vt
    scale = (sig * d).sum() / var_s if var_s > 0 else 1.0
    t = mu_d - scale * rot @ mu_s
    return np.hstack([scale * rot, t[:, None]])


def warp_to_template(image: np.ndarray, landmarks: np.ndarray, template: np.ndarray, size: int) -> np.ndarray:
    """Warp `image` so the 5 `landmarks` land on `template` (chip pixels) in a size×size chip."""
    m = similarity_transform(landmarks, template)
    return cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def crop_box(image: np.ndarray, box: np.ndarray, size: int, margin: float = 0.0) -> np.ndarray:
    """facenet-pytorch's extract_face: the box grown by `margin` output pixels, clipped, resized to size×size."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = [float(v) for v in box]
    mx = margin * (x2 - x1) / (size - margin) / 2 if size > margin else 0.0
    my = margin * (y2 - y1) / (size - margin) / 2 if size > margin else 0.0
    x1, y1 = int(max(x1 - mx, 0)), int(max(y1 - my, 0))
    x2, y2 = int(min(x2 + mx, w)), int(min(y2 + my, h))
    if x2 <= x1 or y2 <= y1:
        raise ValueError(f"empty face box {box}")
    crop = image[y1:y2, x1:x2]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
