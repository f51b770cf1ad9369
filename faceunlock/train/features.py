"""Frozen-trunk features, computed once per (image, augmentation) and kept on disk.

With `--train-layers head` only the projection head learns, so the trunk (≈ all of the compute) gives the
same output every epoch: caching it turns a head epoch into milliseconds, and a resumed run reuses it.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import torch

from faceunlock.atomic import write_atomic
from faceunlock.train.dataset import AUGMENTATIONS, FaceSet, augment


class FeatureCache:
    """`get(faceset, n_variants)` → float32 N×V×F trunk features of the first V augmentations."""

    def __init__(self, folder: Path, backbone, batch_size: int = 64) -> None:
        self.folder = Path(folder)
        self.bb = backbone
        self.batch_size = batch_size

    def path(self, fs: FaceSet, n_variants: int) -> Path:
        h = hashlib.sha256()
        for part in (self.bb.sha256, self.bb.arch, fs.fingerprint(), ",".join(AUGMENTATIONS[:n_variants])):
            h.update(part.encode())
        return self.folder / f"features-{h.hexdigest()[:16]}.pt"

    def compute(self, fs: FaceSet, n_variants: int, progress: bool = False) -> torch.Tensor:
        from tqdm import tqdm

        net = self.bb.net
        was_training = net.training
        net.eval()
        out = torch.zeros(len(fs), n_variants, self.bb.feature_dim)
        steps = [(v, i) for v in range(n_variants) for i in range(0, len(fs), self.batch_size)]
        with torch.inference_mode():
            for v, i in tqdm(steps, desc="trunk features", unit="batch", disable=not progress, leave=False):
                x = self.bb.to_tensor(augment(fs.chips[i : i + self.batch_size], v))
                out[i : i + self.batch_size, v] = net.features(x).float().cpu()
        net.train(was_training)
        return out

    def get(self, fs: FaceSet, n_variants: int, rt=None, progress: bool = False) -> torch.Tensor:
        """Rank 0 computes and saves (atomically); every rank then loads the same file."""
        path = self.path(fs, n_variants)
        main = rt is None or rt.is_main
        if main and not path.is_file():
            feats = self.compute(fs, n_variants, progress)
            buf = io.BytesIO()
            torch.save(feats, buf)
            write_atomic(path, buf.getvalue(), mode=0o644)
        if rt is not None:
            rt.barrier()
        return torch.load(path, map_location="cpu", weights_only=True)
