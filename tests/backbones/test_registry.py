"""One registry of networks: names and aliases, the facts each backbone class takes from it, raw state dicts
recognised by their keys, and the layer map `--train-layers` uses fitting the real networks."""

from __future__ import annotations

import pytest

from faceunlock.backbones import ARCHITECTURES, architecture, detect
from faceunlock.errors import WeightsError
from faceunlock.train import layers
from faceunlock.weights import random_backbone, resolve_backbone


@pytest.fixture(scope="module")
def nets():
    return {"inception": random_backbone("inception"), "dlib-resnet34": resolve_backbone("dlib-resnet34")}


def test_names_and_aliases_resolve_to_one_architecture():
    assert architecture("inception") is architecture("inception-resnet-v1") is architecture("facenet")
    assert architecture("dlib") is architecture("dlib-resnet34")
    with pytest.raises(WeightsError, match="known: inception"):
        architecture("resnet50")


@pytest.mark.parametrize("key", list(ARCHITECTURES))
def test_backbones_take_their_facts_from_the_registry(nets, key):
    bb, a = nets[key], ARCHITECTURES[key]
    assert (bb.arch, bb.input_size, bb.embedding_dim, bb.distance) == (a.key, a.input_size, a.embedding_dim,
                                                                      a.distance)  # fmt: skip
    assert a.distance == "euclidean"  # the one metric embed.pairwise_distances computes
    assert detect(bb.net.state_dict(), "test") is a  # a raw state dict is recognised by its keys
    for how in ("head", "block8"):
        params = layers.freeze(bb.net, key, how)  # every module the map names exists in the real network
        assert 0 < sum(p.numel() for p in params) < sum(p.numel() for p in bb.net.parameters())


def test_unknown_state_dict_is_refused():
    with pytest.raises(WeightsError, match="unrecognised state dict"):
        detect({"encoder.weight": None}, "some.pt")


def test_fine_tune_arch_choices_are_the_registry():
    import argparse

    from faceunlock.cli import fine_tune

    p = argparse.ArgumentParser()
    fine_tune.add_parser(p.add_subparsers())
    arch = next(a for a in p._subparsers._group_actions[0].choices["fine-tune"]._actions if a.dest == "arch")
    assert list(arch.choices) == list(ARCHITECTURES)
