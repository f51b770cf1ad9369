"""Which parameters train for --train-layers, and that frozen BatchNorm stays in eval mode."""

from __future__ import annotations

import pytest
from torch import nn

from faceunlock.train import layers
from faceunlock.weights import random_backbone


@pytest.fixture(scope="module")
def inception_net() -> nn.Module:
    return random_backbone("inception", seed=0).net


@pytest.fixture(scope="module")
def dlib_net() -> nn.Module:
    return random_backbone("dlib-resnet34", seed=0).net


def trained(net: nn.Module) -> set[str]:
    return {n.rsplit(".", 1)[0] for n, p in net.named_parameters() if p.requires_grad}


def test_inception_head_block8_all(inception_net: nn.Module) -> None:
    layers.freeze(inception_net, "inception", "head")
    assert trained(inception_net) == {"model.last_linear", "model.last_bn"}
    layers.freeze(inception_net, "inception", "block8")
    names = trained(inception_net)
    assert {"model.last_linear", "model.last_bn"} < names
    assert all(n.startswith(("model.block8", "model.last_")) for n in names)
    assert not any(n.startswith("model.repeat_3") for n in names)
    layers.freeze(inception_net, "inception", "all")
    assert all(p.requires_grad for p in inception_net.parameters())


def test_dlib_head_and_block8(dlib_net: nn.Module) -> None:
    layers.freeze(dlib_net, "dlib-resnet34", "head")
    assert trained(dlib_net) == {"fc"}
    layers.freeze(dlib_net, "dlib-resnet34", "block8")
    assert {n.split(".")[0] for n in trained(dlib_net)} == {"fc", "conv256_down_out"}


def test_frozen_batchnorm_stays_in_eval_mode(inception_net: nn.Module) -> None:
    layers.freeze(inception_net, "inception", "block8")
    layers.set_train_mode(inception_net, "inception", "block8")
    m = inception_net.model
    assert m.last_bn.training and m.dropout.training and m.block8.branch0.bn.training
    assert not m.repeat_3[0].branch0.bn.training and not m.conv2d_1a.bn.training
    layers.freeze(inception_net, "inception", "all", freeze_bn=True)
    layers.set_train_mode(inception_net, "inception", "all", freeze_bn=True)
    bns = [x for x in inception_net.modules() if isinstance(x, nn.BatchNorm2d | nn.BatchNorm1d)]
    assert bns and not any(b.training or b.weight.requires_grad for b in bns)
    assert m.conv2d_1a.conv.weight.requires_grad and m.conv2d_1a.conv.training


def test_bad_choice_is_rejected(dlib_net: nn.Module) -> None:
    with pytest.raises(ValueError):
        layers.freeze(dlib_net, "dlib-resnet34", "last2")
