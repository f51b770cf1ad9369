"""Losses and miners against the published reference values (NOTES.md), plus gradient safety."""

from __future__ import annotations

import pytest
import torch

from faceunlock.train import losses, mining

HAND_EMB = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [3.0, 0.0]]
HAND_LABELS = [0, 0, 1, 1]


def hand() -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tensor(HAND_EMB), torch.tensor(HAND_LABELS)


def loss(rule: str, emb: torch.Tensor, labels: torch.Tensor, margin: float = 1.0, distance: str = "l2"):
    return losses.TripletLoss(rule, margin, distance)(emb, labels)


def test_semi_hard_l2_matches_tf_addons() -> None:
    emb, labels = hand()
    assert loss("semi-hard", emb, labels).loss.item() == pytest.approx(0.5428932, abs=1e-6)


def test_semi_hard_squared_matches_tf_addons() -> None:
    emb, labels = hand()
    assert loss("semi-hard", emb, labels, distance="squared-l2").loss.item() == pytest.approx(0.75, abs=1e-6)


def test_hard_matches_tf_addons() -> None:
    emb, labels = hand()
    assert loss("batch-hard", emb, labels).loss.item() == pytest.approx(0.8964466, abs=1e-6)


def test_batch_all_mean_over_active_and_fraction() -> None:
    emb, labels = hand()
    out = loss("batch-all", emb, labels)
    assert out.loss.item() == pytest.approx(1.2928932, abs=1e-6)
    assert out.fraction_active == pytest.approx(0.5)


def test_docstring_case_without_negatives() -> None:
    emb = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    labels = torch.tensor([0, 0])
    assert loss("semi-hard", emb, labels).loss.item() == pytest.approx(2.4142137, abs=1e-6)
    assert loss("batch-hard", emb, labels).loss.item() == pytest.approx(1.0, abs=1e-6)


def test_facenet_rule_on_hand_case() -> None:
    # squared distances: d²(0,1)=1, d²(0,2)=1, d²(0,3)=9, d²(1,2)=2, d²(1,3)=10, d²(2,3)=4.
    emb, labels = hand()
    d2 = mining.pairwise_distances(emb, squared=True)
    t = mining.facenet(d2, labels, alpha=1.5, generator=torch.Generator().manual_seed(0))
    got = sorted(zip(t.anchors.tolist(), t.positives.tolist(), t.negatives.tolist(), strict=True))
    # (0,1): n=2 (1-1<1.5); (1,0): n=2 (2-1<1.5); (2,3): n∈{0,1}; (3,2): 9-4, 10-4 ≥ 1.5 → none.
    assert [g[:2] for g in got] == [(0, 1), (1, 0), (2, 3)]
    assert got[0][2] == 2 and got[1][2] == 2 and got[2][2] in (0, 1)
    strict = mining.facenet(d2, labels, alpha=1.5, strict=True)
    assert sorted(
        zip(strict.anchors.tolist(), strict.positives.tolist(), strict.negatives.tolist(), strict=True)
    ) == [(1, 0, 2)]


@pytest.mark.parametrize("rule", mining.MINING_RULES)
@pytest.mark.parametrize("distance", losses.DISTANCES)
def test_finite_gradients_when_embeddings_coincide(rule: str, distance: str) -> None:
    emb = torch.tensor([[0.6, 0.8]] * 4 + [[1.0, 0.0]] * 2, requires_grad=True)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    out = losses.TripletLoss(rule, margin=0.2, distance=distance)(emb, labels)
    out.loss.backward()
    assert torch.isfinite(out.loss)
    assert emb.grad is not None and torch.isfinite(emb.grad).all()


def test_all_identical_embeddings_have_zero_gradient_not_nan() -> None:
    emb = torch.ones(6, 4, requires_grad=True)
    d = mining.pairwise_distances(emb)
    d.sum().backward()
    assert torch.equal(emb.grad, torch.zeros_like(emb))


def test_no_triplets_gives_attached_zero() -> None:
    emb = torch.randn(3, 4, requires_grad=True)
    out = losses.TripletLoss("facenet", margin=0.2)(emb, torch.tensor([0, 1, 2]))
    assert out.triplets == 0 and out.loss.item() == 0.0
    out.loss.backward()  # must not raise


def test_unknown_options_are_rejected() -> None:
    with pytest.raises(ValueError):
        losses.TripletLoss("hardest")
    with pytest.raises(ValueError):
        losses.TripletLoss(distance="cosine")
