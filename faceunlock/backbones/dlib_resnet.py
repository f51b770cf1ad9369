"""dlib's pretrained ResNet-34 face network (128-d descriptors) as a trainable PyTorch module.

The weights come from face-api.js's TensorFlow.js conversion of dlib's CC0 model and are bundled in
`models/dlib-resnet34/`, so the app has a strong face model without any download. The layers are real
nn.Conv2d / nn.Linear / learnable affine modules, so the network can be fine-tuned like any other.
See models/dlib-resnet34/README.md for provenance and the accuracy of the port against dlib itself.
"""

from __future__ import annotations

import hashlib
import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from faceunlock.backbones.dlib_recipe import (  # noqa: F401  (re-exported: the recipe is torch-free)
    BIN_NAME,
    BUNDLED_DIR,
    BUNDLED_META,
    DLIB_TEMPLATE_150,
    INPUT_SCALE,
    MANIFEST_NAME,
    MEAN_RGB,
    DlibResNetBackbone,
)
from faceunlock.errors import WeightsError

# (block name, output channels, downsampling?) in forward order, after the stem.
_BLOCKS: tuple[tuple[str, int, bool], ...] = (
    ("conv32_1", 32, False),
    ("conv32_2", 32, False),
    ("conv32_3", 32, False),
    ("conv64_down", 64, True),
    ("conv64_1", 64, False),
    ("conv64_2", 64, False),
    ("conv64_3", 64, False),
    ("conv128_down", 128, True),
    ("conv128_1", 128, False),
    ("conv128_2", 128, False),
    ("conv256_down", 256, True),
    ("conv256_1", 256, False),
    ("conv256_2", 256, False),
    ("conv256_down_out", 256, True),
)


