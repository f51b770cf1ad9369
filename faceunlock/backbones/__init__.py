"""The face networks faceunlock can run, in one registry: what each is called, how it aligns a face, what it
outputs, how distances between its embeddings are measured, how its weights load, and which of its layers
`fine-tune --train-layers` means.

Code that needs one of these facts asks the registry (weights.py to build a network from a file, train/layers.py
to freeze it, the CLI for its choices) instead of testing architecture names in if-chains. No torch is imported
here: the CLI reads the registry to build its --help. The networks themselves live in the modules named by
`module`, which provide `from_state_dict(state_dict | None, weights_path, sha256, device)` and
`looks_untrained(net)`; the Backbone subclass (how the network sees a face) lives in the torch-free module named
by `recipe`, so the unlock path can wrap an exported graph without importing torch (decision 023).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType

from faceunlock.errors import WeightsError


@dataclass(frozen=True)
class Architecture:
    key: str  # what our checkpoints store as "arch" and what --arch takes
    title: str  # the network's own name, for people
    aliases: tuple[str, ...]  # other names for the same network
    module: str  # where the network and its loader live
    recipe: str  # where its Backbone subclass lives (chip, input scaling; no torch)
    input_size: int  # chip side in pixels
    embedding_dim: int
    alignment: str  # how a face becomes a chip, in words
    distance: str  # how embeddings are compared: "euclidean" (embed.pairwise_distances) for both networks
    state_prefixes: tuple[str, ...]  # keys that identify a raw (foreign) state dict as this network
    train_layers: dict[str, tuple[str, ...]] = field(default_factory=dict)  # head / block8 / mode → modules

    def load_module(self) -> ModuleType:
        return importlib.import_module(self.module)

    def backbone_class(self) -> type:
        """The Backbone subclass for this network (importing only its torch-free recipe module)."""
        module = importlib.import_module(self.recipe)
        return next(c for c in vars(module).values() if isinstance(c, type) and getattr(c, "arch", None) == self.key)


ARCHITECTURES: dict[str, Architecture] = {
    a.key: a
    for a in (
        Architecture(
            key="inception", title="InceptionResnetV1 (facenet-pytorch)", aliases=("inception-resnet-v1", "facenet"),
            module="faceunlock.backbones.inception", recipe="faceunlock.backbones.inception_recipe", input_size=160, embedding_dim=512,
            alignment="MTCNN box resized to 160 px (facenet-pytorch's recipe)", distance="euclidean",
            state_prefixes=("conv2d_1a",),
            train_layers={"head": ("model.last_linear", "model.last_bn"), "block8": ("model.block8",),
                          "mode": ("model.dropout",)},
        ),
        Architecture(
            key="dlib-resnet34", title="dlib ResNet-34 (face_recognition_model_v1)", aliases=("dlib",),
            module="faceunlock.backbones.dlib_resnet", recipe="faceunlock.backbones.dlib_recipe", input_size=150, embedding_dim=128,
            alignment="5-point similarity transform onto dlib's 150-px template", distance="euclidean",
            state_prefixes=("conv32_down", "fc"),
            train_layers={"head": ("fc",), "block8": ("conv256_down_out",), "mode": ()},
        ),
    )
}  # fmt: skip


def architecture(name: str) -> Architecture:
    """By key or alias; an unknown name is a WeightsError listing the known ones."""
    for a in ARCHITECTURES.values():
        if name == a.key or name in a.aliases:
            return a
    known = ", ".join(f"{a.key} ({', '.join(a.aliases)})" for a in ARCHITECTURES.values())
    raise WeightsError(f"unknown architecture '{name}' (known: {known})")


def detect(state_dict: dict, where: object) -> Architecture:
    """Which network a raw state dict belongs to, from its key names."""
    keys = [k.removeprefix("module.").removeprefix("model.") for k in state_dict]
    for a in ARCHITECTURES.values():
        if any(k.startswith(p) for k in keys for p in a.state_prefixes):
            return a
    names = " nor ".join(a.title for a in ARCHITECTURES.values())
    raise WeightsError(f"{where}: unrecognised state dict (neither {names})")
