"""Attempt-level error rates from still photos: the decision a user lives with, not one photo pair.

The product decides per attempt (verify.py: the live frames of the window, fused, against each appearance's
centroid), so this simulates attempts on a folder-per-person set with the product's own code: enrolment's
template choice (`enrollment.select_templates`) and the Verifier's fusion (`appearance_centroids`,
`fused_distance`). Each attempt reduces to the smallest threshold that would accept it, so the rates at any
threshold, and the attempt-level calibration, follow from one pass; the Verifier itself re-decides every genuine
attempt and every impostor attempt near the threshold, and the two must agree.

Stills are not a video, and the result says so: liveness is off (a photo is what it judges), and `auth.Attempt`'s
tracking and repeated-frame rules do not apply to photos taken months apart. Genuine attempt: a person's first K
photos (file order) enrol, the next P probe. Impostor attempt: person A's templates (A has ≥ K photos) probed
with person B's P photos (B has ≥ P: the P after its first K when it has K + P, else its first P), for every
ordered pair A ≠ B — all pairs of people, so that small FARs can be resolved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from faceunlock.calibrate import (
    AttemptCalibration,
    Calibration,
    threshold_for_bound,
    threshold_for_far,
    upper_bound,
)
from faceunlock.embed import pairwise_distances
from faceunlock.enrollment import EnrollmentError, select_templates
from faceunlock.errors import DatasetError
from faceunlock.policy import AuthPolicy
from faceunlock.verify import Verifier, appearance_centroids


@dataclass
class Person:
    name: str
    enrol: np.ndarray | None  # K×D embeddings of the enrolment photos (None: too few photos to enrol)
    probe: np.ndarray | None  # P×D embeddings of the probe photos, in attempt order (None: too few)
    genuine: bool  # has K + P photos: makes a genuine attempt


def people_from(emb: np.ndarray, labels: list[str], enrol_k: int, probe_p: int) -> list[Person]:
    """Everyone who can enrol (≥ K photos) or probe (≥ P photos); see the module docstring for which photos."""
    rows: dict[str, list[int]] = {}
    for i, name in enumerate(labels):
        rows.setdefault(name, []).append(i)
    out = []
    for n, r in rows.items():
        full = len(r) >= enrol_k + probe_p
        enrol = emb[r[:enrol_k]] if len(r) >= enrol_k else None
        probe = emb[r[enrol_k : enrol_k + probe_p]] if full else emb[r[:probe_p]] if len(r) >= probe_p else None
        if enrol is not None or probe is not None:
            out.append(Person(n, enrol, probe, full))
    return out


def window_means(probe: np.ndarray, required: int, window: int) -> np.ndarray:
    """The Verifier's fused embedding after each frame of an all-live attempt that has ≥ `required` frames in
    its window: the mean of the last `window` frames (fewer at the start)."""
    p = np.asarray(probe, np.float32)
    ends = range(required - 1, len(p))
    return np.stack([p[max(0, j - window + 1) : j + 1].mean(axis=0) for j in ends]) if len(ends) else p[:0]


@dataclass
class AttemptRates:
    genuine: np.ndarray  # accept threshold of each genuine attempt
    impostor: np.ndarray  # accept threshold of each impostor attempt
    failed_to_enrol: list[str]

    def at(self, threshold: float) -> dict:
        fr = int((self.genuine > threshold).sum())
        fa = int((self.impostor <= threshold).sum())
        n_g, n_i = len(self.genuine), len(self.impostor)
        return {"genuine": n_g, "impostor": n_i, "frr": fr / n_g if n_g else float("nan"),
                "far": fa / n_i if n_i else float("nan"), "far_upper_95": upper_bound(fa, n_i) if n_i else 1.0,
                "false_rejects": fr, "false_accepts": fa, "failed_to_enrol": len(self.failed_to_enrol),
                "threshold": threshold}  # fmt: skip

    def threshold_for_far(self, target_far: float) -> float:
        return threshold_for_far(np.sort(self.impostor), target_far)


def simulate(people: list[Person], enrol_threshold: float, policy: AuthPolicy | None = None,
             check: Calibration | None = None) -> AttemptRates:  # fmt: skip
    """Every genuine and every impostor attempt among `people`, enrolled with `enrol_threshold`'s outlier check.

    `check`: a calibration to re-decide the attempts with the product's Verifier at its threshold."""
    policy = policy or AuthPolicy()
    if any(p.probe is not None and len(p.probe) < policy.required for p in people):
        raise ValueError(f"attempts need at least {policy.required} probe photos each")
    enrolled: list[tuple[Person, np.ndarray]] = []
    failed: list[str] = []
    for p in people:
        if p.enrol is None:
            continue
        try:
            enrolled.append((p, select_templates(p.enrol, enrol_threshold)[0]))
        except EnrollmentError:
            failed.append(p.name)
    if len(enrolled) < 1 or sum(p.probe is not None for p in people) < 2:
        raise DatasetError("need at least two people with enough photos to simulate attempts (and one who enrols)")
    index = {p.name: a for a, (p, _) in enumerate(enrolled)}
    centroids = np.concatenate([appearance_centroids(t) for _, t in enrolled])  # one appearance each
    genuine, impostor = [], []
    for b in people:
        if b.probe is None:
            continue
        th = pairwise_distances(window_means(b.probe, policy.required, policy.window), centroids).min(axis=0)
        own = index.get(b.name)
        if own is not None and b.genuine:
            genuine.append(th[own])
        impostor.append(th if own is None else np.delete(th, own))
    rates = AttemptRates(np.asarray(genuine), np.concatenate(impostor), failed)
    if check is not None:
        _check_with_verifier(people, enrolled, rates, check, policy)
    return rates


