"""runtime: the unlock path runs the networks' ONNX exports and never imports torch (decision 023); the graph cache
is keyed by the weights' bytes, private, repaired when damaged, and gives the torch modules' results."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from faceunlock import runtime
from faceunlock.errors import WeightsError
from faceunlock.weights import random_backbone, resolve_backbone, save_backbone
from tests.shared_data import need

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def graphs(tmp_path, monkeypatch) -> Path:
    """A graph folder of this test's own (the suite shares one otherwise, tests/conftest.py)."""
    folder = tmp_path / "graphs"
    monkeypatch.setenv(runtime.GRAPHS_ENV, str(folder))
    return folder


def _tiny(seed: int) -> runtime.Export:
    torch.manual_seed(seed)
    return runtime.Export(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.PReLU(4)), (1, 3, 8, 8), {0: "n"},
                          {"note": f"seed {seed}"})  # fmt: skip


def test_a_graph_is_exported_once_per_weights_and_kept_private(graphs):
    calls = []

    def build(seed: int):
        def make() -> runtime.Export:
            calls.append(seed)
            return _tiny(seed)

        return make

    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    g1 = runtime.compiled("tiny", "a" * 64, build(1))
    g2 = runtime.compiled("tiny", "a" * 64, build(2))  # same weights' sha256: the cache answers, no export
    assert calls == [1]
    np.testing.assert_array_equal(g1(x)[0], g2(x)[0])
    assert g2.metadata["note"] == "seed 1"
    g3 = runtime.compiled("tiny", "b" * 64, build(2))  # other weights: their own graph
    assert calls == [1, 2] and not np.allclose(g1(x)[0], g3(x)[0])
    module = _tiny(1).module.eval()
    with torch.inference_mode():
        np.testing.assert_allclose(g1(x)[0], module(torch.from_numpy(x)).numpy(), atol=1e-6)
    assert stat.S_IMODE(graphs.stat().st_mode) == 0o700
    files = sorted(graphs.iterdir())
    assert len(files) == 2 and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)


def test_a_damaged_graph_is_exported_again(graphs):
    runtime.compiled("tiny", "c" * 64, lambda: _tiny(3))
    path = runtime.cache_path("tiny", "c" * 64)
    path.write_bytes(path.read_bytes()[:100])  # truncated (a full disk, a crash mid-copy)
    g = runtime.compiled("tiny", "c" * 64, lambda: _tiny(3))
    assert g.metadata["note"] == "seed 3" and path.stat().st_size > 100


def test_compiled_backbone_embeds_like_the_torch_module(tmp_path):
    """The bundled model as the unlock path builds it: no torch module, same fingerprint, and on real chips the
    same descriptors as the torch network (float rounding: < 1e-4 L2 on descriptors ~1 long)."""
    from faceunlock.detect import FaceDetector
    from faceunlock.images import load_image

    plain, fast = resolve_backbone("dlib-resnet34"), resolve_backbone("dlib-resnet34", compiled=True)
    assert fast.net is None and isinstance(fast.graph, runtime.OnnxGraph)
    assert (fast.sha256, fast.arch, fast.meta["source"]) == (plain.sha256, plain.arch, plain.meta["source"])
    det = FaceDetector()
    files = sorted((need("lfw-dev")).glob("A*/*_0001.jpg"))[:8]
    chips = []
    for f in files:
        img = load_image(f)
        face = det.primary(img)
        if face is not None:
            chips.append(plain.align(img, face))
    assert len(chips) >= 6
    a, b = plain.embed(np.stack(chips)), fast.embed(np.stack(chips))
    assert np.linalg.norm(a - b, axis=1).max() < 1e-4
    assert np.linalg.norm(a[0] - a[1]) > 0.3  # different people stay different: the test could fail


def test_untrained_weights_are_refused_from_the_cache_too(tmp_path, graphs):
    path = tmp_path / "random.pt"
    save_backbone(random_backbone("dlib-resnet34", seed=3), path, untrained=True)
    for _ in range(2):  # the first call exports, the second reads the stamp back from the graph
        with pytest.raises(WeightsError, match="untrained"):
            resolve_backbone(str(path), compiled=True, allow_untrained=False)
    bb = resolve_backbone(str(path), compiled=True, allow_untrained=True)
    assert bb.meta["untrained"] is True and bb.meta["source"] == str(path) and bb.net is None


def test_a_changed_weights_file_never_reuses_the_old_graph(tmp_path, graphs):
    path = tmp_path / "w.pt"
    save_backbone(random_backbone("dlib-resnet34", seed=1), path, untrained=True)
    first = resolve_backbone(str(path), compiled=True, allow_untrained=True)
    chip = np.random.default_rng(0).integers(0, 256, (1, 150, 150, 3), dtype=np.uint8)
    save_backbone(random_backbone("dlib-resnet34", seed=2), path, untrained=True)
    second = resolve_backbone(str(path), compiled=True, allow_untrained=True)
    assert first.sha256 != second.sha256
    assert np.linalg.norm(first.embed(chip) - second.embed(chip)) > 1e-3
    assert len(list(graphs.glob("backbone-*.onnx"))) == 2


