"""Issue 9.12: the model file was read twice (once to load, once to hash), so a file swapped between the two reads
loaded one network under the other file's sha256 — and calibrations and templates are bound to that sha256.

The swap here is real: an audit hook (Python's `open` event) renames a second, different checkpoint over the
weights file the moment the loader opens that path a second time, which is exactly when the old code went back
for the hash. The loader must open the file once, and the sha256 it reports must be that of the bytes it loaded.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from faceunlock.backbones import dlib_resnet
from faceunlock.weights import load_weights_file, save_backbone
from tests.shared_data import need

_SWAP: dict = {}  # path → {"opens": n, "other": Path}; audit hooks cannot be removed, so this one is data-driven


def _hook(event: str, args: tuple) -> None:
    if event != "open" or not _SWAP or not args or not isinstance(args[0], str | bytes | os.PathLike):
        return
    path = os.fsdecode(args[0])
    state = _SWAP.get(path)
    if state is None:
        return
    state["opens"] += 1
    if state["opens"] == 2 and not state["swapped"]:
        state["swapped"] = True
        os.replace(state["other"], path)  # a real swap on disk, between the first read and the second


sys.addaudithook(_hook)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> tuple[Path, Path]:
    """A = the bundled dlib ResNet-34 in our checkpoint format; B = the same net with its weights perturbed (a
    different, still trained-looking model: what an attacker would swap in)."""
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("swap")
    bb = dlib_resnet.load_bundled()
    a = d / "a.pt"
    save_backbone(bb, a, untrained=False)
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in bb.net.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.05 * (p.abs().mean() + 1e-3))
    b = d / "b.pt"
    save_backbone(bb, b, untrained=False)
    return a, b


def _descriptors(bb, chips: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return bb.net(bb.to_tensor(chips)).numpy()


def test_a_file_swapped_between_reads_cannot_load_under_the_old_hash(checkpoints, tmp_path):
    a, b = checkpoints
    target = tmp_path / "weights.pt"
    target.write_bytes(a.read_bytes())
    other = tmp_path / "other.pt"
    other.write_bytes(b.read_bytes())
    sha_a, sha_b = (hashlib.sha256(p.read_bytes()).hexdigest() for p in (a, b))
    assert sha_a != sha_b
    _SWAP[str(target)] = {"opens": 0, "other": other, "swapped": False}
    try:
        bb = load_weights_file(target)
    finally:
        state = _SWAP.pop(str(target))
    assert state["opens"] == 1, "the weights file must be opened once: hash and load the same bytes"
    assert not state["swapped"]
    # The sha256 the backbone claims is the sha256 of the network it runs: compare on real face chips.
    chips = np.load(need("dlib-reference", "chips_150.npy"))[:6]
    got = _descriptors(bb, chips)
    ref_a = _descriptors(load_weights_file(a), chips)
    assert bb.sha256 == sha_a
    np.testing.assert_allclose(got, ref_a, rtol=1e-4, atol=1e-4)


def test_the_owner_model_still_loads_with_its_own_hash(checkpoints):
    a, b = checkpoints
    for p in (a, b):
        bb = load_weights_file(p)
        assert bb.sha256 == hashlib.sha256(p.read_bytes()).hexdigest()
