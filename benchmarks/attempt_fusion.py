"""Which decision rule uses an attempt best? Attempt-level FRR at a fixed attempt-level FAR, before/after.

    python benchmarks/attempt_fusion.py                       # lfw-dev + cfp-dev, ~6 min here (detections cached)
    python benchmarks/attempt_fusion.py --json out/fusion.json

The table in docs/decisions/019-attempt-fusion.md comes from this script. Every population is simulated the way
`faceunlock evaluate --attempts` does (faceunlock.attempts.people_from: enrol K=4 photos, attempts of P=5 others;
impostor attempts over all ordered pairs of people), and each rule gets the threshold that keeps the
attempt-level FAR's 95 % upper bound ≤ 1e-4 on the WORST population (calibrate.threshold_for_bound); the FRR at
that threshold is what the rule is worth. FRR counts people who failed to enrol (FTE) as rejected: a rule that
refuses hard people at enrolment does not get to hide them.

Rules (per attempt: the frames of one window, 3 of 5 needed):
- best-frame 3/5: each frame's smallest distance to a template; 3 of 5 within the threshold (the rule before 019)
- score mean: the mean over the frames of each frame's smallest template distance
- embedding mean → nearest template: the frames' mean embedding, its smallest distance to a template
- embedding mean → centroid: the frames' mean embedding against the mean of the enrolled templates (shipped)
each with the enrolment's templates as chosen by the old outlier check (medoid, lfw-dev's per-pair threshold at
FAR 1e-4: 0.465, shipped before 019) or the shipped one (leave-one-out mean, per-pair threshold at FAR 1e-2 on
the worst population), and with or without mirror averaging (each chip's embedding averaged with its
horizontally flipped chip's). The first row is the product before 019 as it shipped: best-frame 3/5 at lfw-dev's
per-pair threshold.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from faceunlock.attempts import people_from, window_means  # noqa: E402
from faceunlock.calibrate import (  # noqa: E402
    Population,
    all_pair_distances,
    enrol_threshold,
    threshold_for_bound,
    threshold_for_far,
    upper_bound,
)
from faceunlock.cpu import apply_inference_policy  # noqa: E402
from faceunlock.embed import pairwise_distances  # noqa: E402
from faceunlock.enrollment import EnrollmentError, select_templates  # noqa: E402
from faceunlock.facesets import DetectionCache, load_chips, scan_identities  # noqa: E402
from faceunlock.weights import resolve_backbone  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
K, P, REQUIRED, WINDOW = 4, 5, 3, 5
TARGET = 1e-4


def embed(root: Path, backbone) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Plain and mirrored embeddings of every detected face of a folder-per-person set (file order)."""
    ids = scan_identities(root)
    files = [f for fs in ids.values() for f in fs]
    label = {f: n for n, fs in ids.items() for f in fs}
    cache = DetectionCache()
    try:
        chips, kept, _ = load_chips(files, backbone, cache=cache, progress=True)
    finally:
        cache.close()
    plain = np.concatenate([backbone.embed(chips[i : i + 64]) for i in range(0, len(chips), 64)])
    flipped = chips[:, :, ::-1].copy()
    mirror = np.concatenate([backbone.embed(flipped[i : i + 64]) for i in range(0, len(flipped), 64)])
    return plain, mirror, [label[f] for f in kept]


def medoid_templates(emb: np.ndarray, threshold: float) -> np.ndarray:
    """The enrolment's outlier check before 019: farther than the per-pair threshold from the medoid."""
    d = pairwise_distances(emb, emb)
    inlier = d[int(np.argmin(d.sum(1)))] <= threshold
    if (~inlier).sum() > 0.3 * len(emb):
        raise EnrollmentError("outliers")
    return emb[inlier]


Rule = Callable[[np.ndarray, np.ndarray], float]  # (templates, probe frames) → accept threshold of the attempt


def best_frame(t: np.ndarray, p: np.ndarray) -> float:
    d = pairwise_distances(p, t).min(axis=1)
    return float(np.sort(d[:WINDOW])[REQUIRED - 1])


def score_mean(t: np.ndarray, p: np.ndarray) -> float:
    d = pairwise_distances(p, t).min(axis=1)
    return float(min(d[: n + 1].mean() for n in range(REQUIRED - 1, len(p))))


def mean_to_nearest(t: np.ndarray, p: np.ndarray) -> float:
    return float(pairwise_distances(window_means(p, REQUIRED, WINDOW), t).min())


