"""MTCNN face detection (facenet-pytorch's networks and weights) without importing facenet_pytorch.

facenet_pytorch's package import pulls in torchvision, and torchvision torch._dynamo: ~1.5–2 s of every cold
start (`faceunlock verify`, each CLI test), more than the networks' whole work on a frame, and ~100 MB of RSS. This
module rebuilds the three networks with the same parameter names, loads the weight files shipped inside the
facenet-pytorch package (found with importlib without running the package), and runs the same three stages for
one RGB image: P-Net over a scale pyramid, R-Net and O-Net refinements, non-maximum suppression in between. It
returns what facenet_pytorch's `MTCNN.detect(img, landmarks=True)` returns for that image (tests/test_mtcnn.py
holds it to that on real photos and video frames). docs/decisions/020-own-mtcnn-stages.md says why, and why the
arithmetic is laid out as it is (area resampling from an integral image, NMS over an overlap matrix: ~1.5–2×
faster per frame, same results up to float rounding). The stages are numpy; the networks run on ONNX Runtime
(faceunlock/runtime.py, decision 023) and torch is imported only to export them once (faceunlock/mtcnn_nets.py).
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from faceunlock import runtime
from faceunlock.errors import WeightsError
from faceunlock.files import read_regular

FACTOR = 0.709  # the pyramid's scale step (facenet-pytorch's default)
INPUT_SIZE = {"pnet": 12, "rnet": 24, "onet": 48}  # P-Net is fully convolutional: any size ≥ 12 works


def weights_dir() -> Path:
    """facenet-pytorch's data/ folder (pnet.pt, rnet.pt, onet.pt), located without importing the package."""
    spec = importlib.util.find_spec("facenet_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError("facenet-pytorch is not installed: its MTCNN weights are needed (pip install "
                                "facenet-pytorch; scripts/setup.sh does)")  # fmt: skip
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def overlaps(a: np.ndarray, b: np.ndarray, by_min: bool = False) -> np.ndarray:
    """Every box of `a` (N×≥4, x1 y1 x2 y2) against every box of `b` (M×≥4) → N×M overlap.

    Default: intersection over union, areas without the +1 (torchvision's rule). `by_min`: intersection over the
    smaller area, areas and overlaps with the +1 of pixel-inclusive boxes (facenet-pytorch's last stage)."""
    one = 1.0 if by_min else 0.0
    area_a = (a[:, 2] - a[:, 0] + one) * (a[:, 3] - a[:, 1] + one)
    area_b = (b[:, 2] - b[:, 0] + one) * (b[:, 3] - b[:, 1] + one)
    w = np.maximum(0.0, np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]) + one)
    h = np.maximum(0.0, np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]) + one)
    inter = w * h
    if by_min:
        return inter / np.minimum(area_a[:, None], area_b[None, :])
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float, by_min: bool = False) -> np.ndarray:
    """Greedy non-maximum suppression → kept indices, best first; `by_min` as in `overlaps` (facenet-pytorch's
    last stage; the default is torchvision's rule)."""
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    b = np.asarray(boxes, np.float32)
    s = np.asarray(scores, np.float32)
    order = np.argsort(s, kind="stable")[::-1] if not by_min else np.argsort(s)[::-1]
    b = b[order]  # all overlaps at once (N ≤ a few hundred), then one greedy pass over them
    suppress = overlaps(b, b, by_min) > iou
    gone, keep = np.zeros(len(order), bool), []
    for k in range(len(order)):
        if not gone[k]:
            keep.append(order[k])
            gone |= suppress[k]
    return np.asarray(keep, np.int64)


def _square(b: np.ndarray) -> np.ndarray:
    """Boxes grown to squares around their centres (MTCNN's `rerec`)."""
    b = b.copy()
    h, w = b[:, 3] - b[:, 1], b[:, 2] - b[:, 0]
    side = np.maximum(w, h)
    b[:, 0] += w * 0.5 - side * 0.5
    b[:, 1] += h * 0.5 - side * 0.5
    b[:, 2], b[:, 3] = b[:, 0] + side, b[:, 1] + side
    return b


