"""From distances to a threshold you can defend: ROC, EER, TAR at a FAR target with confidence bounds,
LFW-style k-fold accuracy, and the calibration file (bound to the model's sha256) that the verifier reads.

The threshold for a target FAR is read off impostor distances: with n impostor comparisons and k allowed false
accepts, accept d ≤ t where at most k impostors fall. The 95 % Clopper–Pearson upper bound on the FAR is recorded,
because "0 errors in 3,000" only says FAR < 1e-3. Use all impostor pairs of a dataset (millions) for low targets.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from faceunlock.atomic import write_text_atomic
from faceunlock.errors import CalibrationError, FaceUnlockError

CALIBRATION_FORMAT = "faceunlock-calibration/1"


# -- statistics ---------------------------------------------------------------------------------------------
def _log_binom_cdf(k: int, n: int, p: float) -> float:
    """log P(X ≤ k), X ~ Binomial(n, p), summed in log space (k is small: the false accepts)."""
    if p <= 0:
        return 0.0
    if p >= 1:
        return 0.0 if k >= n else -math.inf
    lp, lq = math.log(p), math.log1p(-p)
    terms = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp + (n - i) * lq
             for i in range(k + 1)]  # fmt: skip
    m = max(terms)
    return m + math.log(sum(math.exp(t - m) for t in terms))


def upper_bound(errors: int, n: int, confidence: float = 0.95) -> float:
    """One-sided Clopper–Pearson upper bound on a rate after `errors` in `n` trials (rule of 3 when 0)."""
    if n <= 0:
        return 1.0
    alpha = 1.0 - confidence
    if errors >= n:
        return 1.0
    if errors == 0:
        return 1.0 - alpha ** (1.0 / n)
    lo, hi = errors / n, 1.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if _log_binom_cdf(errors, n, mid) > math.log(alpha):
            lo = mid
        else:
            hi = mid
    return hi


def lower_bound(successes: int, n: int, confidence: float = 0.95) -> float:
    """One-sided lower bound on a rate (e.g. TAR) — the mirror of upper_bound."""
    return 1.0 - upper_bound(n - successes, n, confidence) if n > 0 else 0.0


def split(distances: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d, s = np.asarray(distances, np.float64), np.asarray(same, bool)
    return np.sort(d[s]), np.sort(d[~s])


def rates_at(threshold: float, genuine: np.ndarray, impostor: np.ndarray) -> tuple[float, float]:
    """(TAR, FAR) of the rule "accept when d ≤ threshold"; inputs sorted."""
    tar = np.searchsorted(genuine, threshold, side="right") / max(len(genuine), 1)
    far = np.searchsorted(impostor, threshold, side="right") / max(len(impostor), 1)
    return float(tar), float(far)


def threshold_for_far(impostor_sorted: np.ndarray, target_far: float) -> float:
    """Largest threshold with at most floor(target·n) impostors at or below it."""
    n = len(impostor_sorted)
    if n == 0:
        raise CalibrationError("no impostor comparisons: cannot set a threshold")
    k = int(math.floor(target_far * n))
    if k >= n:
        return float(impostor_sorted[-1])
    t = float(np.nextafter(impostor_sorted[k], -np.inf))
    if t <= 0:
        raise CalibrationError(
            f"{k + 1} impostor pair(s) at distance 0: the same image appears under two identities; "
            "remove the duplicates from the dataset"
        )
    return t


def threshold_for_bound(impostor_sorted: np.ndarray, target_far: float) -> tuple[float, bool]:
    """Largest threshold whose FAR has a 95 % upper bound ≤ target → (threshold, resolvable).

    What the published figure is held to (not the point estimate, which ⌊target·n⌋ false accepts would reach
    with a bound up to twice the target). Too few impostors to resolve the target even with no false accept:
    the threshold just below the closest impostor, and resolvable=False.
    """
    n = len(impostor_sorted)
    if n == 0:
        raise CalibrationError("no impostor comparisons: cannot set a threshold")
    k = 0  # false accepts allowed
    while k < n and upper_bound(k + 1, n) <= target_far:
        k += 1
    resolvable = upper_bound(k, n) <= target_far
    t = float(np.nextafter(impostor_sorted[k], -np.inf)) if k < n else float(impostor_sorted[-1])
    return t, resolvable


def auc(genuine: np.ndarray, impostor: np.ndarray) -> float:
    """P(d_genuine < d_impostor) (+½ for ties), by sorting: fine for millions of impostors."""
    if len(genuine) == 0 or len(impostor) == 0:
        return float("nan")
    below = np.searchsorted(impostor, genuine, side="left")
    ties = np.searchsorted(impostor, genuine, side="right") - below
    wins = (len(impostor) - below - ties) + 0.5 * ties
    return float(wins.sum() / (len(genuine) * len(impostor)))


def eer(genuine: np.ndarray, impostor: np.ndarray) -> tuple[float, float]:
    """(equal error rate, its threshold) on a grid of candidate thresholds from both distributions."""
    cands = np.unique(np.concatenate([np.quantile(genuine, np.linspace(0, 1, 512)),
                                      np.quantile(impostor, np.linspace(0, 1, 512))]))  # fmt: skip
    frr = 1 - np.searchsorted(genuine, cands, side="right") / len(genuine)
    far = np.searchsorted(impostor, cands, side="right") / len(impostor)
    i = int(np.argmin(np.abs(frr - far)))
    return float((frr[i] + far[i]) / 2), float(cands[i])


def roc_points(genuine: np.ndarray, impostor: np.ndarray, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """(FAR, TAR) arrays for plotting, log-spaced in FAR down to 1/n_impostor."""
    fars = np.unique(np.concatenate([[0.0], np.logspace(math.log10(1.0 / max(len(impostor), 1)), 0, n)]))
    tars = []
    for f in fars:
        t = threshold_for_far(impostor, f)
        tars.append(rates_at(t, genuine, impostor)[0])
    return fars, np.asarray(tars)


def tar_at_far(genuine: np.ndarray, impostor: np.ndarray, target_far: float) -> dict:
    """TAR and FAR at the threshold for `target_far`, with 95 % bounds (TAR lower, FAR upper)."""
    t = threshold_for_far(impostor, target_far)
    tar, far = rates_at(t, genuine, impostor)
    n_g, n_i = len(genuine), len(impostor)
    fa = int(round(far * n_i))
    return {
        "target_far": target_far, "threshold": t, "tar": tar, "tar_lower_95": lower_bound(round(tar * n_g), n_g),
        "far": far, "far_upper_95": upper_bound(fa, n_i), "false_accepts": fa,
        "resolvable": target_far * n_i >= 3,  # fewer than ~3 expected errors: the figure is a bound, not a rate
    }  # fmt: skip


def kfold_accuracy(distances: np.ndarray, same: np.ndarray, folds: int = 10,
                   fold_ids: np.ndarray | None = None, seed: int = 0) -> dict:  # fmt: skip
    """LFW protocol: pick the accuracy-maximising threshold on k−1 folds, score the held-out fold.

    With a single fold (a `pairs.txt` whose header says 1 fold) there is no training split: the threshold is
    swept over all pairs and scored on the same pairs — optimistic, and the result says so in `note`.
    """
    d, s = np.asarray(distances, np.float64), np.asarray(same, bool)
    if fold_ids is None:
        order = np.random.default_rng(seed).permutation(len(d))
        fold_ids = np.empty(len(d), int)
        fold_ids[order] = np.arange(len(d)) % folds
    ids = np.unique(fold_ids)
    if len(ids) < 2:
        t = _best_threshold(d, s)
        return {"accuracy": float(((d <= t) == s).mean()), "std": 0.0, "folds": 1, "threshold_mean": t,
                "note": "single fold: threshold chosen and scored on the same pairs (optimistic)"}  # fmt: skip
    accs, ths = [], []
    for f in ids:
        tr, te = fold_ids != f, fold_ids == f
        t = _best_threshold(d[tr], s[tr])
        ths.append(t)
        accs.append(float(((d[te] <= t) == s[te]).mean()))
    return {"accuracy": float(np.mean(accs)), "std": float(np.std(accs)), "folds": len(accs),
            "threshold_mean": float(np.mean(ths))}  # fmt: skip


def _best_threshold(d: np.ndarray, s: np.ndarray) -> float:
    """The accuracy-maximising threshold, moved to the middle of the gap to the next distance (not its edge)."""
    cands = np.unique(d)
    if len(cands) > 2000:
        cands = np.quantile(d, np.linspace(0, 1, 2000))
    acc = [((d <= c) == s).mean() for c in cands]
    t = float(cands[int(np.argmax(acc))])
    above = d[d > t]
    if len(above):
        t = (t + float(above.min())) / 2
    return t


def summary(distances: np.ndarray, same: np.ndarray, target_fars: tuple[float, ...] = (1e-3, 1e-4),
            fold_ids: np.ndarray | None = None) -> dict:  # fmt: skip
    """Everything a report needs from a list of scored pairs."""
    g, i = split(distances, same)
    e, et = eer(g, i)
    return {
        "n_genuine": len(g), "n_impostor": len(i), "auc": auc(g, i), "eer": e, "eer_threshold": et,
        "tar_at_far": [tar_at_far(g, i, f) for f in target_fars],
        "kfold": kfold_accuracy(distances, same, fold_ids=fold_ids) if len(g) and len(i) else None,
    }  # fmt: skip


# -- all-pairs distances from labelled embeddings ------------------------------------------------------------
def all_pair_distances(emb: np.ndarray, labels: np.ndarray, block: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Every genuine and every impostor distance (i < j) → (genuine sorted, impostor sorted, float32)."""
    from faceunlock.embed import pairwise_distances

    emb, labels = np.asarray(emb, np.float32), np.asarray(labels)
    if len(emb) < 2:
        raise CalibrationError(f"need at least 2 embedded faces to compare, got {len(emb)}")
    gen, imp = [], []
    for s in range(0, len(emb), block):
        d = pairwise_distances(emb[s : s + block], emb).astype(np.float32)
        rows = np.arange(s, min(s + block, len(emb)))
        upper = np.arange(len(emb))[None, :] > rows[:, None]
        same = labels[rows][:, None] == labels[None, :]
        gen.append(d[upper & same])
        imp.append(d[upper & ~same])
    return np.sort(np.concatenate(gen)), np.sort(np.concatenate(imp))


