"""The P×K sampler (including its DDP sharding), the identity-disjoint split and the augmentations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faceunlock.errors import DatasetError
from faceunlock.train.dataset import AUGMENTATIONS, FaceSet, PKSampler, augment, split_identities


def labels_for(counts: list[int]) -> np.ndarray:
    return np.concatenate([np.full(n, i) for i, n in enumerate(counts)])


def faceset(counts: list[int]) -> FaceSet:
    labels = labels_for(counts)
    n = len(labels)
    chips = np.arange(n, dtype=np.uint8)[:, None, None, None].repeat(4, 1).repeat(4, 2).repeat(3, 3)
    single = np.bincount(labels)[labels] < 2
    return FaceSet(
        chips, labels, [f"p{i}" for i in range(len(counts))], [Path(f"{i}.png") for i in range(n)], single
    )


def test_batches_are_p_people_times_k_images() -> None:
    labels = labels_for([10, 7, 3, 12, 9, 1])
    neg = np.bincount(labels)[labels] < 2
    s = PKSampler(labels, neg, p=4, k=4, seed=1, n_negatives=1)
    batches = s.all_batches()
    assert len(batches) == len(s) > 0
    for b in batches:
        people = labels[b[:-1]]
        ids, counts = np.unique(people, return_counts=True)
        assert len(ids) == 4 and 5 not in ids  # the one-image person is never a "positive" identity
        assert all(c == min(4, np.sum(labels == i)) for i, c in zip(ids, counts, strict=True))
        assert len(set(b[:-1].tolist())) == len(b) - 1  # no image twice as a positive
        assert labels[b[-1]] == 5  # the negative appended last
    seen = set()
    for epoch in range(3):  # people are visited equally often, so big folders take a few epochs to cover
        s.set_epoch(epoch)
        seen |= set(np.concatenate(s.all_batches()).tolist())
    assert seen == set(range(len(labels)))


def test_same_list_on_every_rank_and_disjoint_equal_shards() -> None:
    labels = labels_for([8] * 9)
    neg = np.zeros(len(labels), bool)
    full = PKSampler(labels, neg, 3, 4, seed=7, world_size=3)
    shards = [list(PKSampler(labels, neg, 3, 4, seed=7, rank=r, world_size=3)) for r in range(3)]
    assert len({len(s) for s in shards}) == 1 and len(shards[0]) == len(full)
    merged = [b for group in zip(*shards, strict=True) for b in group]
    assert [b.tolist() for b in merged] == [b.tolist() for b in full.all_batches()]
    # different epochs give different batches; the same epoch gives the same batches
    full.set_epoch(1)
    again = PKSampler(labels, neg, 3, 4, seed=7, world_size=3)
    again.set_epoch(1)
    assert [b.tolist() for b in full.all_batches()] == [b.tolist() for b in again.all_batches()]
    again.set_epoch(2)
    assert [b.tolist() for b in full.all_batches()] != [b.tolist() for b in again.all_batches()]


def test_batch_count_is_a_multiple_of_the_world_size() -> None:
    labels = labels_for([5] * 5)
    for world in (1, 2, 3, 4):
        s = PKSampler(labels, np.zeros(25, bool), 2, 3, world_size=world)
        assert s.batches_total % world == 0 and s.batches_total >= world


def test_p_is_clamped_and_too_few_people_rejected() -> None:
    labels = labels_for([4, 4])
    assert PKSampler(labels, np.zeros(8, bool), 8, 4).p == 2
    with pytest.raises(DatasetError):
        PKSampler(labels_for([4]), np.zeros(4, bool), 2, 2)


def test_one_person_plus_negatives_is_enough() -> None:
    labels = labels_for([4, 1, 1])
    s = PKSampler(labels, np.array([False] * 4 + [True, True]), 2, 2, n_negatives=2)
    assert all(len(set(labels[b].tolist())) == 3 for b in s.all_batches())


def test_split_is_identity_disjoint_and_keeps_negatives_in_training() -> None:
    fs = faceset([5, 5, 5, 5, 5, 5, 5, 5, 1])
    train, val = split_identities(fs, 0.25, seed=3)
    assert not set(train.labels.tolist()) & set(val.labels.tolist())
    assert len(val.identities()) == 2 and 8 in train.labels and 8 not in val.labels
    assert len(train) + len(val) == len(fs)
    with pytest.raises(DatasetError, match="too few"):
        split_identities(faceset([5, 5, 5]), 0.25, seed=0)


def test_augmentations_are_deterministic_and_shape_preserving() -> None:
    rng = np.random.default_rng(0)
    chips = rng.integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    for v in range(len(AUGMENTATIONS)):
        a, b = augment(chips, v), augment(chips, v)
        assert a.shape == chips.shape and a.dtype == np.uint8 and np.array_equal(a, b)
    assert np.array_equal(augment(chips, 1)[:, :, ::-1], chips)
    assert augment(chips, 2).mean() > chips.mean() > augment(chips, 3).mean()
