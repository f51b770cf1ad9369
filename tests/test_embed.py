"""embed: Backbone.embed on real aligned chips (shape, dtype, batching), and the two distance functions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from faceunlock.embed import Backbone, paired_distances, pairwise_distances
from faceunlock.facesets import load_chips
from faceunlock.weights import resolve_backbone
from tests.shared_data import need

PEOPLE = ("Serena_Williams", "Tony_Blair", "Hugo_Chavez", "Laura_Bush")


@pytest.fixture(scope="module")
def backbone() -> Backbone:
    torch.set_num_threads(min(torch.get_num_threads(), 2))
    return resolve_backbone("dlib-resnet34")


@pytest.fixture(scope="module")
def chips() -> np.ndarray:
    """33 real 150×150 chips cut by dlib's own aligner from lfw-dev (the dlib-reference set)."""
    return np.load(need("dlib-reference", "chips_150.npy"))[:33]


@pytest.fixture(scope="module")
def batched(backbone, chips) -> np.ndarray:
    return backbone.embed(chips, batch_size=32)


@pytest.fixture(scope="module")
def lfw_people(backbone) -> tuple[np.ndarray, np.ndarray]:
    """Two photos each of a few lfw-dev people, through our own MTCNN + alignment → (embeddings, labels)."""
    files = [need("lfw-dev", p, f"{p}_{n:04d}.jpg") for p in PEOPLE for n in (1, 2)]
    c, kept, problems = load_chips(files, backbone, cache=None)
    assert kept == files and problems == []
    return backbone.embed(c), np.repeat(np.arange(len(PEOPLE)), 2)


def test_shape_and_dtype(backbone, chips, batched):
    assert chips.shape == (33, backbone.input_size, backbone.input_size, 3) and chips.dtype == np.uint8
    assert batched.shape == (33, backbone.embedding_dim) and batched.dtype == np.float32
    assert np.isfinite(batched).all()
    assert len({tuple(np.round(r, 4)) for r in batched}) == 33  # every face gets its own descriptor
    # a single chip without the batch axis is one row
    one = backbone.embed(chips[0])
    assert one.shape == (1, backbone.embedding_dim)


def test_batch_equals_one_by_one(backbone, chips, batched):
    singles = np.concatenate([backbone.embed(c[None]) for c in chips[:8]])
    np.testing.assert_allclose(batched[:8], singles, atol=1e-5, rtol=0)


def test_batch_size_boundary_gives_the_same_result(backbone, chips, batched):
    # 33 chips at batch_size 32 is a full batch and a batch of one; all in one batch and odd batches agree
    whole = backbone.embed(chips, batch_size=64)
    odd = backbone.embed(chips, batch_size=5)
    assert whole.shape == odd.shape == batched.shape
    np.testing.assert_allclose(batched, whole, atol=1e-5, rtol=0)
    np.testing.assert_allclose(batched, odd, atol=1e-5, rtol=0)
    np.testing.assert_allclose(batched[32:], backbone.embed(chips[32:]), atol=1e-5, rtol=0)


def test_empty_input_gives_zero_rows(backbone):
    s = backbone.input_size
    out = backbone.embed(np.zeros((0, s, s, 3), np.uint8))
    assert out.shape == (0, backbone.embedding_dim) and out.dtype == np.float32


def test_pairwise_and_paired_agree_and_are_euclidean(batched):
    a, b = batched[:16], batched[16:32]
    full = pairwise_distances(a, b)
    assert full.shape == (16, 16) and full.dtype == np.float64
    rows = paired_distances(a, b)
    assert rows.shape == (16,) and rows.dtype == np.float64
    np.testing.assert_allclose(np.diag(full), rows, atol=1e-9)
    direct = np.linalg.norm(a[:, None, :].astype(np.float64) - b[None, :, :], axis=2)
    np.testing.assert_allclose(full, direct, atol=1e-9)
    assert pairwise_distances(a[:3], b).shape == (3, 16)


def test_pairwise_self_distances_symmetric_with_zero_diagonal(batched):
    d = pairwise_distances(batched, batched)
    assert d.shape == (33, 33)
    np.testing.assert_allclose(d, d.T, atol=1e-12)
    assert np.abs(np.diag(d)).max() < 1e-6
    off = d[~np.eye(33, dtype=bool)]
    assert (off >= 0).all() and off.min() > 0.1  # distinct faces are never near zero
    np.testing.assert_array_equal(paired_distances(batched, batched), np.zeros(33))


def test_same_person_closer_than_different_people_on_real_lfw(lfw_people):
    emb, labels = lfw_people
    d = pairwise_distances(emb, emb)
    same = labels[:, None] == labels[None, :]
    iu = np.triu_indices(len(labels), 1)
    genuine, impostor = d[iu][same[iu]], d[iu][~same[iu]]
    assert len(genuine) == len(PEOPLE) and len(impostor) == 24
    assert genuine.max() < impostor.min(), f"genuine {np.sort(genuine)} vs impostor {np.sort(impostor)[:4]}"
    # each photo's nearest other photo is the same person's
    np.fill_diagonal(d, np.inf)
    np.testing.assert_array_equal(labels[d.argmin(1)], labels)
