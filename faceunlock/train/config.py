"""Fine-tuning settings and their defaults, in one place and without torch (the CLI reads them for --help)."""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from pathlib import Path


@dataclass
class FineTuneConfig:
    """Everything a run depends on. The one place of the defaults: `faceunlock fine-tune`'s flags take theirs
    from these fields (cli/fine_tune.py), so the CLI, the API and the benchmarks train the same way."""

    data: Path
    out: Path
    negatives: Path | None = None
    val: Path | None = None
    val_fraction: float = 0.25
    base: str = "auto"
    arch: str = "inception"
    train_layers: str = "head"
    freeze_bn: bool = False
    mining: str = "semi-hard"
    distance: str = "auto"
    margin: float | None = None
    p: int = 8
    k: int = 4
    negatives_per_batch: int = 4
    epochs: int = 10
    max_steps_per_epoch: int | None = None
    lr: float | None = None
    weight_decay: float = 1e-4
    l2_sp: float | None = None  # None: 0.3 from a pretrained base, 0 from random (resolved_l2_sp)
    warmup_epochs: float = 1.0
    patience: int = 3
    monitor: str = "auc"
    target_far: float = 1e-3
    device: str = "auto"
    amp: str = "auto"
    augment: int = 2
    seed: int = 0
    resume: bool = False
    overwrite: bool = False
    progress: bool = True

    def resolved_distance(self) -> str:
        """l2 by default (stable gradients, Hermans et al. 2017); facenet mining keeps FaceNet's squared L2."""
        if self.distance != "auto":
            return self.distance
        return "squared-l2" if self.mining == "facenet" else "l2"

    def resolved_lr(self, base_untrained: bool) -> float:
        """From scratch needs a large step; a pretrained model is only nudged, less so the deeper we train."""
        if self.lr is not None:
            return self.lr
        if base_untrained:
            return 1e-3
        return {"head": 1e-4, "block8": 3e-5, "all": 1e-5}[self.train_layers]

    def resolved_l2_sp(self, base_untrained: bool) -> float:
        """L2-SP pulls toward the base: worth it from a pretrained base (Yale B: LFW −0.18 instead of −0.80
        points at 0.3, decision 007), meaningless from random weights."""
        if self.l2_sp is not None:
            return self.l2_sp
        return 0.0 if base_untrained else 0.3

    def resume_key(self) -> dict:
        """Settings that must not change between a run and its --resume (--epochs and --patience may grow)."""
        keep = ("negatives", "val", "val_fraction", "base", "arch", "train_layers", "freeze_bn", "mining",
                "distance", "margin", "p", "k", "negatives_per_batch", "augment", "seed", "data", "lr",
                "weight_decay", "l2_sp", "warmup_epochs", "max_steps_per_epoch", "target_far", "monitor")  # fmt: skip
        return {f.name: str(getattr(self, f.name)) for f in fields(self) if f.name in keep}


def default(name: str):
    """The default of one FineTuneConfig field (for argparse)."""
    f = next(f for f in fields(FineTuneConfig) if f.name == name)
    if f.default is MISSING:
        raise KeyError(f"{name} has no default")
    return f.default
