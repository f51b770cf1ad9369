"""Attempt-level error rates from still photos: the decision a user lives with, not one photo pair.

The product decides per attempt — `required` matching frames within `window` (AuthPolicy), each frame against
all of a user's templates — so its false-accept rate is several times the per-pair one. This simulates attempts
on a folder-per-person set with the product's own code: enrolment's template choice
(`enrollment.select_templates`) and the `Verifier`, fed frame by frame. Each attempt also reduces to the smallest
threshold that would accept it, so the rates at any threshold (and a threshold for an attempt-level target FAR)
follow from one pass; the Verifier re-decides every genuine attempt and every impostor attempt near the
threshold, and the two must agree.

Stills are not a video, and the result says so: liveness is off (a photo is what it judges), and `auth.Attempt`'s
tracking and repeated-frame rules (box continuity, chip change) do not apply to photos taken months apart.
Genuine attempt: a person's first K photos (in file order) enrol, the next P probe. Impostor attempt: person A's
templates probed with person B's P probe photos, for every ordered pair A ≠ B.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from faceunlock.calibrate import Calibration, threshold_for_far, upper_bound
from faceunlock.embed import pairwise_distances
from faceunlock.enrollment import EnrollmentError, select_templates
from faceunlock.policy import AuthPolicy
from faceunlock.verify import Verifier


@dataclass
class Person:
    name: str
    enrol: np.ndarray  # K×D embeddings of the enrolment photos
    probe: np.ndarray  # P×D embeddings of the probe photos, in attempt order


def people_from(emb: np.ndarray, labels: list[str], enrol_k: int, probe_p: int) -> list[Person]:
    """Each person with at least K + P photos: the first K enrol, the next P probe (file order)."""
    rows: dict[str, list[int]] = {}
    for i, name in enumerate(labels):
        rows.setdefault(name, []).append(i)
    return [Person(n, emb[r[:enrol_k]], emb[r[enrol_k : enrol_k + probe_p]])
            for n, r in rows.items() if len(r) >= enrol_k + probe_p]  # fmt: skip


def accept_thresholds(frame_dist: np.ndarray, required: int, window: int) -> np.ndarray:
    """For attempts given as per-frame min distances (…×P, frame order): the smallest threshold at which some
    `window` consecutive frames hold `required` matches — the Verifier's rule, as a number per attempt."""
    d = np.asarray(frame_dist, np.float64)
    p = d.shape[-1]
    if p < required:
        return np.full(d.shape[:-1], np.inf)
    w = min(window, p)
    views = np.lib.stride_tricks.sliding_window_view(d, w, axis=-1)  # …×(P−w+1)×w
    kth = np.partition(views, required - 1, axis=-1)[..., required - 1]
    return kth.min(axis=-1)


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
                "false_rejects": fr, "false_accepts": fa, "threshold": threshold}  # fmt: skip

    def threshold_for_far(self, target_far: float) -> float:
        return threshold_for_far(np.sort(self.impostor), target_far)


def simulate(people: list[Person], calibration: Calibration, policy: AuthPolicy | None = None,
             check: bool = True) -> AttemptRates:  # fmt: skip
    """Every genuine and every impostor attempt among `people` (templates chosen at the calibration's threshold)."""
    policy = policy or AuthPolicy()
    enrolled: list[tuple[Person, np.ndarray]] = []
    failed: list[str] = []
    for p in people:
        try:
            enrolled.append((p, select_templates(p.enrol, calibration.threshold)[0]))
        except EnrollmentError:
            failed.append(p.name)
    if len(enrolled) < 2:
        raise ValueError("need at least two people who enrol to simulate impostor attempts")
    probes = np.concatenate([p.probe for p, _ in enrolled])
    n_probe = [len(p.probe) for p, _ in enrolled]
    starts = np.cumsum([0, *n_probe[:-1]])
    # min distance of every probe photo to every enrolled person's templates: probes × people
    m = np.stack([pairwise_distances(probes, t).min(axis=1) for _, t in enrolled], axis=1)
    genuine, impostor = [], []
    for b, (s, n) in enumerate(zip(starts, n_probe, strict=True)):
        block = m[s : s + n].T  # people × n: each enrolled person's distances for person b's probe photos
        th = accept_thresholds(block, policy.required, policy.window)
        genuine.append(th[b])
        impostor.append(np.delete(th, b))
    rates = AttemptRates(np.asarray(genuine), np.concatenate(impostor), failed)
    if check:
        _check_with_verifier(enrolled, rates, calibration, policy)
    return rates


def _check_with_verifier(enrolled: list[tuple[Person, np.ndarray]], rates: AttemptRates, calibration: Calibration,
                         policy: AuthPolicy) -> None:  # fmt: skip
    """The product's Verifier must decide every genuine attempt, and every impostor attempt within 10 % of the
    threshold, as the accept thresholds say: the numbers are the product's, not a re-implementation's."""
    t = calibration.threshold

    def verdict(templates: np.ndarray, probe: np.ndarray) -> bool:
        v = Verifier(templates, calibration, policy.required, policy.window)
        return any([v.add(e) for e in probe])

    k = 0
    for b, (pb, tb) in enumerate(enrolled):  # the order simulate() lists attempts in: by probing person
        if verdict(tb, pb.probe) != bool(rates.genuine[b] <= t):
            raise RuntimeError(f"attempt simulation disagrees with the Verifier on {pb.name}'s genuine attempt")
        for a, (pa, ta) in enumerate(enrolled):
            if a == b:
                continue
            th = rates.impostor[k]
            k += 1
            if abs(th - t) <= 0.1 * t and verdict(ta, pb.probe) != bool(th <= t):
                raise RuntimeError(f"attempt simulation disagrees with the Verifier on {pb.name} as {pa.name}")
