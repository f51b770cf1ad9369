"""weights: which model authenticates, from which file; missing, corrupt and untrained weights are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from faceunlock import paths
from faceunlock.backbones import dlib_resnet
from faceunlock.backbones.inception import (
    PRETRAINED,
    InceptionBackbone,
    inception_state_dict,
    looks_untrained,
)
from faceunlock.errors import WeightsError
from faceunlock.weights import (
    auto_choice,
    file_sha256,
    find_pretrained,
    load_weights_file,
    random_backbone,
    resolve_backbone,
    save_backbone,
)

VGG = PRETRAINED["vggface2"]


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(min(torch.get_num_threads(), 2))


@pytest.fixture
def no_models(tmp_path, monkeypatch, fu_home) -> Path:
    """Every place weights are searched is an empty temp dir; returns FACEUNLOCK_MODELS."""
    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setenv("FACEUNLOCK_MODELS", str(models))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(
        paths, "REPO_MODELS", tmp_path / "repo-models"
    )  # a developer may keep downloads there
    monkeypatch.delenv("FACEUNLOCK_ALLOW_UNTRAINED", raising=False)
    return models


@pytest.fixture(scope="module")
def fake_vggface2(tmp_path_factory) -> tuple[Path, dict]:
    """A file in the release format of 20180402-114759-vggface2.pt: a seeded InceptionResnetV1 state dict with
    trained-looking last_bn statistics and the classifier `logits.*` the release files carry."""
    from facenet_pytorch import InceptionResnetV1

    torch.manual_seed(1234)
    sd = InceptionResnetV1(pretrained=None, classify=False).state_dict()
    sd["last_bn.running_mean"] = torch.randn(512) * 0.1
    sd["last_bn.running_var"] = torch.rand(512) + 0.5
    sd["logits.weight"] = torch.randn(VGG["classes"], 512) * 0.01
    sd["logits.bias"] = torch.zeros(VGG["classes"])
    path = tmp_path_factory.mktemp("vgg") / VGG["file"]
    torch.save(sd, path)
    return path, sd


@pytest.fixture(scope="module")
def random_inception() -> InceptionBackbone:
    return random_backbone("inception", seed=0)


@pytest.fixture(scope="module")
def random_inception_ckpt(tmp_path_factory, random_inception) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("rand") / "random-inception.pt"
    sha = save_backbone(random_inception, path)
    return path, sha


def _chips(n: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


# -- nothing on disk ----------------------------------------------------------------------------------------------
def test_missing_vggface2_says_what_to_download(no_models):
    assert find_pretrained("vggface2") is None
    with pytest.raises(WeightsError) as ei:
        resolve_backbone("vggface2")
    msg = str(ei.value)
    assert VGG["file"] in msg and VGG["url"] in msg
    assert str(no_models) in msg and "dlib-resnet34" in msg


def test_auto_without_inception_weights_is_bundled_dlib(no_models):
    choice = auto_choice()
    assert choice.spec == "dlib-resnet34" and choice.reason
    bb = resolve_backbone("auto")
    assert bb.name == "dlib-resnet34" and bb.sha256 == dlib_resnet.bundled_sha256()
    assert resolve_backbone("").sha256 == bb.sha256


# -- a release-format vggface2 file ---------------------------------------------------------------------------------
def test_auto_prefers_vggface2_when_present(no_models, fake_vggface2):
    src, sd = fake_vggface2
    (no_models / VGG["file"]).symlink_to(src)
    assert find_pretrained("vggface2") == no_models / VGG["file"]
    assert auto_choice().spec == "vggface2"
    bb = resolve_backbone("auto")
    assert isinstance(bb, InceptionBackbone)
    assert bb.meta["pretrained"] == "vggface2" and bb.meta["untrained"] is False
    assert bb.sha256 == file_sha256(src) and bb.weights_path == no_models / VGG["file"]
    loaded = bb.net.state_dict()
    assert not any("logits" in k for k in loaded)  # the classifier is dropped
    torch.testing.assert_close(loaded["model.last_bn.running_mean"], sd["last_bn.running_mean"])
    torch.testing.assert_close(loaded["model.conv2d_1a.conv.weight"], sd["conv2d_1a.conv.weight"])
    emb = bb.embed(_chips(2, 160))
    assert emb.shape == (2, 512) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


def test_vggface2_in_torch_cache_is_found(no_models, fake_vggface2, tmp_path):
    ckpt = tmp_path / "torch" / "checkpoints"
    ckpt.mkdir(parents=True)
    (ckpt / VGG["file"]).symlink_to(fake_vggface2[0])
    assert find_pretrained("vggface2") == ckpt / VGG["file"]
    assert auto_choice().spec == "vggface2"


def test_inception_state_dict_key_mapping():
    raw = {"module.conv2d_1a.conv.weight": 1, "logits.weight": 2, "model.last_bn.bias": 3, "block8.x": 4}
    assert inception_state_dict(raw) == {
        "model.conv2d_1a.conv.weight": 1,
        "model.last_bn.bias": 3,
        "model.block8.x": 4,
    }


# -- untrained weights ------------------------------------------------------------------------------------------
def test_random_inception_checkpoint_refused(no_models, random_inception_ckpt):
    path, sha = random_inception_ckpt
    assert sha == file_sha256(path)
    with pytest.raises(WeightsError, match="untrained") as ei:
        resolve_backbone(str(path))
    assert path.name in str(ei.value)


def test_random_inception_allowed_explicitly(no_models, random_inception_ckpt, monkeypatch):
    path, sha = random_inception_ckpt
    bb = resolve_backbone(str(path), allow_untrained=True)
    assert bb.meta["untrained"] is True and bb.sha256 == sha and looks_untrained(bb.net)
    monkeypatch.setenv("FACEUNLOCK_ALLOW_UNTRAINED", "1")
    assert load_weights_file(path).meta["untrained"] is True


def test_untrained_detected_even_when_checkpoint_claims_trained(no_models, tmp_path, random_inception):
    bb = random_inception
    p = tmp_path / "claims-trained.pt"
    save_backbone(bb, p, untrained=False)
    with pytest.raises(WeightsError, match="untrained"):
        load_weights_file(p)
    # and a raw facenet-pytorch-format random state dict (no wrapper) as well
    raw = {k.removeprefix("model."): v for k, v in bb.net.state_dict().items()}
    torch.save(raw, tmp_path / "raw-random.pt")
    with pytest.raises(WeightsError, match="untrained"):
        load_weights_file(tmp_path / "raw-random.pt")


def test_raw_random_dlib_state_dict_refused(no_models, tmp_path):
    torch.manual_seed(0)
    torch.save(dlib_resnet.DlibResNet34().state_dict(), tmp_path / "raw-random-dlib.pt")
    with pytest.raises(WeightsError, match="untrained"):
        load_weights_file(tmp_path / "raw-random-dlib.pt")


# -- bad files ------------------------------------------------------------------------------------------------
def test_corrupt_weights_file_names_it(no_models, tmp_path):
    bad = tmp_path / "corrupt-weights.pt"
    bad.write_bytes(np.random.default_rng(0).bytes(10_000))
    with pytest.raises(WeightsError, match="corrupt-weights.pt"):
        resolve_backbone(str(bad))
    half = tmp_path / "half.pt"
    torch.save({"conv2d_1a.conv.weight": torch.zeros(32, 3, 3, 3)}, half)
    half.write_bytes(half.read_bytes()[:200])
    with pytest.raises(WeightsError, match="half.pt"):
        load_weights_file(half)


def test_wrong_contents_are_weights_errors(tmp_path):
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(WeightsError, match="expected a state dict"):
        load_weights_file(tmp_path / "list.pt")
    torch.save({"foo.weight": torch.zeros(2)}, tmp_path / "other-net.pt")
    with pytest.raises(WeightsError, match="unrecognised"):
        load_weights_file(tmp_path / "other-net.pt")
    torch.save({"conv2d_1a.conv.weight": torch.zeros(2, 2)}, tmp_path / "partial.pt")
    with pytest.raises(WeightsError, match="partial.pt"):
        load_weights_file(tmp_path / "partial.pt")
    torch.save({"format": "faceunlock-backbone/1", "arch": "vgg16", "state_dict": {}}, tmp_path / "arch.pt")
    with pytest.raises(WeightsError, match="unknown architecture"):
        load_weights_file(tmp_path / "arch.pt")
    torch.save({"format": "faceunlock-backbone/1", "arch": "dlib-resnet34", "state_dict": {"fc.weight": torch.zeros(1)}},
               tmp_path / "dlib-partial.pt")  # fmt: skip
    with pytest.raises(WeightsError, match="dlib-partial.pt"):
        load_weights_file(tmp_path / "dlib-partial.pt")
    with pytest.raises(WeightsError, match="no-such.pt"):
        load_weights_file(tmp_path / "no-such.pt")


def test_folder_without_weights_pt(tmp_path):
    (tmp_path / "run1").mkdir()
    (tmp_path / "run1" / "report.json").write_text("{}")
    with pytest.raises(WeightsError, match="weights.pt"):
        resolve_backbone(str(tmp_path / "run1"))


# -- our own checkpoints ------------------------------------------------------------------------------------------
def test_dlib_random_backbone_round_trip(tmp_path, monkeypatch):
    monkeypatch.delenv("FACEUNLOCK_ALLOW_UNTRAINED", raising=False)
    bb = random_backbone("dlib-resnet34", seed=3)
    assert bb.meta["untrained"] is True
    out = tmp_path / "run" / "weights.pt"
    out.parent.mkdir()
    sha = save_backbone(bb, out, label="test")
    assert sha == file_sha256(out)
    with pytest.raises(WeightsError, match="untrained"):
        load_weights_file(out.parent)
    back = load_weights_file(out.parent, allow_untrained=True)  # a fine-tune output folder
    assert back.arch == "dlib-resnet34" and back.sha256 == sha and back.weights_path == out
    assert back.meta["label"] == "test" and back.meta["untrained"] is True
    for k, v in bb.net.state_dict().items():
        torch.testing.assert_close(back.net.state_dict()[k], v)
    chips = _chips(2, 150)
    np.testing.assert_allclose(back.embed(chips), bb.embed(chips), atol=1e-6)
    # a different seed is a different network
    assert not torch.equal(random_backbone("dlib-resnet34", seed=4).net.fc.weight, bb.net.fc.weight)


def test_bundled_dlib_saved_and_reloaded_is_trained(tmp_path, monkeypatch):
    monkeypatch.delenv("FACEUNLOCK_ALLOW_UNTRAINED", raising=False)
    bundled = resolve_backbone("dlib-resnet34")
    p = tmp_path / "dlib-copy.pt"
    sha = save_backbone(bundled, p)
    back = resolve_backbone(str(p))  # trained: no permission needed
    assert back.meta["untrained"] is False and back.sha256 == sha != bundled.sha256
    chips = _chips(3, 150, seed=5)
    np.testing.assert_allclose(back.embed(chips), bundled.embed(chips), atol=1e-5)
    assert p.stat().st_mode & 0o777 == 0o644
