"""The dlib ResNet port: faithful to dlib (oracle descriptors), strict about its weight files, trainable."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from faceunlock.backbones import dlib_resnet as dr
from faceunlock.detect import Face
from faceunlock.embed import pairwise_distances
from faceunlock.errors import WeightsError

ORACLE_TOLERANCE = 0.06  # uint8 quantisation of the face-api.js weights costs ~0.036 median, 0.046 max


def _shared_data() -> Path:
    env = os.environ.get("FACEUNLOCK_SHARED")
    if env:
        root = Path(env).expanduser()
        return root if (root / "dlib-reference").is_dir() else root / "data"
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


REFERENCE = _shared_data() / "dlib-reference"


@pytest.fixture(scope="module")
def backbone() -> dr.DlibResNetBackbone:
    torch.set_num_threads(min(torch.get_num_threads(), 2))
    return dr.load_bundled()


@pytest.fixture(scope="module")
def reference() -> tuple[np.ndarray, np.ndarray, list[str]]:
    if not REFERENCE.is_dir():
        pytest.skip(f"dlib reference descriptors not found at {REFERENCE} (set FACEUNLOCK_SHARED)")
    chips = np.load(REFERENCE / "chips_150.npy")
    descriptors = np.load(REFERENCE / "descriptors.npy")
    files = (REFERENCE / "files.txt").read_text().split()
    return chips, descriptors, files


@pytest.fixture(scope="module")
def port_descriptors(backbone, reference) -> np.ndarray:
    return backbone.embed(reference[0], batch_size=16)


# -- faithfulness ---------------------------------------------------------------------------------------------
def test_every_descriptor_matches_dlib(reference, port_descriptors):
    _, dlib_desc, _ = reference
    assert port_descriptors.shape == dlib_desc.shape == (79, 128)
    err = np.linalg.norm(port_descriptors - dlib_desc, axis=1)
    worst = int(err.argmax())
    assert err.max() < ORACLE_TOLERANCE, f"chip {worst} is {err[worst]:.4f} from dlib's descriptor"
    assert np.median(err) < 0.045


def test_same_people_closer_than_different_people(reference, port_descriptors):
    ids = np.array([f.split("/")[0] for f in reference[2]])
    same = ids[:, None] == ids[None, :]
    iu = np.triu_indices(len(ids), 1)
    if not same[iu].any():
        pytest.skip("files.txt has no repeated identity")
    d = pairwise_distances(port_descriptors, port_descriptors)[iu]
    s, diff = d[same[iu]], d[~same[iu]]
    assert (s < 0.6).all(), f"same-person distance up to {s.max():.3f} (dlib threshold 0.6)"
    assert (diff >= 0.6).mean() > 0.99
    assert (s[:, None] < diff[None, :]).mean() > 0.99  # AUC


def test_backbone_contract(backbone):
    assert (backbone.name, backbone.input_size, backbone.embedding_dim, backbone.feature_dim) == (
        "dlib-resnet34",
        150,
        128,
        256,
    )
    assert backbone.normalize is False
    h = hashlib.sha256()
    h.update((dr.BUNDLED_DIR / dr.BIN_NAME).read_bytes())
    h.update((dr.BUNDLED_DIR / dr.MANIFEST_NAME).read_bytes())
    assert backbone.sha256 == dr.bundled_sha256() == h.hexdigest()
    chips = np.zeros((2, 150, 150, 3), np.uint8)
    x = backbone.to_tensor(chips)
    assert x.shape == (2, 3, 150, 150) and x.dtype == torch.float32
    assert torch.allclose(x[0, :, 0, 0], -torch.tensor(dr.MEAN_RGB) / dr.INPUT_SCALE)
    assert backbone.embed(chips[:1]).shape == (1, 128)


def test_align_puts_landmarks_on_template(backbone):
    rng = np.random.default_rng(0)
    chip = rng.integers(0, 256, (150, 150, 3), dtype=np.uint8)
    face = Face(box=np.array([0, 0, 150, 150], np.float32), score=1.0, landmarks=dr.DLIB_TEMPLATE_150.copy())
    assert dr.DLIB_TEMPLATE_150.shape == (5, 2) and dr.DLIB_TEMPLATE_150.dtype == np.float32
    np.testing.assert_array_equal(backbone.align(chip, face), chip)


# -- weight loading -------------------------------------------------------------------------------------------
def _copy_weights(tmp_path: Path) -> tuple[Path, Path]:
    manifest, binary = tmp_path / dr.MANIFEST_NAME, tmp_path / dr.BIN_NAME
    shutil.copy(dr.BUNDLED_DIR / dr.MANIFEST_NAME, manifest)
    shutil.copy(dr.BUNDLED_DIR / dr.BIN_NAME, binary)
    return manifest, binary


def test_truncated_bin_is_named(tmp_path):
    manifest, binary = _copy_weights(tmp_path)
    binary.write_bytes(binary.read_bytes()[:-100])
    with pytest.raises(WeightsError, match=re.escape(str(binary))):
        dr.load_faceapi_weights(manifest, binary)


@pytest.mark.parametrize("which", ["manifest", "bin"])
def test_missing_file_is_named(tmp_path, which):
    manifest, binary = _copy_weights(tmp_path)
    gone = manifest if which == "manifest" else binary
    gone.unlink()
    with pytest.raises(WeightsError, match=re.escape(str(gone))):
        dr.load_faceapi_weights(manifest, binary)


def test_bad_manifest_is_named(tmp_path):
    manifest, binary = _copy_weights(tmp_path)
    manifest.write_text("{not json")
    with pytest.raises(WeightsError, match=re.escape(str(manifest))):
        dr.load_faceapi_weights(manifest, binary)
    groups = json.loads((dr.BUNDLED_DIR / dr.MANIFEST_NAME).read_text())
    groups[0]["weights"][5]["name"] = "conv32_9/conv1/conv/filters"
    manifest.write_text(json.dumps(groups))
    with pytest.raises(WeightsError, match="unknown tensor") as err:
        dr.load_faceapi_weights(manifest, binary)
    assert str(manifest) in str(err.value)


def test_from_state_dict_rejects_other_architectures(tmp_path):
    with pytest.raises(WeightsError, match="other.pt"):
        dr.from_state_dict({"fc.weight": torch.zeros(3, 3)}, tmp_path / "other.pt", "x")


def test_state_dict_round_trip(backbone):
    again = dr.from_state_dict(backbone.net.state_dict(), None, "abc")
    x = torch.zeros(1, 3, 150, 150)
    with torch.inference_mode():
        assert torch.equal(again.net(x), backbone.net(x))


# -- trainability ---------------------------------------------------------------------------------------------
def test_backward_in_train_mode_reaches_every_parameter(backbone):
    net = dr.DlibResNet34()
    net.load_state_dict(backbone.net.state_dict())
    net.train()
    rng = np.random.default_rng(1)
    x = backbone.to_tensor(rng.integers(0, 256, (2, 150, 150, 3), dtype=np.uint8))
    out = net(x)
    assert out.shape == (2, 128)
    ((out[0] - out[1]).square().sum() + out.sum()).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name
    assert net.features(x).shape == (2, 256)


def test_channels_last_matches_contiguous(backbone):
    net = dr.DlibResNet34()
    net.load_state_dict(backbone.net.state_dict())
    net.eval()
    rng = np.random.default_rng(2)
    x = backbone.to_tensor(rng.integers(0, 256, (1, 150, 150, 3), dtype=np.uint8)).contiguous()
    with torch.inference_mode():
        plain = net(x)
        net.to(memory_format=torch.channels_last)
        cl = net(x.to(memory_format=torch.channels_last))
    assert torch.allclose(plain, cl, atol=1e-4), (plain - cl).abs().max()


def test_loaded_backbone_keeps_its_weights_channels_last(backbone):
    """The bundled and a random backbone both run with channels-last filters (decision 020's speed-up), and a
    network loaded that way still reads the same weights: its state dict equals a contiguous copy's."""
    for bb in (backbone, dr.from_state_dict(None, None, "0" * 64)):
        convs = [m.weight for m in bb.net.modules() if isinstance(m, torch.nn.Conv2d)]
        assert convs and all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)
    plain = dr.DlibResNet34()
    plain.load_state_dict(backbone.net.state_dict())
    for (name, a), b in zip(backbone.net.state_dict().items(), plain.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