def _check_with_verifier(people: list[Person], enrolled: list[tuple[Person, np.ndarray]], rates: AttemptRates,
                         calibration: Calibration, policy: AuthPolicy) -> None:  # fmt: skip
    """The product's Verifier must decide every genuine attempt, and every impostor attempt within 10 % of the
    threshold, as the accept thresholds say: the numbers are the product's, not a re-implementation's."""
    t = calibration.decision.threshold

    def verdict(templates: np.ndarray, probe: np.ndarray) -> bool:
        v = Verifier(templates, calibration, policy.required, policy.window)
        return any([v.add(e) for e in probe])

    g = k = 0
    for b in people:  # the order simulate() lists attempts in
        if b.probe is None:
            continue
        for pa, ta in enrolled:
            if pa.name == b.name:
                if b.genuine:
                    if verdict(ta, b.probe) != bool(rates.genuine[g] <= t):
                        raise RuntimeError(f"attempt simulation disagrees with the Verifier on {b.name}'s attempt")
                    g += 1
                continue
            th = rates.impostor[k]
            k += 1
            if abs(th - t) <= 0.1 * t and verdict(ta, b.probe) != bool(th <= t):
                raise RuntimeError(f"attempt simulation disagrees with the Verifier on {b.name} as {pa.name}")


def calibrate_attempts(populations: dict[str, list[Person]], enrol_threshold: float, target_far: float,
                       enrol_k: int, probe_p: int, policy: AuthPolicy | None = None,
                       ) -> tuple[AttemptCalibration, dict[str, AttemptRates]]:  # fmt: skip
    """The attempt-level threshold that keeps the FAR's 95 % bound ≤ target on the WORST population."""
    policy = policy or AuthPolicy()
    rates = {name: simulate(people, enrol_threshold, policy) for name, people in populations.items()}
    own = {name: threshold_for_bound(np.sort(r.impostor), target_far) for name, r in rates.items()}
    t = min(th for th, _ in own.values())
    rows = [{"population": name, **r.at(t), "own_threshold": own[name][0], "resolvable": own[name][1]}
            for name, r in rates.items()]  # fmt: skip
    cal = AttemptCalibration(threshold=t, enrol_threshold=enrol_threshold, target_far=target_far,
                             required=policy.required, window=policy.window, enrol=enrol_k, probe=probe_p,
                             resolvable=all(res for _, res in own.values()), populations=rows)  # fmt: skip
    return cal, rates


ATTEMPT_SHAPES = ((4, 5), (2, 3), (1, 3))  # (K enrolled, P probed): the first a population can simulate is used


def calibrate_sets(sets: dict[str, tuple[np.ndarray, list[str]]], enrol_threshold: float, target_far: float,
                   shapes: tuple[tuple[int, int], ...] = ATTEMPT_SHAPES) -> AttemptCalibration:  # fmt: skip
    """`calibrate_attempts` on embedded sets {name: (embeddings, labels)} with the first (K, P) shape for which
    some set has a genuine attempt and two people who can probe; DatasetError when none can."""
    for k, p in shapes:
        people = {name: people_from(emb, labels, k, p) for name, (emb, labels) in sets.items()}
        people = {name: ps for name, ps in people.items()
                  if any(x.genuine for x in ps) and sum(x.probe is not None for x in ps) >= 2}  # fmt: skip
        if people:
            try:
                return calibrate_attempts(people, enrol_threshold, target_far, k, p)[0]
            except DatasetError:
                continue  # everyone failed to enrol at this shape
    want = " or ".join(f"{k + p}" for k, p in shapes)
    raise DatasetError(f"{', '.join(sets)}: no person has {want} usable photos, so no unlock attempt can be "
                       "simulated and no decision threshold set")  # fmt: skip
