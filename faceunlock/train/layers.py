"""Which layers a fine-tune updates (`--train-layers head|block8|all`) and the train/eval mode of each.

Small personal datasets overfit a whole network in minutes, so the default trains only the projection head;
`block8` adds the last residual block. Frozen layers stay in eval mode, so their BatchNorm keeps the
statistics learnt on millions of faces instead of re-estimating them from a 32-image batch of one lab.
"""

from __future__ import annotations

from torch import nn

from faceunlock.backbones import architecture
from faceunlock.errors import WeightsError

TRAIN_LAYERS = ("head", "block8", "all")



def trainable_names(arch: str, layers: str) -> list[str]:
    """Module names to update for `layers` on `arch` ("" = the whole network)."""
    if layers not in TRAIN_LAYERS:
        raise ValueError(f"--train-layers must be one of {TRAIN_LAYERS}, not {layers!r}")
    if layers == "all":
        return [""]
    g = architecture(arch).train_layers  # module names; `mode` modules have no weights but train differently
    if not g:
        raise WeightsError(f"no layer map for architecture {arch!r}: use --train-layers all")
    names = list(g["head"]) + list(g["mode"])
    return names if layers == "head" else list(g["block8"]) + names


def _modules(net: nn.Module, names: list[str]) -> list[nn.Module]:
    found = dict(net.named_modules())
    missing = [n for n in names if n not in found]
    if missing:
        raise WeightsError(f"network has no module {missing[0]!r}: the layer map does not fit this model")
    return [found[n] for n in names]


def freeze(net: nn.Module, arch: str, layers: str, freeze_bn: bool = False) -> list[nn.Parameter]:
    """Set requires_grad for `layers` only (and never for BatchNorm when freeze_bn); return what trains."""
    for p in net.parameters():
        p.requires_grad_(False)
    for m in _modules(net, trainable_names(arch, layers)):
        for p in m.parameters():
            p.requires_grad_(True)
    if freeze_bn:
        for m in net.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                for p in m.parameters():
                    p.requires_grad_(False)
    params = [p for p in net.parameters() if p.requires_grad]
    if not params:
        raise WeightsError(f"--train-layers {layers} leaves nothing to train on this {arch} network")
    return params


def set_train_mode(net: nn.Module, arch: str, layers: str, freeze_bn: bool = False) -> None:
    """eval() everywhere, then train() on the trained modules; BatchNorm stays eval unless it is trained."""
    net.eval()
    for m in _modules(net, trainable_names(arch, layers)):
        m.train()
    if freeze_bn:
        for m in net.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()


def no_decay(name: str, p: nn.Parameter) -> bool:
    """Biases and 1-D scale/shift vectors (BatchNorm, dlib's affine) get no weight decay."""
    return p.ndim <= 1 or name.endswith(".bias")
