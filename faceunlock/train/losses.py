"""Triplet margin losses on the triples a miner chose (see mining.py for the selection rules).

`TripletLoss` is what the training loop uses: embeddings + labels → a `LossOutput` that also says how many
triples were mined and how many still violate the margin, because "the loss went to 0" means nothing without
knowing whether there was anything left to learn (the past user's 11 % TAR failure).
With the matching rule it reproduces the published reference implementations value for value (TF-Addons
semi-hard / hard, batch-all: tests/train/test_losses.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from faceunlock.train import mining
from faceunlock.train.mining import Triplets

DISTANCES = ("l2", "squared-l2")
ACTIVE_EPS = 1e-16
"""A triple "violates the margin" when its hinge exceeds this (Moindrot's batch-all convention)."""


@dataclass
class LossOutput:
    """The loss to back-propagate and the mining statistics the report prints per epoch."""

    loss: torch.Tensor
    triplets: int
    active: int

    @property
    def fraction_active(self) -> float:
        return self.active / self.triplets if self.triplets else 0.0


def distances(emb: torch.Tensor, distance: str) -> torch.Tensor:
    """Pairwise distances with the gradient-safe root (mining.pairwise_distances) for `distance`."""
    if distance not in DISTANCES:
        raise ValueError(f"distance must be one of {DISTANCES}, not {distance!r}")
    return mining.pairwise_distances(emb, squared=distance == "squared-l2")


def hinge(dist: torch.Tensor, t: Triplets, margin: float) -> torch.Tensor:
    """Per-triple loss: max(d_ap − d_an + margin, 0)."""
    gap = dist[t.anchors, t.positives] - dist[t.anchors, t.negatives]
    return F.relu(gap + margin)


def _zero(dist: torch.Tensor) -> torch.Tensor:
    """A 0 that stays attached to the graph, so backward() works on a batch with nothing to learn."""
    return dist.sum() * 0.0


def reduce(losses: torch.Tensor, dist: torch.Tensor, how: str) -> torch.Tensor:
    """Average per-triple losses: `mean` over every triple (TF-Addons, FaceNet), `nonzero` over active ones."""
    if losses.numel() == 0:
        return _zero(dist)
    if how == "mean":
        return losses.mean()
    if how == "nonzero":
        active = losses > ACTIVE_EPS
        return losses[active].mean() if bool(active.any()) else _zero(dist)
    raise ValueError(f"unknown reduction {how!r}")


class TripletLoss:
    """Online-mined triplet loss: `mining` ∈ MINING_RULES, `distance` ∈ DISTANCES, hinge `margin`.

    semi-hard and batch-hard average over every mined triple (TF-Addons), batch-all over the active ones
    (otherwise the mean is drowned by easy triples as training progresses), facenet over its sampled triples.
    """

    def __init__(
        self,
        mining_rule: str = "semi-hard",
        margin: float = 0.2,
        distance: str = "l2",
        generator: torch.Generator | None = None,
    ) -> None:
        if mining_rule not in mining.MINING_RULES:
            raise ValueError(f"mining must be one of {mining.MINING_RULES}, not {mining_rule!r}")
        if distance not in DISTANCES:
            raise ValueError(f"distance must be one of {DISTANCES}, not {distance!r}")
        self.mining_rule = mining_rule
        self.margin = float(margin)
        self.distance = distance
        self.generator = generator

    def mine(self, dist: torch.Tensor, labels: torch.Tensor) -> Triplets:
        d = dist.detach()
        if self.mining_rule == "semi-hard":
            return mining.semi_hard(d, labels)
        if self.mining_rule == "batch-hard":
            return mining.batch_hard(d, labels)
        if self.mining_rule == "batch-all":
            return mining.batch_all(d, labels)
        d_sq = d if self.distance == "squared-l2" else d * d
        return mining.facenet(d_sq, labels, self.margin, generator=self.generator)

    def __call__(self, emb: torch.Tensor, labels: torch.Tensor) -> LossOutput:
        dist = distances(emb, self.distance)
        t = self.mine(dist, labels)
        losses = hinge(dist, t, self.margin)
        how = "nonzero" if self.mining_rule == "batch-all" else "mean"
        active = int((losses.detach() > ACTIVE_EPS).sum()) if losses.numel() else 0
        return LossOutput(reduce(losses, dist, how), len(t), active)