def _regress(b: np.ndarray, reg: np.ndarray) -> np.ndarray:
    b = b.copy()
    w, h = b[:, 2] - b[:, 0] + 1, b[:, 3] - b[:, 1] + 1
    b[:, :4] = b[:, :4] + reg[:, :4] * np.stack([w, h, w, h], axis=1)
    return b


def _area(integral: np.ndarray, x: np.ndarray, y: np.ndarray, w: np.ndarray, h: np.ndarray, out_h: int,
          out_w: int, rows: tuple[int, int] | None = None, cols: tuple[int, int] | None = None) -> np.ndarray:  # fmt: skip
    """Rectangles (top-left x, y and size w×h, in pixels; arrays of N) resampled to out_h×out_w, normalised,
    as the networks' float32 N×3×out_h×out_w input; `rows`/`cols` (cell index ranges [a, b)) compute only that
    block of the out_h×out_w grid, with the same cell bounds as the whole grid (a pyramid level's crop).

    This is torch's "area" interpolation (adaptive average pooling: output cell i averages input rows
    floor(i·H/S) … ceil((i+1)·H/S)), computed for all rectangles at once from the image's integral image
    (`cv2.integral`, float64): the sums are exact integers, so each mean is the correctly rounded one (torch's
    own differs by at most 1 ulp) — 10–20× faster than torch's call per crop and per pyramid level.
    """
    x, y, w, h = x[:, None], y[:, None], w[:, None], h[:, None]
    stride = integral.shape[1]
    i, j = np.arange(*(rows or (0, out_h))), np.arange(*(cols or (0, out_w)))
    ys, ye = (y + i * h // out_h) * stride, (y - (-(i + 1) * h // out_h)) * stride  # floor(i·H/S), ceil((i+1)·H/S)
    xs, xe = x + j * w // out_w, x - (-(j + 1) * w // out_w)
    ys, ye, xs, xe = ys[:, :, None], ye[:, :, None], xs[:, None, :], xe[:, None, :]
    flat = integral.reshape(-1, 3)

    def at(r: np.ndarray, c: np.ndarray) -> np.ndarray:
        return np.take(flat, (r + c).ravel(), axis=0)

    sums = (at(ye, xe) - at(ys, xe) - at(ye, xs) + at(ys, xs)).reshape(len(x), len(i), len(j), 3)
    means = (sums / (((ye - ys) // stride) * (xe - xs))[..., None]).astype(np.float32)
    pixels = np.ascontiguousarray(means.transpose(0, 3, 1, 2))  # N×3×H×W
    return (pixels - np.float32(127.5)) * np.float32(0.0078125)


def _crops(integral: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Each box's pixels (1-based inclusive, clipped to the image) resampled to size×size, normalised."""
    h, w = integral.shape[0] - 1, integral.shape[1] - 1
    bi = np.trunc(boxes[:, :4]).astype(np.int32)
    x, y = np.maximum(bi[:, 0], 1) - 1, np.maximum(bi[:, 1], 1) - 1
    ex, ey = np.minimum(bi[:, 2], w), np.minimum(bi[:, 3], h)
    ok = (ey > y) & (ex > x)
    return _area(integral, x[ok], y[ok], (ex - x)[ok], (ey - y)[ok], size, size)


@dataclass(frozen=True)
class Zone:
    """Where a face is known to be, so the search can skip the rest of the frame (decision 024).

    `box` (x1, y1, x2, y2, image pixels): only P-Net candidates whose boxes reach it are made, from the part of
    each pyramid level that can produce them; levels whose 12-pixel window covers less than `min_window` or more
    than `max_window` pixels are skipped. Levels and their pixels are the full search's own, so every P-Net
    candidate made equals the full search's bit for bit (on ONNX Runtime's CPU path, where a convolution's output
    does not depend on the input's size: test). The faces that come out are usually the full search's too, not
    always: suppression can chain through candidates outside the zone (decision 024 counts how often).
    """

    box: tuple[float, float, float, float]
    min_window: float = 0.0
    max_window: float = float("inf")
    face: tuple[float, float, float, float] | None = None  # the followed face's box (image pixels)
    min_overlap: float = 0.0  # P-Net candidates whose box overlaps `face` less (IoU) do not go on to R-Net


PNET_WINDOW, PNET_STRIDE = INPUT_SIZE["pnet"], 2  # P-Net's output k reads level cells [2k, 2k + 12): its
# box is floor((2k + 1) / s) … floor((2k + 12) / s) in image pixels at pyramid scale s


def _level_span(lo: float, hi: float, s: float, n: int) -> tuple[int, int]:
    """Cells [a, b) of a pyramid level n cells long (scale s) whose P-Net outputs include every candidate box
    that reaches image coordinates [lo, hi] (one output of margin each side). `a` is even, so the block's outputs
    sit on the full level's grid; b − a is even unless the block ends at the level's edge, so no output reads
    past the block (max-pooling rounds up: an odd length would add a half-filled cell the full level lacks)."""
    first = max(0, int(np.floor((lo * s - PNET_WINDOW) / PNET_STRIDE)) - 1)
    last = int(np.ceil(hi * s / PNET_STRIDE)) + 1
    return PNET_STRIDE * first, min(PNET_STRIDE * last + PNET_WINDOW, n)


def network(name: str, device: str = "cpu") -> runtime.Graph:
    """P-Net, R-Net or O-Net, ready to run: the ONNX graph exported from facenet-pytorch's weight file (keyed by
    that file's sha256), or the torch module on CUDA / under FACEUNLOCK_RUNTIME=torch."""
    path = weights_dir() / f"{name}.pt"
    try:
        data = read_regular(path)
    except OSError as e:
        raise WeightsError(f"{path}: cannot read MTCNN weights ({e.strerror or e})") from e

    def build() -> runtime.Export:
        from faceunlock import mtcnn_nets

        side = INPUT_SIZE[name]
        dynamic = {2: "h", 3: "w"} if name == "pnet" else {0: "n"}
        return runtime.Export(mtcnn_nets.load(name, data), (1, 3, side, side), dynamic)

    if runtime.onnx_runtime(device):
        return runtime.compiled(f"mtcnn-{name}", hashlib.sha256(data).hexdigest(), build)
    from faceunlock import mtcnn_nets

    return runtime.TorchGraph(mtcnn_nets.load(name, data, device), device, channels_last=True)


class MTCNN:
    """The three networks, loaded once; `detect` one RGB uint8 image at a time."""

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self.pnet, self.rnet, self.onet = (network(n, device) for n in ("pnet", "rnet", "onet"))

    def detect(self, image: np.ndarray, min_face_size: int = 20, thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
               zone: Zone | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
        """→ (boxes N×4 x1,y1,x2,y2, probabilities N, landmarks N×5×2), in image pixels; N may be 0.

        `zone`: search only there (see Zone); the faces found are the full search's unless a chain of
        overlapping candidates links them to one outside the zone (decision 024 measures how often)."""
        if image.ndim != 3 or image.shape[2] != 3:  # the integral-image resampling reads 3 channels per pixel
            raise ValueError(f"MTCNN needs an RGB image (H×W×3), got shape {image.shape}")
        empty = (np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32))
        integral = cv2.integral(np.require(image, requirements=["C"]), sdepth=cv2.CV_64F)  # exact sums (< 2**53)
        h, w = image.shape[:2]
        whole = (np.zeros(1, np.int64), np.zeros(1, np.int64), np.full(1, w), np.full(1, h))
        scale, side, scales = 12.0 / min_face_size, min(h, w) * 12.0 / min_face_size, []
        while side >= 12:
            scales.append(scale)
            scale, side = scale * FACTOR, side * FACTOR
        # stage 1: P-Net on every pyramid level, NMS per level then over all
        found = []
        for s in scales:
            lh, lw = int(h * s + 1), int(w * s + 1)
            rows, cols = (0, lh), (0, lw)
            if zone is not None:
                if not zone.min_window <= PNET_WINDOW / s <= zone.max_window:
                    continue
                zx1, zy1, zx2, zy2 = zone.box
                rows, cols = _level_span(zy1, zy2, s, lh), _level_span(zx1, zx2, s, lw)
                if rows[1] - rows[0] < PNET_WINDOW - 1 or cols[1] - cols[0] < PNET_WINDOW - 1:
                    continue  # P-Net makes no output from fewer than 11 cells (11, at a level's edge, makes one)
            reg, prob = self.pnet(_area(integral, *whole, lh, lw, rows, cols))
            p = prob[0, 1]
            mask = p >= thresholds[0]
            if not mask.any():
                continue
            xy = np.argwhere(mask).astype(np.float32)[:, ::-1]  # row-major, like torch's nonzero
            start = PNET_STRIDE * xy + np.array([cols[0], rows[0]], np.float32)  # each window's first level cell
            s32 = np.float32(s)
            b = np.concatenate([np.floor((start + 1) / s32), np.floor((start + PNET_WINDOW) / s32), p[mask][:, None],
                                reg[0][:, mask].T], axis=1)  # fmt: skip
            if zone is not None:
                b = b[(b[:, 2] >= zx1) & (b[:, 0] <= zx2) & (b[:, 3] >= zy1) & (b[:, 1] <= zy2)]
            found.append(b[nms(b[:, :4], b[:, 4], 0.5)])
        if not found:
            return empty
        b = np.concatenate(found)
        b = b[nms(b[:, :4], b[:, 4], 0.7)]
        bw, bh = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
        b = np.stack([b[:, 0] + b[:, 5] * bw, b[:, 1] + b[:, 6] * bh, b[:, 2] + b[:, 7] * bw,
                      b[:, 3] + b[:, 8] * bh, b[:, 4]], axis=1)  # fmt: skip
        b = _square(b)
        if zone is not None and zone.face is not None and zone.min_overlap > 0:
            b = b[overlaps(b, np.asarray([zone.face], np.float32))[:, 0] >= zone.min_overlap]
        # stage 2: R-Net on 24×24 crops
        crops = _crops(integral, b, 24)
        if len(crops) == 0:  # every candidate degenerate (a zero-size batch is not worth a network call)
            return empty
        reg, prob = self.rnet(crops)
        keep = prob[:, 1] > thresholds[1]
        b = np.concatenate([b[keep, :4], prob[keep, 1:2]], axis=1)
        reg = reg[keep]
        pick = nms(b[:, :4], b[:, 4], 0.7)
        b = _square(_regress(b[pick], reg[pick]))
        if len(b) == 0:
            return empty
        # stage 3: O-Net on 48×48 crops: scores, box refinement, five landmarks
        crops = _crops(integral, b, 48)
        if len(crops) == 0:
            return empty
        reg, marks, prob = self.onet(crops)
        keep = prob[:, 1] > thresholds[2]
        b = np.concatenate([b[keep, :4], prob[keep, 1:2]], axis=1)
        reg, marks = reg[keep], marks[keep]
        bw, bh = b[:, 2] - b[:, 0] + 1, b[:, 3] - b[:, 1] + 1
        pts = np.stack([bw[:, None] * marks[:, :5] + b[:, 0:1] - 1, bh[:, None] * marks[:, 5:] + b[:, 1:2] - 1], 2)
        b = _regress(b, reg)
        pick = nms(b[:, :4], b[:, 4], 0.7, by_min=True)
        b, pts = b[pick], pts[pick]
        return b[:, :4].astype(np.float32), b[:, 4].astype(np.float32), pts.astype(np.float32)