# -- the calibration file -------------------------------------------------------------------------------------
FUSION_RULE = "window-mean-to-appearance-centroid"


@dataclass
class AttemptCalibration:
    """The threshold the decision uses: on a whole attempt, calibrated per attempt (docs/decisions/019).

    The attempt's live frames in the window are averaged into one embedding and compared with the centroid of
    each enrolled appearance (`rule`); `threshold` bounds that fused distance so that the attempt-level FAR,
    simulated with `enrol` photos enrolled and attempts of `probe` photos, stays ≤ `target_far` (95 % bound) on
    the worst population. `enrol_threshold` is the per-pair distance at FAR 1e-2: the enrolment's "another
    person" check. `populations`: each one's rates at `threshold`.
    """

    threshold: float
    enrol_threshold: float
    target_far: float
    required: int
    window: int
    enrol: int
    probe: int
    rule: str = FUSION_RULE
    resolvable: bool = True
    populations: list[dict] = field(default_factory=list)


@dataclass
class Calibration:
    """Thresholds for one exact model file (sha256), with how they were measured: per photo pair (`threshold`:
    face tracking, pair evaluation) and per attempt (`attempt`: the decision)."""

    backbone: str
    arch: str
    sha256: str
    threshold: float
    target_far: float
    far: float
    far_upper_95: float
    tar: float
    tar_lower_95: float
    n_genuine: int
    n_impostor: int
    dataset: str
    auc: float = float("nan")
    eer: float = float("nan")
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    format: str = CALIBRATION_FORMAT
    notes: dict = field(default_factory=dict)
    attempt: AttemptCalibration | None = None

    @property
    def decision(self) -> AttemptCalibration:
        """The attempt-level calibration the Verifier decides with; a file without one cannot decide."""
        if self.attempt is None or self.attempt.rule != FUSION_RULE:
            raise CalibrationError(
                f"calibration for {self.backbone} ({self.dataset}) has no attempt-level threshold for the "
                f"decision rule {FUSION_RULE!r} (made by an older faceunlock): run `faceunlock calibrate DATASET`"
            )
        return self.attempt

    def save(self, path: Path) -> None:
        write_text_atomic(Path(path), json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def from_dict(cls, data: dict) -> Calibration:
        """From `asdict(cal)` or a calibration file's JSON (unknown keys ignored)."""
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        if isinstance(known.get("attempt"), dict):
            known["attempt"] = AttemptCalibration(**known["attempt"])
        elif known.get("attempt") is not None:
            raise ValueError("attempt: expected an object")
        return cls(**known)

    @classmethod
    def load(cls, path: Path) -> Calibration:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict):
                raise ValueError(f"expected a JSON object, found {type(data).__name__}")
            if data.get("format") != CALIBRATION_FORMAT:
                raise ValueError(f"format {data.get('format')!r}")
            cal = cls.from_dict(data)
            cal.threshold = float(cal.threshold)
        except (OSError, ValueError, TypeError, KeyError) as e:
            raise CalibrationError(f"{path}: not a valid calibration file ({e})") from e
        ts = [cal.threshold] + ([cal.attempt.threshold, cal.attempt.enrol_threshold] if cal.attempt else [])
        if not all(isinstance(t, int | float) and math.isfinite(t) and t > 0 for t in ts):
            raise CalibrationError(f"{path}: invalid threshold in {ts}")
        return cal

    def check_for(self, backbone) -> None:
        """Refuse to use a threshold measured on another model: distances are not comparable across models."""
        if self.sha256 != backbone.sha256:
            raise CalibrationError(
                f"calibration was made for model {self.sha256[:12]}… but the active model is "
                f"{backbone.sha256[:12]}… ({backbone.name}); run `faceunlock calibrate DATASET --weights ...`"
            )


