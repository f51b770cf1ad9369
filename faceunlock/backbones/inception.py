"""facenet-pytorch's InceptionResnetV1 behind the Backbone interface (the design card's model).

Its chip is the MTCNN box resized to 160² (facenet-pytorch's own recipe, the one its weights were trained with),
standardised as (x − 127.5) / 128; embeddings are L2-normalised 512-d vectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from faceunlock.align import crop_box
from faceunlock.detect import Face
from faceunlock.embed import Backbone
from faceunlock.errors import WeightsError

PRETRAINED = {
    "vggface2": {
        "file": "20180402-114759-vggface2.pt",
        "url": "https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/20180402-114759-vggface2.pt",
        "classes": 8631,
    },
    "casia-webface": {
        "file": "20180408-102900-casia-webface.pt",
        "url": "https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/20180408-102900-casia-webface.pt",
        "classes": 10575,
    },
}
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


@dataclass
class InceptionBackbone(Backbone, arch="inception"):
    name = "inception-resnet-v1"
    normalize = True
    feature_dim = 1792
    margin = 0

    def align(self, image: np.ndarray, face: Face) -> np.ndarray:
        return crop_box(image, face.box, self.input_size, self.margin)

    def to_tensor(self, chips: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(chips)).to(self.device).permute(0, 3, 1, 2).float()
        x = (x - 127.5) / 128.0
        return x.contiguous(memory_format=torch.channels_last)


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
