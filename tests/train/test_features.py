"""train.features: the frozen-trunk feature cache on real ORL chips: right numbers, computed once, keyed right."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from faceunlock.train.dataset import AUGMENTATIONS, FaceSet, augment, load_faceset
from faceunlock.train.features import FeatureCache
from faceunlock.train.runtime import Runtime
from faceunlock.weights import resolve_backbone
from tests.shared_data import need
from tests.train.conftest import make_people


@pytest.fixture(scope="module")
def backbone():
    torch.set_num_threads(min(torch.get_num_threads(), 2))
    return resolve_backbone("dlib-resnet34")


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory, train_home: Path, backbone) -> FaceSet:
    """3 ORL people × 2 photos, detected (cached in the shared train home) and aligned for the backbone."""
    root = make_people(tmp_path_factory.mktemp("orl3") / "people", need("orl"), {"s1": 2, "s2": 2, "s3": 2})
    fs = load_faceset(root, backbone)
    assert len(fs) == 6 and fs.problems == []
    return fs


def _trunk(backbone, chips: np.ndarray) -> torch.Tensor:
    with torch.inference_mode():
        return backbone.net.features(backbone.to_tensor(chips)).float()


def test_features_are_the_trunk_of_each_augmented_chip(tmp_path, backbone, faces):
    cache = FeatureCache(tmp_path, backbone, batch_size=4)  # 6 chips: a full batch and a partial one
    got = cache.get(faces, 2)
    assert got.shape == (len(faces), 2, backbone.feature_dim) == (6, 2, 256) and got.dtype == torch.float32
    torch.testing.assert_close(got[:, 0], _trunk(backbone, faces.chips), atol=1e-5, rtol=0)
    assert AUGMENTATIONS[1] == "flip"
    flipped = _trunk(backbone, augment(faces.chips, 1))
    torch.testing.assert_close(got[:, 1], flipped, atol=1e-5, rtol=0)
    assert not torch.allclose(got[:, 0], got[:, 1], atol=1e-3)  # the variants differ
    # each face gets its own features
    assert torch.cdist(got[:, 0], got[:, 0]).fill_diagonal_(1.0).min() > 1e-3


def test_second_get_loads_the_file_without_recomputing(tmp_path, backbone, faces, monkeypatch):
    cache = FeatureCache(tmp_path, backbone)
    first = cache.get(faces, 2)
    path = cache.path(faces, 2)
    assert path.is_file() and path.parent == tmp_path
    assert os.stat(path).st_mode & 0o777 == 0o644
    stamp = os.stat(path).st_mtime_ns

    def no_recompute(*args, **kwargs):
        raise AssertionError("features recomputed although the cache file exists")

    again = FeatureCache(tmp_path, backbone)  # a resumed run: a new cache object on the same folder
    monkeypatch.setattr(again, "compute", no_recompute)
    second = again.get(faces, 2, rt=Runtime(0, 1, 0, torch.device("cpu"), None))
    assert torch.equal(first, second)
    assert os.stat(path).st_mtime_ns == stamp
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temp files left


def test_compute_keeps_the_nets_mode(tmp_path, backbone, faces):
    net = backbone.net
    net.train()
    try:
        out = FeatureCache(tmp_path, backbone).compute(faces, 1)
        assert net.training, "compute() must hand the net back in the mode it found it"
    finally:
        net.eval()
    # computed in eval mode (BatchNorm on running stats): the same as the eval-mode trunk
    torch.testing.assert_close(out[:, 0], _trunk(backbone, faces.chips), atol=1e-5, rtol=0)


def test_the_file_name_follows_what_the_features_depend_on(tmp_path, backbone, faces):
    cache = FeatureCache(tmp_path, backbone)
    base = cache.path(faces, 2)
    assert FeatureCache(tmp_path / "x", backbone).path(faces, 2).name == base.name  # only content decides
    assert FeatureCache(tmp_path, backbone, batch_size=7).path(faces, 2) == base  # batching does not matter
    assert cache.path(faces, 2) == base
    others = {
        "augmentations": cache.path(faces, 3),
        "fewer augmentations": cache.path(faces, 1),
        "backbone sha": FeatureCache(tmp_path, dataclasses.replace(backbone, sha256="0" * 64)).path(faces, 2),
        "faces": cache.path(faces.select(np.arange(len(faces)) < 4), 2),
        "labels": cache.path(
            FaceSet(faces.chips, faces.labels[::-1].copy(), faces.names, faces.paths, faces.negative_only), 2
        ),
    }
    for what, p in others.items():
        assert p != base, f"a different {what} reuses the same feature file"
    assert len({p.name for p in others.values()}) == len(others)