def calibrate_distances(genuine: np.ndarray, impostor: np.ndarray, backbone, target_far: float,
                        dataset: str, notes: dict | None = None) -> Calibration:  # fmt: skip
    """The Calibration for `target_far` from sorted genuine/impostor distances."""
    r = tar_at_far(genuine, impostor, target_far)
    e, _ = eer(genuine, impostor)
    return Calibration(
        backbone=backbone.name, arch=backbone.arch, sha256=backbone.sha256, threshold=r["threshold"],
        target_far=target_far, far=r["far"], far_upper_95=r["far_upper_95"], tar=r["tar"],
        tar_lower_95=r["tar_lower_95"], n_genuine=len(genuine), n_impostor=len(impostor), dataset=dataset,
        auc=auc(genuine, impostor), eer=e, notes=notes or {},
    )  # fmt: skip


@dataclass
class Population:
    """One labelled set's sorted genuine and impostor distances (lfw-dev, cfp-dev, your own people…)."""

    name: str
    genuine: np.ndarray
    impostor: np.ndarray


def population_rates(p: Population, threshold: float) -> dict:
    """What `threshold` does on one population: TAR and FAR with their 95 % bounds, and the counts."""
    tar, far = rates_at(threshold, p.genuine, p.impostor)
    n_g, n_i = len(p.genuine), len(p.impostor)
    fa = int(np.searchsorted(p.impostor, threshold, side="right"))
    return {"population": p.name, "n_genuine": n_g, "n_impostor": n_i, "tar": tar,
            "tar_lower_95": lower_bound(round(tar * n_g), n_g), "far": far, "false_accepts": fa,
            "far_upper_95": upper_bound(fa, n_i), "own_threshold": None}  # fmt: skip