# -- the network ----------------------------------------------------------------------------------------------
class ChannelAffine(nn.Module):
    """dlib's `affine` layer: y = x·weight[c] + bias[c]. It is what dlib leaves of batch norm at inference."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class ConvAffine(nn.Module):
    """Conv (with bias) followed by dlib's per-channel affine; names mirror the manifest (`conv`, `scale`).

    The filters are channels-last from the start, like the input `to_tensor` gives: the convolutions then stop
    re-laying out every filter on every call (11.5 → 9.8 ms a chip here, bit-identical descriptors; decision 020).
    Converted layer by layer as it is built, not the whole network afterwards: that left 7 MiB of freed copies
    in the heap of every process that unlocks."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, padding: int) -> None:
        super().__init__()
        conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=True)
        self.conv = conv.to(memory_format=torch.channels_last)
        self.scale = ChannelAffine(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale(self.conv(x))


class ResidualBlock(nn.Module):
    """conv1 → affine → ReLU → conv2 → affine, plus the shortcut, → ReLU.

    Downsampling blocks use a stride-2 'valid' conv1 and a 2×2/2 average-pooled shortcut; like dlib's
    add_prev, the sum takes the larger of the two shapes and treats the missing rows/columns/channels as zeros.
    """

    def __init__(self, cin: int, cout: int, down: bool) -> None:
        super().__init__()
        self.down = down
        self.conv1 = ConvAffine(cin, cout, 3, stride=2 if down else 1, padding=0 if down else 1)
        self.conv2 = ConvAffine(cout, cout, 3, stride=1, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(F.relu(self.conv1(x)))
        s = F.avg_pool2d(x, 2, 2) if self.down else x
        if y.shape != s.shape:
            y, s = _pad_to(y, s), _pad_to(s, y)
        return F.relu(y + s)


def _pad_to(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Zero-pad `a` at the end of channels/rows/columns up to `b`'s size where `b` is larger (dlib add_prev)."""
    dc = max(b.shape[1] - a.shape[1], 0)
    dh = max(b.shape[2] - a.shape[2], 0)
    dw = max(b.shape[3] - a.shape[3], 0)
    if dc or dh or dw:
        a = F.pad(a, (0, dw, 0, dh, 0, dc))
    return a


class DlibResNet34(nn.Module):
    """dlib_face_recognition_resnet_model_v1: 150×150 RGB → 128-d descriptor (compared by raw L2, ~0.6).

    Input: float N×3×150×150, (RGB − MEAN_RGB) / INPUT_SCALE. Parameter names follow the face-api.js manifest
    so the weight loader is a rename plus a transpose.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv32_down = ConvAffine(3, 32, 7, stride=2, padding=0)
        cin = 32
        for name, cout, down in _BLOCKS:
            self.add_module(name, ResidualBlock(cin, cout, down))
            cin = cout
        self.fc = nn.Linear(256, 128, bias=False)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The trunk up to and including global average pooling → N×256 (cacheable for head-only training)."""
        x = F.relu(self.conv32_down(x))
        x = F.max_pool2d(x, 3, 2)
        for name, _, _ in _BLOCKS:
            x = getattr(self, name)(x)
        return x.mean(dim=(2, 3))

    def head(self, f: torch.Tensor) -> torch.Tensor:
        """The linear projection 256 → 128 (no bias), the part head-only fine-tuning updates."""
        return self.fc(f)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


# -- weights --------------------------------------------------------------------------------------------------
def looks_untrained(net: DlibResNet34) -> bool:
    """Every ChannelAffine still at its initial identity (weight 1, bias 0): the net never saw a face."""
    affines = [m for m in net.modules() if isinstance(m, ChannelAffine)]
    return all(bool(torch.all(m.weight == 1) and torch.all(m.bias == 0)) for m in affines)


def _state_key(tf_name: str) -> str:
    """Manifest tensor name → DlibResNet34 state-dict key (e.g. conv32_1/conv1/scale/weights → ….scale.weight)."""
    if tf_name == "fc":
        return "fc.weight"
    parts = tf_name.split("/")
    leaf = {"filters": "weight", "weights": "weight", "bias": "bias", "biases": "bias"}.get(parts[-1])
    if leaf is None:
        raise KeyError(tf_name)
    return ".".join([*parts[:-1], leaf])


def _read_bytes(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise WeightsError(f"cannot read weight file {path}: {e.strerror or e}") from e


def load_faceapi_weights(manifest_path: Path | str, bin_path: Path | str, *, manifest_bytes: bytes | None = None,
                         bin_bytes: bytes | None = None) -> dict[str, torch.Tensor]:  # fmt: skip
    """Decode face-api.js's TF.js weight files into a DlibResNet34 state dict.

    Quantised tensors are stored as uint8 with value = q·scale + min; a few (the conv64 filters) are plain
    float32. Every inconsistency raises WeightsError naming the offending file, because a silently
    misread weight gives a network that "works" but recognises nobody.
    """
    manifest_path, bin_path = Path(manifest_path), Path(bin_path)
    try:
        raw = manifest_bytes if manifest_bytes is not None else _read_bytes(manifest_path)
        groups = json.loads(raw.decode("utf-8"))
        specs = [w for group in groups for w in group["weights"]]
        for w in specs:  # validate the fields we rely on before touching the .bin
            _ = (str(w["name"]), [int(d) for d in w["shape"]], str(w.get("dtype", "float32")))
    except WeightsError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise WeightsError(f"weight manifest {manifest_path} is not a valid TF.js manifest: {e!r}") from e

    blob = bin_bytes if bin_bytes is not None else _read_bytes(bin_path)
    expected_keys = DlibResNet34().state_dict()
    sizes = []
    for w in specs:
        q = w.get("quantization")
        width = {"uint8": 1, "uint16": 2}.get(q.get("dtype")) if q else 4
        if width is None or (not q and w.get("dtype", "float32") != "float32"):
            raise WeightsError(f"weight manifest {manifest_path}: unsupported dtype for tensor {w['name']}")
        sizes.append(width * math.prod(int(d) for d in w["shape"]))
    if sum(sizes) != len(blob):
        raise WeightsError(
            f"weight file {bin_path} has {len(blob)} bytes but {manifest_path.name} describes {sum(sizes)}: "
            "truncated or mismatched download"
        )

    state: dict[str, torch.Tensor] = {}
    offset = 0
    for w, size in zip(specs, sizes, strict=True):
        name, shape = w["name"], [int(d) for d in w["shape"]]
        try:
            key = _state_key(name)
        except KeyError:
            key = ""
        if key not in expected_keys:
            raise WeightsError(f"weight manifest {manifest_path}: unknown tensor {name!r} for dlib-resnet34")
        raw = blob[offset : offset + size]
        offset += size
        q = w.get("quantization")
        if q:
            dtype = np.uint8 if q["dtype"] == "uint8" else np.dtype("<u2")
            values = np.frombuffer(raw, dtype=dtype).astype(np.float64) * float(q["scale"]) + float(q["min"])
        else:
            values = np.frombuffer(raw, dtype="<f4")
        arr = values.astype(np.float32).reshape(shape)
        if arr.ndim == 4:  # TF [kh, kw, in, out] → torch [out, in, kh, kw]
            arr = arr.transpose(3, 2, 0, 1)
        elif key == "fc.weight":  # TF [in, out] → Linear [out, in]
            arr = arr.T
        tensor = torch.from_numpy(np.ascontiguousarray(arr))
        if tuple(tensor.shape) != tuple(expected_keys[key].shape):
            raise WeightsError(
                f"weight manifest {manifest_path}: tensor {name!r} has shape {shape}, "
                f"expected {list(expected_keys[key].shape)}"
            )
        state[key] = tensor

    missing = sorted(set(expected_keys) - set(state))
    if missing:
        raise WeightsError(f"weight manifest {manifest_path} lacks {len(missing)} tensors, e.g. {missing[0]}")
    return state


@lru_cache(maxsize=1)
def bundled_sha256() -> str:
    """Fingerprint of the bundled weights (.bin bytes then manifest bytes): calibrations are tied to it."""
    h = hashlib.sha256()
    h.update(_read_bytes(BUNDLED_DIR / BIN_NAME))
    h.update(_read_bytes(BUNDLED_DIR / MANIFEST_NAME))
    return h.hexdigest()


def from_state_dict(
    state_dict: dict[str, Any] | None, weights_path: Path | None, sha256: str, device: str = "cpu"
) -> DlibResNetBackbone:
    """Wrap a (fine-tuned) DlibResNet34 state dict (None: random init, for tests and `--base random`);
    a mismatched dict is a WeightsError naming its file."""
    net = DlibResNet34()
    if state_dict is None:
        return DlibResNetBackbone(net=net, weights_path=weights_path, sha256=sha256, device=device)
    try:
        net.load_state_dict(state_dict, strict=True)
    except (RuntimeError, TypeError, AttributeError) as e:
        where = weights_path if weights_path else "(in-memory state dict)"
        raise WeightsError(f"{where} is not a dlib-resnet34 checkpoint: {e}") from e
    return DlibResNetBackbone(net=net, weights_path=weights_path, sha256=sha256, device=device)


def load_bundled(device: str = "cpu") -> DlibResNetBackbone:
    """The offline default: dlib's pretrained network from models/dlib-resnet34/."""
    # Read once: the fingerprint is of the bytes loaded (issue 9.12), same formula as bundled_sha256().
    return bundled_from_bytes(_read_bytes(BUNDLED_DIR / BIN_NAME), _read_bytes(BUNDLED_DIR / MANIFEST_NAME), device)


def bundled_from_bytes(bin_bytes: bytes, manifest_bytes: bytes, device: str = "cpu") -> DlibResNetBackbone:
    """The bundled network from its two files' bytes, already read (what was hashed is what is loaded)."""
    sha = hashlib.sha256(bin_bytes + manifest_bytes).hexdigest()
    state = load_faceapi_weights(BUNDLED_DIR / MANIFEST_NAME, BUNDLED_DIR / BIN_NAME, manifest_bytes=manifest_bytes,
                                 bin_bytes=bin_bytes)  # fmt: skip
    backbone = from_state_dict(state, BUNDLED_DIR / BIN_NAME, sha, device=device)
    backbone.meta.update(BUNDLED_META)
    return backbone
