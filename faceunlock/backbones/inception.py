"""facenet-pytorch's InceptionResnetV1 behind the Backbone interface (the design card's model).

Its chip is the MTCNN box resized to 160² (facenet-pytorch's own recipe, the one its weights were trained with),
standardised as (x − 127.5) / 128; embeddings are L2-normalised 512-d vectors.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from faceunlock.backbones.inception_recipe import PRETRAINED, InceptionBackbone  # noqa: F401  (re-exported)
from faceunlock.errors import WeightsError

TRUNK = (
    "conv2d_1a", "conv2d_2a", "conv2d_2b", "maxpool_3a", "conv2d_3b", "conv2d_4a", "conv2d_4b",
    "repeat_1", "mixed_6a", "repeat_2", "mixed_7a", "repeat_3", "block8", "avgpool_1a",
)  # fmt: skip


class InceptionNet(nn.Module):
    """InceptionResnetV1 split into trunk (→ 1792-d) and head (dropout → last_linear → last_bn)."""

    def __init__(self) -> None:
        super().__init__()
        from facenet_pytorch import InceptionResnetV1

        self.model = InceptionResnetV1(pretrained=None, classify=False)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        for name in TRUNK:
            x = getattr(self.model, name)(x)
        return x.flatten(1)

    def head(self, f: torch.Tensor) -> torch.Tensor:
        m = self.model
        return m.last_bn(m.last_linear(m.dropout(f)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def inception_state_dict(raw: dict) -> dict:
    """Accept facenet-pytorch's release files (with `logits.*`) and our own prefixed keys → InceptionNet keys."""
    out = {}
    for k, v in raw.items():
        k = k[len("module.") :] if k.startswith("module.") else k
        if k.startswith("logits."):
            continue
        out[k if k.startswith("model.") else f"model.{k}"] = v
    return out


def looks_untrained(net: InceptionNet) -> bool:
    """BatchNorm statistics still at their initial values (mean 0, var 1) mean the net never saw a face."""
    bn = net.model.last_bn
    return bool(torch.all(bn.running_mean == 0) and torch.all(bn.running_var == 1))


def from_state_dict(state_dict: dict | None, weights_path: Path | None, sha256: str, device: str = "cpu",
                    ) -> InceptionBackbone:  # fmt: skip
    """Wrap a facenet-pytorch or fine-tuned InceptionResnetV1 state dict (None: random init, for tests and
    `--base random`); a mismatched dict is a WeightsError naming its file."""
    net = InceptionNet()
    if state_dict is not None:
        try:
            net.load_state_dict(inception_state_dict(state_dict))
        except RuntimeError as e:
            raise WeightsError(f"{weights_path}: does not fit InceptionResnetV1 ({e})") from e
    net = net.to(memory_format=torch.channels_last)
    return InceptionBackbone(net=net, weights_path=weights_path, sha256=sha256, device=device)