def calibrate_populations(pops: list[Population], backbone, target_far: float, notes: dict | None = None,
                          ) -> Calibration:  # fmt: skip
    """The threshold that keeps FAR ≤ target on the WORST population, not on their pool.

    A calibration made on one population is a promise only about that population (the bundled one, made on
    lfw-dev, gave 6× its FAR on CFP): each population gets its own threshold for the target and the smallest
    wins. The Calibration's headline figures are the worst ones (highest FAR and its bound, lowest TAR); every
    population's figures at the chosen threshold go in notes["populations"]. One population gives exactly
    `calibrate_distances`.
    """
    if not pops:
        raise CalibrationError("no population to calibrate on")
    if len(pops) == 1:
        p = pops[0]
        cal = calibrate_distances(p.genuine, p.impostor, backbone, target_far, p.name, notes)
        row = population_rates(p, cal.threshold)
        row["own_threshold"] = cal.threshold
        cal.notes = {**cal.notes, "populations": [row]}
        return cal
    own = {p.name: threshold_for_far(p.impostor, target_far) for p in pops}
    t = min(own.values())
    rows = []
    for p in pops:
        row = population_rates(p, t)
        row["own_threshold"] = own[p.name]
        rows.append(row)
    g = np.sort(np.concatenate([p.genuine for p in pops]))
    i = np.sort(np.concatenate([p.impostor for p in pops]))
    worst_far = max(rows, key=lambda r: r["far_upper_95"])
    worst_tar = min(rows, key=lambda r: r["tar"])
    e, _ = eer(g, i)
    return Calibration(
        backbone=backbone.name, arch=backbone.arch, sha256=backbone.sha256, threshold=t, target_far=target_far,
        far=worst_far["far"], far_upper_95=worst_far["far_upper_95"], tar=worst_tar["tar"],
        tar_lower_95=worst_tar["tar_lower_95"], n_genuine=len(g), n_impostor=len(i),
        dataset=" + ".join(p.name for p in pops) + " (threshold for the worst population)",
        auc=auc(g, i), eer=e, notes={**(notes or {}), "populations": rows},
    )  # fmt: skip