def test_torch_runtime_on_request(monkeypatch):
    from faceunlock.mtcnn import MTCNN

    monkeypatch.setenv(runtime.RUNTIME_ENV, "torch")
    assert isinstance(MTCNN().pnet, runtime.TorchGraph)
    assert resolve_backbone("dlib-resnet34", compiled=True).net is not None


def test_an_unlock_never_imports_torch():
    """A fresh process builds the unlock engine and runs real frames through detection, the network and the photo
    check — all without importing torch (its ~300 MiB and ~1–2 s are what decision 023 saves)."""
    from faceunlock.auth import Engine

    Engine.load("dlib-resnet34")  # make sure the shared graph folder has the six graphs (exports import torch)
    code = f"""
import json, sys
from faceunlock.auth import Engine
from faceunlock.capture import open_source
engine = Engine.load("dlib-resnet34")
done = live = 0
with open_source({str(need("liveness", "webcam-replay", "real.mov"))!r}) as src:
    for i, frame in zip(range(140), src):
        if i < 100:
            continue
        r = engine.processor.analyze(frame)
        if r.usable:
            engine.backbone.embed(r.chip[None])
            live += engine.liveness.score(frame, r.face) >= 0.5
            done += 1
print(json.dumps({{"torch": "torch" in sys.modules, "embedded": done, "live": int(live)}}))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["embedded"] >= 5 and result["live"] >= 1
    assert result["torch"] is False


def test_the_first_unlock_exports_in_a_child_and_never_imports_torch(tmp_path):
    """An empty graph folder (first start, a cleared cache): Engine.load has a child process export the six graphs,
    then reads them — the unlocking process itself still never imports torch, so its memory stays small."""
    folder = tmp_path / "fresh-graphs"
    code = """
import json, sys
from pathlib import Path
from faceunlock.auth import Engine
Engine.load("dlib-resnet34")
hwm = next(int(l.split()[1]) for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmHWM"))
print(json.dumps({"torch": "torch" in sys.modules, "peak_mib": hwm // 1024}))
"""
    env = dict(os.environ, **{runtime.GRAPHS_ENV: str(folder)})
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["torch"] is False and result["peak_mib"] < 400  # importing torch alone takes ~500 MiB here
    assert len(list(folder.glob("*.onnx"))) == 6


def test_a_graph_that_cannot_be_written_still_runs(graphs, monkeypatch):
    """A full disk (or a read-only cache) on the first start: the export runs from memory; nothing is left behind
    half-written, and the next start exports again."""
    import errno

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(runtime, "write_atomic", full)
    g = runtime.compiled("tiny", "e" * 64, lambda: _tiny(5))
    assert g.metadata["note"] == "seed 5" and g(np.zeros((1, 3, 8, 8), np.float32))[0].shape == (1, 4, 6, 6)
    assert not list(graphs.iterdir())


@pytest.mark.parametrize("name", ["pnet", "rnet", "onet"])
def test_prelu_is_exported_as_faster_ops_with_the_same_values(name):
    """ONNX Runtime's PRelu kernel was 41–49 % of R-Net's and O-Net's time; the export writes max(x, w·x) where
    every slope is ≤ 1 and relu(x) − w·relu(−x) elsewhere, which must give the same values bit for bit — also
    for the layers with a slope above 1 — and must leave the caller's module untouched."""
    from faceunlock import mtcnn_nets

    net = mtcnn_nets.load(name)
    rewritten = runtime._relu_prelus(net)
    assert not any(isinstance(m, torch.nn.PReLU) for m in rewritten.modules())
    prelus = [m for m in net.modules() if isinstance(m, torch.nn.PReLU)]
    assert len(prelus) == {"pnet": 3, "rnet": 4, "onet": 5}[name]
    forms = [type(m).__name__ for m in rewritten.modules() if hasattr(m, "weight") and type(m).__name__.endswith("PReLU")]
    slopes = [p.weight.detach() for p in prelus]
    assert forms == ["MaxPReLU" if bool((w <= 1).all() and (w != 0).all()) else "ReluPReLU" for w in slopes]
    assert "MaxPReLU" in forms
    side = {"pnet": 40, "rnet": 24, "onet": 48}[name]
    x = torch.from_numpy(np.random.default_rng(1).standard_normal((7, 3, side, side)).astype(np.float32) * 3)
    with torch.no_grad():
        for a, b in zip(net(x), rewritten(x), strict=True):
            assert torch.equal(a, b)
