"""Held-out evaluation of a model being fine-tuned, its calibration, and the final report (JSON, ROC, table).

Every number comes from all pairs of held-out identities the model never trained on: genuine pairs (same
person) and impostor pairs (different people), scored with the same Euclidean distance the verifier uses.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from faceunlock import calibrate
from faceunlock.atomic import write_text_atomic
from faceunlock.errors import FaceUnlockError

MONITORS = ("auc", "tar", "eer")


def evaluate(emb: np.ndarray, labels: np.ndarray, target_far: float) -> tuple[dict, np.ndarray, np.ndarray]:
    """Metrics on all pairs of `emb` → (metrics, sorted genuine distances, sorted impostor distances).

    The threshold is the one calibrated for `target_far` on these impostors; TP/FN count genuine pairs
    accepted/rejected there, FP/TN impostor pairs.
    """
    g, i = calibrate.all_pair_distances(emb, labels)
    if len(g) == 0 or len(i) == 0:
        raise ValueError("held-out set needs at least 2 people with 2 images each")
    r = calibrate.tar_at_far(g, i, target_far)
    e, e_thr = calibrate.eer(g, i)
    t = r["threshold"]
    tp = int(np.searchsorted(g, t, side="right"))
    fp = int(np.searchsorted(i, t, side="right"))
    metrics = {
        "auc": calibrate.auc(g, i), "eer": e, "eer_threshold": e_thr, "target_far": target_far,
        "threshold": t, "tar": r["tar"], "tar_lower_95": r["tar_lower_95"], "far": r["far"],
        "far_upper_95": r["far_upper_95"], "far_resolvable": bool(r["resolvable"]),
        "tp": tp, "fn": len(g) - tp, "fp": fp, "tn": len(i) - fp, "n_genuine": len(g), "n_impostor": len(i),
        "genuine_median": float(np.median(g)), "impostor_median": float(np.median(i)),
    }  # fmt: skip
    return metrics, g, i


def score(metrics: dict, monitor: str) -> float:
    """The early-stopping criterion as "higher is better"."""
    if monitor not in MONITORS:
        raise ValueError(f"monitor must be one of {MONITORS}, not {monitor!r}")
    value = metrics[monitor]
    return -value if monitor == "eer" else value


def calibration(genuine: np.ndarray, impostor: np.ndarray, name: str, arch: str, sha256: str,
                target_far: float, dataset: str, notes: dict | None = None, emb: np.ndarray | None = None,
                labels: list[str] | None = None) -> calibrate.Calibration:  # fmt: skip
    """The calibration file content for the saved weights whose file hash is `sha256`: per pair from the
    held-out distances, per attempt (the decision) from the held-out embeddings when their people have enough
    photos to simulate attempts — otherwise the model needs `faceunlock calibrate` before it can decide."""
    from faceunlock.attempts import calibrate_sets
    from faceunlock.errors import DatasetError

    model = SimpleNamespace(name=name, arch=arch, sha256=sha256)
    cal = calibrate.calibrate_distances(genuine, impostor, model, target_far, dataset, notes)
    if emb is not None and labels is not None:
        pop = calibrate.Population(dataset, genuine, impostor)
        try:
            cal.attempt = calibrate_sets({dataset: (emb, list(labels))}, calibrate.enrol_threshold([pop]), target_far)
        except DatasetError as e:
            cal.notes = {**cal.notes, "attempt": f"not calibrated: {e}; run `faceunlock calibrate DATASET`"}
    return cal


def roc_curve(genuine: np.ndarray, impostor: np.ndarray) -> tuple[list[float], list[float]]:
    far, tar = calibrate.roc_points(genuine, impostor, n=200)
    return [float(x) for x in far], [float(x) for x in tar]


def plot(
    curves: dict[str, tuple[list[float], list[float]]], path: Path, target_far: float, title: str
) -> None:
    """The ROC next to report.json; a headless install without matplotlib gets the numbers and a note instead."""
    try:
        calibrate.plot_roc({k: (np.asarray(f), np.asarray(t)) for k, (f, t) in curves.items()}, path,
                           title=title, marks={"target FAR": target_far})  # fmt: skip
    except FaceUnlockError as e:
        from tqdm import tqdm

        tqdm.write(f"fine-tune: no {path.name}: {e}", file=sys.stderr)


ROWS = (("ROC AUC", "auc", "{:.4f}"), ("EER", "eer", "{:.2%}"), ("TAR @ target FAR", "tar", "{:.2%}"),
        ("  (95% lower bound)", "tar_lower_95", "{:.2%}"), ("FAR measured", "far", "{:.3%}"),
        ("threshold", "threshold", "{:.4f}"), ("TP / FN", ("tp", "fn"), "{} / {}"),
        ("FP / TN", ("fp", "tn"), "{} / {}"))  # fmt: skip


def table(before: dict, after: dict, title: str = "held-out identities") -> str:
    """The before/after table printed at the end of a fine-tune."""
    lines = [f"{title}: {before['n_genuine']} genuine / {before['n_impostor']} impostor pairs, "
             f"target FAR {before['target_far']:g}", f"{'':22} {'before':>14} {'after':>14}"]  # fmt: skip
    for label, key, fmt in ROWS:
        cells = []
        for m in (before, after):
            vals = [m[k] for k in key] if isinstance(key, tuple) else [m[key]]
            cells.append(fmt.format(*vals))
        lines.append(f"{label:22} {cells[0]:>14} {cells[1]:>14}")
    return "\n".join(lines)


def verdict(base: dict, best: dict, best_epoch: int, history: list[dict], monitor: str) -> list[str]:
    """Plain warnings when fine-tuning did not help, or when the loss says "learnt" and held-out says no."""
    out = []
    if best_epoch == 0:
        out.append(
            f"no epoch beat the base model on held-out {monitor} ({base[monitor]:.4f}); the output holds the "
            "base weights with a fresh calibration"
        )
    trained = [h for h in history if h.get("epoch", 0) > 0 and h.get("loss") is not None]
    if trained:
        last = trained[-1]
        if last["fraction_active"] < 0.05 and last["metrics"]["tar"] <= base["tar"]:
            out.append(
                f"training triplets are nearly all satisfied ({last['fraction_active']:.1%} still violate the "
                f"margin, loss {last['loss']:.4f}) but held-out TAR is {last['metrics']['tar']:.1%} vs "
                f"{base['tar']:.1%} before: the model memorised the training people"
            )
    return out


def _clean(obj):
    """JSON-safe: NaN/inf → None, numpy scalars → Python."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path: Path, data: dict) -> None:
    write_text_atomic(Path(path), json.dumps(_clean(data), indent=2) + "\n")