ENROL_OUTLIER_FAR = 1e-2


def enrol_threshold(pops: list[Population]) -> float:
    """Per-pair distance at FAR 1e-2 on the worst population: an enrolment frame farther than this from the mean
    of the others is taken for another person (a stricter check refuses real people photographed years apart)."""
    return min(threshold_for_far(p.impostor, ENROL_OUTLIER_FAR) for p in pops)


def calibrate_embeddings(emb: np.ndarray, labels: np.ndarray, backbone, target_far: float, dataset: str,
                         notes: dict | None = None) -> Calibration:  # fmt: skip
    g, i = all_pair_distances(emb, labels)
    return calibrate_distances(g, i, backbone, target_far, dataset, notes)


PLOTS_MISSING = "plots need matplotlib, an optional extra: pip install 'faceunlock[plots]' (scripts/setup.sh installs it)"


def require_plots(path: Path) -> None:
    """Fail before the long work when a plot was asked for and cannot be drawn (a headless install)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise FaceUnlockError(f"{path}: {PLOTS_MISSING}") from None


def plot_roc(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, title: str = "ROC",
             marks: dict[str, float] | None = None) -> None:  # fmt: skip
    """Save a log-FAR ROC plot: {label: (far, tar)}; `marks` draws vertical lines at named FARs."""
    require_plots(path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=110)
    for label, (far, tar) in curves.items():
        keep = far > 0
        ax.plot(far[keep], tar[keep], label=label)
    for label, f in (marks or {}).items():
        ax.axvline(f, color="grey", ls=":", lw=1)
        ax.text(f, 0.02, f" {label}", rotation=90, color="grey", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("false accept rate (log)")
    ax.set_ylabel("true accept rate")
    ax.set_ylim(0, 1.01)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def calibration_candidates(backbone) -> list[Path]:
    """Where a calibration for this exact model may be: user dir by sha, beside the weights, bundled."""
    from faceunlock import paths

    out = [paths.user_models_dir() / "calibrations" / f"{backbone.sha256[:16]}.json"]
    wp = backbone.weights_path
    if wp is not None:
        wp = Path(wp)
        out += [wp.parent / "calibration.json", wp.with_name(wp.name + ".calibration.json")]
    return out


def user_calibration_path(backbone) -> Path:
    return calibration_candidates(backbone)[0]


def find_calibration(backbone) -> Calibration:
    """The calibration for the active model, or CalibrationError that says how to make one."""
    mismatched = []
    for p in calibration_candidates(backbone):
        if p.is_file():
            cal = Calibration.load(p)
            if cal.sha256 == backbone.sha256:
                cal.notes.setdefault("path", str(p))
                return cal
            mismatched.append(p)
    extra = f" (found {', '.join(map(str, mismatched))}, made for another model)" if mismatched else ""
    raise CalibrationError(
        f"no calibration for model {backbone.name} sha256 {backbone.sha256[:12]}…{extra}. "
        f"Run `faceunlock calibrate DATASET_DIR --weights ...` on a folder-per-person dataset."
    )
