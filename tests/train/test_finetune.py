"""End-to-end fine-tunes on real faces (ORL): output folder, resume after a kill, DDP on gloo, clear errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from faceunlock import calibrate, weights
from faceunlock.cli.fine_tune import main as fine_tune_main
from faceunlock.errors import FaceUnlockError, WeightsError
from faceunlock.facesets import DetectionCache, load_chips, scan_identities
from faceunlock.train import checkpoint, dataset
from faceunlock.train.config import FineTuneConfig
from faceunlock.train.finetune import Run, fine_tune_folders
from tests.shared_data import need
from tests.train.conftest import cli, make_people, subprocess_env

TINY = [
    "--base",
    "random",
    "--arch",
    "dlib-resnet34",
    "--no-progress",
    "--people-per-batch",
    "3",
    "--images-per-person",
    "3",
]


def heldout_auc(out: Path, report: dict, data: Path) -> float:
    """Re-measure held-out AUC with the published weights file, independently of the training process."""
    bb = weights.resolve_backbone(str(out), allow_untrained=True)
    people = scan_identities(data)
    files = [f for name in report["data"]["val_identities"] for f in people[name]]
    chips, kept, _ = load_chips(files, bb, cache=DetectionCache())
    labels = np.array([report["data"]["val_identities"].index(p.parent.name) for p in kept])
    g, i = calibrate.all_pair_distances(bb.embed(chips), labels)
    return calibrate.auc(g, i)


def test_real_data_head_only_run_writes_a_complete_out_folder(train_home: Path, tmp_path: Path) -> None:
    data = make_people(tmp_path / "data", need("orl"), {f"s{i}": 6 for i in range(1, 7)})
    Image.new("RGB", (120, 120), (128, 128, 128)).save(data / "s1" / "blank.png")  # decodes, holds no face
    (data / "s1" / "broken.jpg").write_bytes(b"not a jpeg")
    out = tmp_path / "out"

    code = fine_tune_main([str(data), "--out", str(out), "--base", "random", "--arch", "inception", "--seed", "3",
                           "--epochs", "2", "--no-progress"])  # fmt: skip
    assert code == 0
    for name in ("weights.pt", "calibration.json", "report.json", "roc.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    rep = json.loads((out / "report.json").read_text())
    assert [h["epoch"] for h in rep["history"]] == [0, 1, 2]
    assert rep["base"]["untrained"] is True and rep["training"]["world_size"] == 1
    skipped = {Path(p).name for p, _ in rep["data"]["skipped_files"]}
    assert skipped == {"blank.png", "broken.jpg"}
    assert len(rep["data"]["val_identities"]) == 2 and rep["data"]["train"]["identities"] == 4
    for key in ("auc", "eer", "tar", "threshold", "tp", "fn", "fp", "tn"):
        assert key in rep["before"] and key in rep["after"]
    after = rep["after"]
    assert after["tp"] + after["fn"] == after["n_genuine"] == 2 * 15
    assert after["fp"] + after["tn"] == after["n_impostor"] == 36

    # The output was fine-tuned from random weights: refused for authentication unless explicitly allowed.
    with pytest.raises(WeightsError, match="untrained"):
        weights.resolve_backbone(str(out))
    bb = weights.resolve_backbone(str(out), allow_untrained=True)
    assert bb.sha256 == rep["sha256"] and bb.arch == "inception"
    cal = calibrate.find_calibration(bb)
    assert cal.sha256 == bb.sha256 and cal.threshold == pytest.approx(after["threshold"])
    assert heldout_auc(out, rep, data) == pytest.approx(after["auc"], abs=1e-6)


def read_epoch(out: Path) -> int:
    try:
        return int(torch.load(out / "train_state" / "last.pt", weights_only=True)["epoch"])
    except Exception:  # not written yet (or being replaced)
        return -1


def test_sigkill_mid_run_then_resume_finishes(orl6: Path, tmp_path: Path, train_home: Path) -> None:
    out = tmp_path / "out"
    args = [str(orl6), "--out", str(out), *TINY, "--train-layers", "all", "--epochs", "4",
            "--max-steps-per-epoch", "2", "--patience", "9"]  # fmt: skip
    proc = subprocess.Popen(cli(*args), env=subprocess_env(train_home), stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while read_epoch(out) < 1:
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "report.json").exists()  # it really died before finishing
    assert read_epoch(out) < 4
    assert fine_tune_main(args) == 2  # a second run must not silently overwrite the first

    assert fine_tune_main([*args, "--resume"]) == 0
    rep = json.loads((out / "report.json").read_text())
    assert [h["epoch"] for h in rep["history"]] == [0, 1, 2, 3, 4]
    bb = weights.resolve_backbone(str(out), allow_untrained=True)
    assert calibrate.find_calibration(bb).sha256 == bb.sha256 == rep["sha256"]
    assert sorted(p.name for p in (out / "train_state").glob("weights-e*.pt")) == [
        f"weights-e{rep['best_epoch']}.pt"
    ]


def config(data: Path, out: Path, **kw) -> FineTuneConfig:
    base = dict(base="random", arch="dlib-resnet34", p=3, k=3, epochs=3, patience=9, progress=False, seed=1)
    return FineTuneConfig(data=data, out=out, **{**base, **kw})


def test_injected_crash_then_resume_equals_an_uninterrupted_run(orl6: Path, tmp_path: Path) -> None:
    ref = fine_tune_folders(config(orl6, tmp_path / "ref"))

    def crash(epoch: int, step: int) -> None:
        if epoch == 2 and step == 1:
            raise RuntimeError("injected crash")

    with pytest.raises(RuntimeError, match="injected"):
        fine_tune_folders(config(orl6, tmp_path / "b"), hook=crash)
    assert checkpoint.load_state(tmp_path / "b")["epoch"] == 1
    got = fine_tune_folders(config(orl6, tmp_path / "b", resume=True))
    assert [h["loss"] for h in got["history"]] == [h["loss"] for h in ref["history"]]
    assert got["after"] == ref["after"] and got["best_epoch"] == ref["best_epoch"]
    a = torch.load(tmp_path / "ref" / "weights.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "b" / "weights.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_ddp_two_processes_on_gloo(orl6: Path, tmp_path: Path, train_home: Path) -> None:
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "faceunlock.cli.fine_tune", str(orl6), "--out", str(out), *TINY, "--train-layers", "block8",
           "--device", "cpu", "--epochs", "2", "--json"]  # fmt: skip
    r = subprocess.run(cmd, env=subprocess_env(train_home), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    rep = json.loads((out / "report.json").read_text())
    assert rep["training"]["world_size"] == 2
    # 4 training people × 6 photos, 3×3 batches: 3 batches in the epoch list → truncated to 2, one per rank
    assert rep["training"]["steps_per_epoch"] == 1
    assert [h["epoch"] for h in rep["history"]] == [0, 1, 2]
    bb = weights.resolve_backbone(str(out), allow_untrained=True)
    assert calibrate.find_calibration(bb).sha256 == bb.sha256


def test_out_of_memory_becomes_a_hint_with_a_smaller_batch(orl6: Path, tmp_path: Path, monkeypatch) -> None:
    def oom(self, *a, **k):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(Run, "train_epoch", oom)
    with pytest.raises(FaceUnlockError, match=r"--people-per-batch 2 --images-per-person 3"):
        fine_tune_folders(config(orl6, tmp_path / "out", p=4))


def test_clear_errors(orl6: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def run(*args: str) -> str:
        assert fine_tune_main([*args, "--out", str(tmp_path / "o"), *TINY]) == 2
        return capsys.readouterr().err

    one = make_people(tmp_path / "one", orl6, {})
    (one / "s1").symlink_to(orl6 / "s1")
    assert "at least 2" in run(str(one))
    assert "not a folder" in run(str(tmp_path / "missing"))
    if not torch.cuda.is_available():
        assert "CUDA is not available" in run(str(orl6), "--device", "cuda")
    untrained = tmp_path / "untrained.pt"  # --base random must be asked for by name, never slip in as a file
    weights.save_backbone(weights.random_backbone("dlib-resnet34"), untrained)
    assert (
        fine_tune_main([str(orl6), "--out", str(tmp_path / "u"), "--base", str(untrained), "--no-progress"])
        == 2
    )
    assert "untrained" in capsys.readouterr().err


def test_person_with_one_usable_photo_is_a_negative_with_a_warning(orl6: Path, tmp_path: Path) -> None:
    data = make_people(tmp_path / "data", orl6, {"s1": 3, "s2": 3, "s3": 1})
    bb = weights.random_backbone("dlib-resnet34")
    fs = dataset.load_faceset(data, bb, DetectionCache())
    assert fs.negative_only.tolist() == [False] * 6 + [True]
    assert len(fs.warnings) == 1 and "s3" in fs.warnings[0] and "negative" in fs.warnings[0]
    neg = dataset.load_faceset(data, bb, DetectionCache(), negatives=True)
    assert neg.negative_only.all() and not neg.warnings
