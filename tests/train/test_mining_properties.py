"""Property tests: on random batches each miner obeys its rule and finds every triple the rule allows."""

from __future__ import annotations

import itertools

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from faceunlock.train import losses, mining


@st.composite
def batches(draw: st.DrawFn) -> tuple[torch.Tensor, torch.Tensor]:
    n = draw(st.integers(3, 12))
    labels = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n).filter(lambda ls: len(set(ls)) >= 2))
    dim = draw(st.integers(1, 4))
    # A coarse grid makes ties and coincident points common: the cases where rules are easiest to get wrong.
    values = draw(st.lists(st.integers(-3, 3), min_size=n * dim, max_size=n * dim))
    emb = torch.tensor(values, dtype=torch.float32).reshape(n, dim) / 2
    return emb, torch.tensor(labels)


def positive_pairs(labels: list[int]) -> list[tuple[int, int]]:
    return [(a, p) for a, p in itertools.permutations(range(len(labels)), 2) if labels[a] == labels[p]]


def negatives_of(labels: list[int], a: int) -> list[int]:
    return [n for n in range(len(labels)) if labels[n] != labels[a]]


@settings(max_examples=150, deadline=None)
@given(batches())
def test_semi_hard_rule(batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    emb, labels_t = batch
    d = mining.pairwise_distances(emb).numpy()
    labels = labels_t.tolist()
    t = mining.semi_hard(torch.from_numpy(d), labels_t)
    got = {
        (a, p): n
        for a, p, n in zip(t.anchors.tolist(), t.positives.tolist(), t.negatives.tolist(), strict=True)
    }
    assert set(got) == set(positive_pairs(labels)) and len(got) == len(t)
    for (a, p), n in got.items():
        negs = negatives_of(labels, a)
        assert n in negs
        farther = [d[a, m] for m in negs if d[a, m] > d[a, p]]
        expected = min(farther) if farther else max(d[a, m] for m in negs)
        assert d[a, n] == expected


@settings(max_examples=150, deadline=None)
@given(batches())
def test_batch_hard_rule(batch: tuple[torch.Tensor, torch.Tensor]) -> None:
    emb, labels_t = batch
    d = mining.pairwise_distances(emb).numpy()
    labels = labels_t.tolist()
    t = mining.batch_hard(torch.from_numpy(d), labels_t)
    with_pos = [
        a for a in range(len(labels)) if any(labels[p] == labels[a] and p != a for p in range(len(labels)))
    ]
    assert t.anchors.tolist() == with_pos
    for a, p, n in zip(t.anchors.tolist(), t.positives.tolist(), t.negatives.tolist(), strict=True):
        assert labels[p] == labels[a] and p != a and labels[n] != labels[a]
        assert d[a, p] == max(d[a, q] for q in range(len(labels)) if labels[q] == labels[a] and q != a)
        assert d[a, n] == min(d[a, m] for m in negatives_of(labels, a))


@settings(max_examples=150, deadline=None)
@given(batches(), st.sampled_from([0.1, 0.5, 1.0]))
def test_batch_all_rule(batch: tuple[torch.Tensor, torch.Tensor], margin: float) -> None:
    emb, labels_t = batch
    d = mining.pairwise_distances(emb)
    labels = labels_t.tolist()
    every = {(a, p, n) for a, p in positive_pairs(labels) for n in negatives_of(labels, a)}
    t = mining.batch_all(d, labels_t)
    assert set(zip(t.anchors.tolist(), t.positives.tolist(), t.negatives.tolist(), strict=True)) == every
    # batch-all loss = mean of the positive hinges over all valid triples, computed naively
    hinges = [max(float(d[a, p] - d[a, n]) + margin, 0.0) for a, p, n in every]
    active = [h for h in hinges if h > losses.ACTIVE_EPS]
    out = losses.TripletLoss("batch-all", margin)(emb, labels_t)
    assert np.isclose(out.loss.item(), np.mean(active) if active else 0.0, atol=1e-5)
    assert np.isclose(out.fraction_active, len(active) / len(every) if every else 0.0)


@settings(max_examples=150, deadline=None)
@given(batches(), st.sampled_from([0.05, 0.2, 1.0]), st.booleans(), st.integers(0, 2**16))
def test_facenet_rule(
    batch: tuple[torch.Tensor, torch.Tensor], alpha: float, strict: bool, seed: int
) -> None:
    emb, labels_t = batch
    emb = torch.nn.functional.normalize(emb + 1e-3, dim=1)  # the rule is stated for unit embeddings
    d2 = mining.pairwise_distances(emb, squared=True)
    labels = labels_t.tolist()
    t = mining.facenet(d2, labels_t, alpha, generator=torch.Generator().manual_seed(seed), strict=strict)
    pairs = list(zip(t.anchors.tolist(), t.positives.tolist(), strict=True))
    assert len(pairs) == len(set(pairs))  # at most one negative per positive pair
    got = dict(zip(pairs, t.negatives.tolist(), strict=True))
    for a, p in positive_pairs(labels):
        allowed = [
            n
            for n in negatives_of(labels, a)
            if d2[a, n] - d2[a, p] < alpha and (not strict or d2[a, n] > d2[a, p])
        ]
        if allowed:
            assert got.get((a, p)) in allowed
        else:
            assert (a, p) not in got


@settings(max_examples=100, deadline=None)
@given(batches(), st.sampled_from(mining.MINING_RULES), st.sampled_from(losses.DISTANCES))
def test_losses_are_finite_and_non_negative(
    batch: tuple[torch.Tensor, torch.Tensor], rule: str, distance: str
) -> None:
    emb, labels = batch
    emb = emb.clone().requires_grad_(True)
    out = losses.TripletLoss(rule, margin=0.2, distance=distance, generator=torch.Generator().manual_seed(0))(
        emb, labels
    )
    out.loss.backward()
    assert torch.isfinite(out.loss) and out.loss.item() >= 0.0
    assert torch.isfinite(emb.grad).all()
    assert 0 <= out.active <= out.triplets