def mean_to_centroid(t: np.ndarray, p: np.ndarray) -> float:
    return float(pairwise_distances(window_means(p, REQUIRED, WINDOW), t.mean(axis=0, keepdims=True)).min())


RULES: dict[str, Rule] = {"best-frame 3/5": best_frame, "score mean": score_mean,
                          "embedding mean → nearest template": mean_to_nearest,
                          "embedding mean → centroid": mean_to_centroid}  # fmt: skip


def attempts(emb: np.ndarray, labels: list[str], rule: Rule, enrol: Callable) -> tuple[np.ndarray, np.ndarray, int]:
    """(genuine accept thresholds incl. +inf for FTE, impostor accept thresholds, FTE count) for one population."""
    people = people_from(emb, labels, K, P)
    templates, fte = {}, 0
    for x in people:
        if x.enrol is not None:
            try:
                templates[x.name] = enrol(x.enrol)
            except EnrollmentError:
                fte += x.genuine
    gen, imp = [], []
    for b in people:
        if b.probe is None:
            continue
        if b.genuine:
            gen.append(rule(templates[b.name], b.probe) if b.name in templates else np.inf)
        imp += [rule(t, b.probe) for a, t in templates.items() if a != b.name]
    return np.asarray(gen), np.sort(imp), fte


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("datasets", nargs="*", type=Path, default=[SHARED / "lfw-dev", SHARED / "cfp-dev"])
    ap.add_argument("--json", type=Path, help="also write the rows here")
    args = ap.parse_args()
    apply_inference_policy()
    backbone = resolve_backbone("auto")
    sets = {d.name: embed(d, backbone) for d in args.datasets}
    pops = {n: Population(n, *all_pair_distances(e, np.asarray(lab))) for n, (e, _, lab) in sets.items()}
    pair_1e4 = threshold_for_far(next(iter(pops.values())).impostor, TARGET)  # the first set's (lfw-dev: 0.465)
    loo = enrol_threshold(list(pops.values()))
    enrolments = {f"medoid @ pair FAR 1e-4 ({pair_1e4:.3f})": lambda e: medoid_templates(e, pair_1e4),
                  f"leave-one-out @ pair FAR 1e-2 ({loo:.3f})": lambda e: select_templates(e, loo)[0]}  # fmt: skip
    rows = []
    print(f"attempts: enrol {K}, probe {P}, {REQUIRED} of {WINDOW}; threshold: attempt FAR ≤ {TARGET:g} at 95 % on "
          f"the worst of {', '.join(sets)}; FRR includes failures to enrol\n")  # fmt: skip
    head = "| rule | enrolment | mirror | threshold | " + " | ".join(f"{n} FRR (FTE) | {n} FAR (≤ 95 %)" for n in sets)
    print(head + " |\n|" + "---|" * (4 + 2 * len(sets)))
    old = next(iter(enrolments))
    grid = [("best-frame 3/5 (as shipped before 019)", old, False, pair_1e4)]
    grid += [(r, en, m, None) for m in (False, True) for en in enrolments for r in RULES]
    for rule_name, en_name, mirror, fixed in grid:
        rule, enrol = RULES.get(rule_name, best_frame), enrolments[en_name]
        t0 = time.perf_counter()
        res = {}
        for n, (e, m, lab) in sets.items():
            res[n] = attempts((e + m) / 2 if mirror else e, lab, rule, enrol)
        t = fixed or min(threshold_for_bound(imp, TARGET)[0] for _, imp, _ in res.values())
        row = {"rule": rule_name, "enrolment": en_name, "mirror": mirror, "threshold": t, "populations": {}}
        cells = []
        for n, (g, imp, fte) in res.items():
            fr, fa = int((g > t).sum()), int((imp <= t).sum())
            row["populations"][n] = {"genuine": len(g), "false_rejects": fr, "failed_to_enrol": fte,
                                     "frr": fr / len(g), "impostor": len(imp), "false_accepts": fa,
                                     "far": fa / len(imp), "far_upper_95": upper_bound(fa, len(imp))}  # fmt: skip
            cells += [f"{fr / len(g):.1%} ({fr}/{len(g)}, FTE {fte})",
                      f"{fa}/{len(imp):,} (≤ {upper_bound(fa, len(imp)):.1e})"]
        rows.append(row)
        print(f"| {rule_name} | {en_name} | {'yes' if mirror else 'no'} | {t:.4f} | " + " | ".join(cells)
              + f" |  <!-- {time.perf_counter() - t0:.0f} s -->", flush=True)  # fmt: skip
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
