"""The two anti-spoofing networks (MiniFASNetV2, MiniFASNetV1SE) as torch modules, built from the published
checkpoints' state-dict shapes (module names follow them, so they load strictly).

`faceunlock.liveness` runs their ONNX export (faceunlock/runtime.py, decision 023); this module is imported to make
that export once, on CUDA, and under FACEUNLOCK_RUNTIME=torch.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from faceunlock.errors import WeightsError
from faceunlock.liveness import INPUT_SIZE, MiniFASNetSpec


# -- the blocks --------------------------------------------------------------------------------------------
class ConvUnit(nn.Module):
    """conv → batch norm → (PReLU). The last unit of a bottleneck stays linear, as in MobileNetV2."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 1, stride: int = 1, padding: int = 0,
                 groups: int = 1, act: bool = True) -> None:  # fmt: skip
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.prelu = nn.PReLU(c_out) if act else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return self.prelu(x) if self.prelu is not None else x


class SqueezeExcite(nn.Module):
    """Channel gate: global average → 1×1 reduce → BN → ReLU → 1×1 expand → BN → sigmoid, times the input."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        mid = channels // reduction
        self.fc1 = nn.Conv2d(channels, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.fc2 = nn.Conv2d(mid, channels, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = x.mean(dim=(2, 3), keepdim=True)
        g = torch.sigmoid(self.bn2(self.fc2(torch.relu(self.bn1(self.fc1(g))))))
        return x * g


class Bottleneck(nn.Module):
    """Inverted bottleneck: 1×1 expand (PReLU) → 3×3 depthwise (PReLU) → 1×1 linear project, [SE], [+ input]."""

    def __init__(
        self, c_in: int, c_mid: int, c_out: int, stride: int, residual: bool, se: bool = False
    ) -> None:
        super().__init__()
        self.conv = ConvUnit(c_in, c_mid)
        self.conv_dw = ConvUnit(c_mid, c_mid, 3, stride, 1, groups=c_mid)
        self.project = ConvUnit(c_mid, c_out, act=False)
        self.se_module = SqueezeExcite(c_out) if se else None
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.conv_dw(self.conv(x)))
        if self.se_module is not None:
            y = self.se_module(y)
        return x + y if self.residual else y


class Stage(nn.Module):
    """Residual bottlenecks at one resolution; in the SE variant only the last one carries a channel gate."""

    def __init__(self, channels: int, mids: Sequence[int], se: bool) -> None:
        super().__init__()
        self.model = nn.Sequential(*[
            Bottleneck(channels, m, channels, 1, residual=True, se=se and i == len(mids) - 1)
            for i, m in enumerate(mids)
        ])  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class MiniFASNet(nn.Module):
    """80×80 BGR (0..255) → 3 logits; class 1 is a real face, classes 0 and 2 are kinds of spoof.

    Module names follow the published checkpoints so their state dicts load strictly (after dropping the
    DataParallel `module.` prefix).
    """

    def __init__(self, spec: MiniFASNetSpec, input_size: int = INPUT_SIZE, embedding: int = 128,
                 classes: int = 3) -> None:  # fmt: skip
        super().__init__()
        self.conv1 = ConvUnit(3, 32, 3, 2, 1)
        self.conv2_dw = ConvUnit(32, 32, 3, 1, 1, groups=32)
        self.conv_23 = Bottleneck(32, spec.down1, 64, 2, residual=False)
        self.conv_3 = Stage(64, spec.stage1, spec.se)
        self.conv_34 = Bottleneck(64, spec.down2, 128, 2, residual=False)
        self.conv_4 = Stage(128, spec.stage2, spec.se)
        self.conv_45 = Bottleneck(128, spec.down3, 128, 2, residual=False)
        self.conv_5 = Stage(128, spec.stage3, spec.se)
        self.conv_6_sep = ConvUnit(128, 512)
        k = (
            input_size + 15
        ) // 16  # the 5×5 map left after four stride-2 steps, collapsed by one depthwise conv
        self.conv_6_dw = ConvUnit(512, 512, k, groups=512, act=False)
        self.linear = nn.Linear(512, embedding, bias=False)
        self.bn = nn.BatchNorm1d(embedding)
        self.prob = nn.Linear(embedding, classes, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv2_dw(self.conv1(x))
        x = self.conv_3(self.conv_23(x))
        x = self.conv_4(self.conv_34(x))
        x = self.conv_5(self.conv_45(x))
        x = self.conv_6_dw(self.conv_6_sep(x)).flatten(1)
        return self.prob(self.bn(self.linear(x)))


def load_minifasnet(path: Path, spec: MiniFASNetSpec, data: bytes | None = None) -> MiniFASNet:
    """A network with its checkpoint loaded strictly (`data`: the file's bytes, already read); any problem is a
    WeightsError naming the file."""
    try:
        state = torch.load(io.BytesIO(data) if data is not None else path, map_location="cpu", weights_only=True)
    except FileNotFoundError as e:
        raise WeightsError(
            f"{path}: no such liveness weights file (see models/anti-spoof-minifasnet/README.md)"
        ) from e
    except Exception as e:  # torch raises many types for a corrupt or foreign file
        raise WeightsError(
            f"{path}: not a readable PyTorch weights file ({e.__class__.__name__}: {e})"
        ) from e
    if not isinstance(state, dict):
        raise WeightsError(f"{path}: expected a state dict, found {type(state).__name__}")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    net = MiniFASNet(spec)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise WeightsError(f"{path}: does not fit the MiniFASNet architecture: {e}") from e
    return net.eval()
