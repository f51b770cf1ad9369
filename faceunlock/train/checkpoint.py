"""The out folder of a fine-tune and how it survives a crash.

    OUT/weights.pt          best model so far (weights.save_backbone format) — what enroll/verify load
    OUT/calibration.json    its threshold for the target FAR, bound to weights.pt's sha256
    OUT/report.json, roc.png
    OUT/train_state/last.pt          everything --resume needs (model, optimiser, schedule, history, best)
    OUT/train_state/weights-eN.pt    the best epoch's weights, named by epoch

Order of writes per epoch: candidate weights-eN.pt → last.pt (which names the best candidate and holds its
calibration) → publish (copy the candidate to weights.pt, write calibration.json). Every write is atomic, so a
kill at any point leaves either the old or the new state, and `publish` on resume repairs a half-published
pair. weights.pt and calibration.json therefore always match each other.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch

from faceunlock.atomic import write_atomic
from faceunlock.calibrate import Calibration
from faceunlock.errors import FaceUnlockError
from faceunlock.weights import file_sha256, save_backbone

STATE_FORMAT = "faceunlock-finetune-state/1"
STATE_DIR = "train_state"
LAST = "last.pt"
WEIGHTS = "weights.pt"
CALIBRATION = "calibration.json"
REPORT = "report.json"
ROC = "roc.png"


@dataclass
class BestModel:
    """The best epoch so far: its candidate file, the file's hash, its held-out score and its calibration."""

    epoch: int
    file: str
    sha256: str
    score: float
    metrics: dict
    calibration: dict  # Calibration fields, as saved in last.pt
    roc: tuple[list[float], list[float]]


@dataclass
class RunState:
    """What a run carries from epoch to epoch and across --resume (saved in last.pt as plain data)."""

    epoch: int = -1
    key: dict = field(default_factory=dict)  # settings that must match on --resume
    best: BestModel | None = None
    base: dict | None = None  # the base model's held-out metrics and ROC ("epoch 0")
    history: list[dict] = field(default_factory=list)
    stale: int = 0  # epochs since the last improvement
    stopped_early: bool = False
    margin: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> RunState:
        names = {f.name for f in fields(cls)}
        state = cls(**{k: v for k, v in d.items() if k in names})
        if isinstance(state.best, dict):
            state.best = BestModel(**state.best)
        return state


def state_dir(out: Path) -> Path:
    return Path(out) / STATE_DIR


def save_state(out: Path, state: dict) -> None:
    buf = io.BytesIO()
    torch.save({"format": STATE_FORMAT, **state}, buf)
    write_atomic(state_dir(out) / LAST, buf.getvalue(), mode=0o644)


def load_state(out: Path, map_location: str | torch.device = "cpu") -> dict | None:
    """The last checkpoint, or None when there is none; an unreadable one is an error, not a fresh start."""
    path = state_dir(out) / LAST
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # a truncated or foreign file: say which, do not silently restart
        raise FaceUnlockError(
            f"{path}: cannot read the training checkpoint ({e}); remove it to start over"
        ) from e
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise FaceUnlockError(f"{path}: not a faceunlock fine-tune checkpoint")
    return state


def save_candidate(backbone, out: Path, epoch: int, **extra) -> tuple[str, str]:
    """Write this epoch's weights as a best-model candidate → (file name, sha256)."""
    name = f"weights-e{epoch}.pt"
    sha = save_backbone(backbone, state_dir(out) / name, **extra)
    return name, sha


def publish(out: Path, best: BestModel) -> None:
    """Make OUT/weights.pt + calibration.json the checkpoint's best model (idempotent), drop stale candidates."""
    out = Path(out)
    src = state_dir(out) / best.file
    dst = out / WEIGHTS
    if not (dst.is_file() and file_sha256(dst) == best.sha256):
        if not src.is_file():
            raise FaceUnlockError(f"{src}: best-model file missing; cannot publish {dst}")
        write_atomic(dst, src.read_bytes(), mode=0o644)
    Calibration.from_dict(best.calibration).save(out / CALIBRATION)
    for p in state_dir(out).glob("weights-e*.pt"):
        if p.name != best.file:
            p.unlink(missing_ok=True)
