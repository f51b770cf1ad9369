"""Triplet selection: which (anchor, positive, negative) index triples a batch trains on.

Miners only choose indices (no gradients flow through a choice); `losses.py` turns the chosen triples into a
number. Keeping the two apart is what lets one loss serve every rule and lets the tests check each rule on
its own. All miners take a detached B×B distance matrix and B integer labels and return a `Triplets`.

Rules (the reference values they reproduce are in tests/train/test_losses.py):
- `semi_hard`: TF-Addons `triplet_semihard_loss` — for every positive pair, the nearest negative that is
  farther than the positive; if there is none, the farthest negative.
- `batch_hard`: TF-Addons `triplet_hard_loss` — per anchor, its farthest positive and nearest negative.
- `batch_all`: every valid triple (the loss then averages over the ones that still violate the margin).
- `facenet`: the original FaceNet/VGG-Face rule — per positive pair one random negative among those with
  d²(a,n) − d²(a,p) < alpha, on squared L2.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

MINING_RULES = ("semi-hard", "batch-hard", "batch-all", "facenet")


@dataclass(frozen=True)
class Triplets:
    """Index triples into the batch; equal-length 1-D LongTensors."""

    anchors: torch.Tensor
    positives: torch.Tensor
    negatives: torch.Tensor

    def __len__(self) -> int:
        return int(self.anchors.numel())

    @staticmethod
    def empty(device: torch.device | str = "cpu") -> Triplets:
        z = torch.zeros(0, dtype=torch.long, device=device)
        return Triplets(z, z, z)


def pairwise_distances(emb: torch.Tensor, squared: bool = False) -> torch.Tensor:
    """B×B Euclidean (or squared) distances that stay differentiable when two embeddings coincide.

    sqrt has an infinite slope at 0, so where the squared distance is 0 (the diagonal, duplicate images,
    a collapsed model) we add a tiny epsilon inside the root and zero the result: the gradient there is 0,
    never NaN.
    """
    emb = emb.float()
    sq = (emb * emb).sum(1)
    d2 = (sq[:, None] + sq[None, :] - 2.0 * emb @ emb.T).clamp_min(0.0)
    eye = torch.eye(len(emb), dtype=torch.bool, device=emb.device)
    d2 = d2.masked_fill(eye, 0.0)
    if squared:
        return d2
    zero = d2 <= 0.0
    return torch.sqrt(d2 + zero.float() * 1e-16).masked_fill(zero, 0.0)


def label_masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(positive mask: same label, not self; negative mask: different label), both B×B bool."""
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


def semi_hard(dist: torch.Tensor, labels: torch.Tensor) -> Triplets:
    """TF-Addons semi-hard: one triple per positive pair (a, p).

    The negative is the nearest one with d(a,n) > d(a,p) (it violates the margin without being "harder"
    than the positive, which keeps early training from collapsing); if no negative is that far, the
    farthest negative. A batch with no negative at all gets n = a (TF-Addons then uses distance 0, i.e. the
    loss becomes margin + d(a,p)).
    """
    pos, neg = label_masks(labels)
    a, p = pos.nonzero(as_tuple=True)
    if a.numel() == 0:
        return Triplets.empty(dist.device)
    d_an = dist[a]  # one row per positive pair: distances from its anchor
    d_ap = dist[a, p][:, None]
    is_neg = neg[a]
    outside = is_neg & (d_an > d_ap)
    inf = torch.tensor(float("inf"), device=dist.device, dtype=dist.dtype)
    nearest_outside = torch.where(outside, d_an, inf).argmin(1)
    farthest = torch.where(is_neg, d_an, -inf).argmax(1)
    n = torch.where(outside.any(1), nearest_outside, farthest)
    n = torch.where(is_neg.any(1), n, a)
    return Triplets(a, p, n)


def batch_hard(dist: torch.Tensor, labels: torch.Tensor) -> Triplets:
    """TF-Addons hard: per anchor its farthest positive and its nearest negative.

    Anchors without a positive (one-image negatives) form no triple; TF-Addons would still give them a
    loss term with d(a,p) = 0, which only pushes strangers apart and says nothing about matching. An anchor
    without any negative gets n = its farthest sample (TF-Addons' fallback: the row maximum).
    """
    pos, neg = label_masks(labels)
    has_pos = pos.any(1)
    inf = torch.tensor(float("inf"), device=dist.device, dtype=dist.dtype)
    p = torch.where(pos, dist, -inf).argmax(1)
    n_neg = torch.where(neg, dist, inf).argmin(1)
    n = torch.where(neg.any(1), n_neg, dist.argmax(1))
    a = torch.arange(len(labels), device=dist.device)
    return Triplets(a[has_pos], p[has_pos], n[has_pos])


def batch_all(dist: torch.Tensor, labels: torch.Tensor) -> Triplets:
    """Every valid triple: label[a] == label[p], a ≠ p, label[n] ≠ label[a]."""
    pos, neg = label_masks(labels)
    valid = pos[:, :, None] & neg[:, None, :]
    a, p, n = valid.nonzero(as_tuple=True)
    return Triplets(a, p, n)


def facenet(
    dist_sq: torch.Tensor,
    labels: torch.Tensor,
    alpha: float,
    generator: torch.Generator | None = None,
    strict: bool = False,
) -> Triplets:
    """FaceNet's online rule (davidsandberg/facenet `select_triplets`), on squared L2 distances.

    For each positive pair, one negative drawn uniformly among those with d²(a,n) − d²(a,p) < alpha (the
    "VGG Face" selection the seed code ships); `strict` also requires d²(a,p) < d²(a,n) as in the paper.
    Pairs without such a negative contribute nothing.
    """
    pos, neg = label_masks(labels)
    a, p = pos.nonzero(as_tuple=True)
    if a.numel() == 0:
        return Triplets.empty(dist_sq.device)
    d_an = dist_sq[a]
    d_ap = dist_sq[a, p][:, None]
    ok = neg[a] & (d_an - d_ap < alpha)
    if strict:
        ok &= d_an > d_ap
    has = ok.any(1)
    if not bool(has.any()):
        return Triplets.empty(dist_sq.device)
    a, p, ok = a[has], p[has], ok[has]
    rand = torch.rand(ok.shape, generator=generator, device="cpu").to(ok.device)
    n = torch.where(ok, rand, torch.full_like(rand, -1.0)).argmax(1)
    return Triplets(a, p, n)
