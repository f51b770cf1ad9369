"""The backbone interface: one object per face model that knows its chip, its input scaling and its distance.

The verifier, calibration and trainer only talk to `Backbone`, so a second network (the bundled dlib ResNet)
plugs in without touching them. A backbone's `net` exposes `features(x)` (the trunk) and `head(f)` (the
trainable projection), so head-only fine-tuning can cache trunk features. A backbone built for unlocking has a
`graph` instead (the same network exported to ONNX, faceunlock/runtime.py) and no torch module at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from faceunlock.detect import Face

if TYPE_CHECKING:
    import torch

    from faceunlock.runtime import Graph


@dataclass
class Backbone:
    """A loaded face model. A subclass names its architecture (`class X(Backbone, arch="dlib-resnet34")`) and takes
    its key, input size and embedding size from the registry; it sets `name`, `normalize`, `feature_dim` and
    implements align/standardize. `net` is the torch module (training, export, CUDA); `graph`, when set, is what
    `embed` runs, and `net` may then be None."""

    net: torch.nn.Module | None
    weights_path: Path | None
    sha256: str
    device: str = "cpu"
    meta: dict = field(default_factory=dict)
    graph: Graph | None = None

    name = "backbone"
    arch = "base"
    input_size = 160
    embedding_dim = 512
    normalize = True
    feature_dim = 0

    def __init_subclass__(cls, arch: str | None = None, **kw) -> None:
        super().__init_subclass__(**kw)
        if arch is not None:
            from faceunlock.backbones import architecture

            a = architecture(arch)
            cls.arch, cls.input_size, cls.embedding_dim = a.key, a.input_size, a.embedding_dim

    def __post_init__(self) -> None:
        if self.net is not None:
            self.net.eval().to(self.device)

    # -- per-backbone recipes -------------------------------------------------------------------------------
    def align(self, image: np.ndarray, face: Face) -> np.ndarray:
        """Cut this backbone's input chip (input_size² RGB uint8) from a frame."""
        raise NotImplementedError

    def standardize(self, chips: np.ndarray) -> np.ndarray:
        """uint8 N×S×S×3 chips → the network's float32 input values, still N×S×S×3."""
        raise NotImplementedError

    # -- shared -----------------------------------------------------------------------------------------------
    def _standardized(self, chips: np.ndarray) -> np.ndarray:
        """uint8 chips (N×S×S×3, or one S×S×3) → contiguous float32 N×S×S×3 network values."""
        chips = np.asarray(chips)
        return np.ascontiguousarray(self.standardize(chips[None] if chips.ndim == 3 else chips))

    def to_input(self, chips: np.ndarray) -> np.ndarray:
        """uint8 chips → the graph's float32 N×3×S×S input."""
        return np.ascontiguousarray(self._standardized(chips).transpose(0, 3, 1, 2))

    def to_tensor(self, chips: np.ndarray) -> torch.Tensor:
        """uint8 chips → the torch module's input on self.device: N×3×S×S as a view of N×S×S×3 memory, i.e.
        channels-last, which both networks' convolutions are laid out for."""
        import torch

        return torch.from_numpy(self._standardized(chips)).to(self.device).permute(0, 3, 1, 2)

    def postprocess(self, out: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        return F.normalize(out, p=2, dim=1) if self.normalize else out

    def embed(self, chips: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """Descriptors for aligned chips (N×S×S×3 uint8) → N×D float32, compared by `distance` (Euclidean)."""
        chips = np.asarray(chips)
        if chips.ndim == 3:
            chips = chips[None]
        if len(chips) == 0:
            return np.zeros((0, self.embedding_dim), np.float32)
        if self.graph is not None:
            out = np.concatenate([self.graph(self.to_input(chips[i : i + batch_size]))[0]
                                  for i in range(0, len(chips), batch_size)]).astype(np.float32)  # fmt: skip
            if self.normalize:  # F.normalize's rule: x / max(‖x‖, 1e-12)
                out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), np.float32(1e-12))
            return out
        import torch

        with torch.inference_mode():
            outs = [self.postprocess(self.net(self.to_tensor(chips[i : i + batch_size]))).float().cpu().numpy()
                    for i in range(0, len(chips), batch_size)]  # fmt: skip
        return np.concatenate(outs).astype(np.float32)

    @property
    def distance(self) -> str:
        """How this network's embeddings are compared (the registry's word; `pairwise_distances` computes it)."""
        from faceunlock.backbones import architecture

        return architecture(self.arch).distance

    def describe(self) -> str:
        where = str(self.weights_path) if self.weights_path else "(in memory)"
        return f"{self.name} [{self.arch}] from {where}, sha256 {self.sha256[:12]}…"


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between rows of a (N×D) and b (M×D) → N×M (float64 for stable thresholds)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    d2 = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.maximum(d2, 0.0))


def paired_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance between row i of a and row i of b (N×D each) → N, the same metric as above."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return np.sqrt(((a - b) ** 2).sum(1))
