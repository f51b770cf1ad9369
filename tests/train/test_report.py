"""train.report: held-out metrics, calibration, ROC, table, verdict and report.json on real face descriptors.

The descriptors are dlib's own for 79 real lfw-dev chips (39 people twice, one once: ../shared/data/dlib-reference),
so every number below is what a fine-tune's held-out evaluation would see for that model.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from faceunlock import atomic, calibrate
from faceunlock.embed import pairwise_distances
from faceunlock.train import report
from tests.shared_data import need

TARGET = 1e-2


@pytest.fixture(scope="module")
def real() -> tuple[np.ndarray, np.ndarray]:
    emb = np.load(need("dlib-reference", "descriptors.npy"))
    names = [f.split("/")[0] for f in need("dlib-reference", "files.txt").read_text().split()]
    index = {n: i for i, n in enumerate(sorted(set(names)))}
    return emb, np.array([index[n] for n in names])


@pytest.fixture(scope="module")
def evaluated(real):
    return report.evaluate(*real, TARGET)


@pytest.fixture(scope="module")
def worse(real):
    """The same faces through a 'worse model': descriptors blurred by noise of the size of their spread."""
    emb, labels = real
    noisy = emb + np.random.default_rng(0).normal(0, 0.08, emb.shape).astype(np.float32)
    return report.evaluate(noisy, labels, TARGET)


def test_evaluate_counts_every_pair_once(real, evaluated):
    emb, labels = real
    m, g, i = evaluated
    n = len(labels)
    counts = np.bincount(labels)
    n_gen = int((counts * (counts - 1) // 2).sum())
    assert (m["n_genuine"], m["n_impostor"]) == (n_gen, n * (n - 1) // 2 - n_gen) == (len(g), len(i))
    assert n_gen == 39
    assert (np.diff(g) >= 0).all() and (np.diff(i) >= 0).all()
    # the same distances as computing them directly
    d = pairwise_distances(emb, emb)
    iu = np.triu_indices(n, 1)
    same = (labels[:, None] == labels[None, :])[iu]
    np.testing.assert_allclose(g, np.sort(d[iu][same]), atol=1e-5)
    np.testing.assert_allclose(i, np.sort(d[iu][~same]), atol=1e-5)


def test_evaluate_confusion_counts_at_the_threshold(evaluated):
    m, g, i = evaluated
    t = m["threshold"]
    assert m["tp"] == int((g <= t).sum()) and m["fn"] == int((g > t).sum())
    assert m["fp"] == int((i <= t).sum()) and m["tn"] == int((i > t).sum())
    assert m["fp"] <= math.floor(TARGET * m["n_impostor"])  # the threshold honours the target
    assert m["far"] == pytest.approx(m["fp"] / m["n_impostor"])
    assert m["tar"] == pytest.approx(m["tp"] / m["n_genuine"])
    assert m["tar_lower_95"] <= m["tar"] and m["far_upper_95"] >= m["far"]
    assert m["far_resolvable"] is True  # 1e-2 × ~3,000 impostors ≥ 3 expected errors
    # a good model on real faces: well separated, genuine pairs nearer than impostor pairs
    assert m["auc"] > 0.98 and m["eer"] < 0.1 and m["tar"] > 0.8
    assert m["genuine_median"] < 0.6 < m["impostor_median"]
    assert m["genuine_median"] == pytest.approx(float(np.median(g)))


def test_evaluate_refuses_a_set_without_pairs(real):
    emb, labels = real
    one_each = np.unique(labels, return_index=True)[1]
    with pytest.raises(ValueError, match="at least 2 people"):
        report.evaluate(emb[one_each], labels[one_each], TARGET)  # no genuine pairs
    first = labels == labels[0]
    with pytest.raises(ValueError, match="at least 2 people"):
        report.evaluate(emb[first], labels[first], TARGET)  # one person: no impostor pairs


def test_score_is_higher_for_the_better_model(evaluated, worse):
    m, worse = evaluated[0], worse[0]
    assert worse["auc"] < m["auc"] and worse["eer"] > m["eer"]
    for monitor in ("auc", "eer"):
        assert report.score(m, monitor) > report.score(worse, monitor), monitor
    assert report.score(m, "eer") == -m["eer"] and report.score(m, "tar") == m["tar"]
    with pytest.raises(ValueError, match="monitor"):
        report.score(m, "loss")


def test_calibration_is_bound_to_the_weights_and_round_trips(evaluated, tmp_path):
    m, g, i = evaluated
    sha = "ab" * 32
    cal = report.calibration(g, i, "dlib-resnet34", "dlib-resnet34", sha, TARGET, "lfw-dev held-out",
                             notes={"best_epoch": 3})  # fmt: skip
    assert (cal.sha256, cal.backbone, cal.arch) == (sha, "dlib-resnet34", "dlib-resnet34")
    assert (cal.target_far, cal.dataset) == (TARGET, "lfw-dev held-out")
    assert cal.threshold == m["threshold"] and cal.tar == m["tar"] and cal.far == m["far"]
    assert (cal.n_genuine, cal.n_impostor) == (m["n_genuine"], m["n_impostor"])
    assert cal.auc == pytest.approx(m["auc"]) and cal.notes == {"best_epoch": 3}
    cal.save(tmp_path / "calibration.json")
    back = calibrate.Calibration.load(tmp_path / "calibration.json")
    assert back.threshold == cal.threshold and back.sha256 == sha
    back.check_for(type("Model", (), {"sha256": sha, "name": "x"})())
    with pytest.raises(calibrate.CalibrationError):
        back.check_for(type("Model", (), {"sha256": "cd" * 32, "name": "other"})())


@pytest.mark.parametrize("which", ["evaluated", "worse"])
def test_roc_curve_is_monotone_json_ready_and_agrees_with_the_metrics(which, request):
    m, g, i = request.getfixturevalue(which)
    far, tar = report.roc_curve(g, i)
    assert len(far) == len(tar) > 50
    assert all(type(x) is float for x in far + tar)
    assert far[0] == 0.0 and far[-1] == 1.0
    assert all(b > a for a, b in zip(far, far[1:], strict=False))
    assert all(b >= a for a, b in zip(tar, tar[1:], strict=False))
    assert all(0.0 <= t <= 1.0 for t in tar)
    # the curve passes through the operating point evaluate() reported at the target FAR
    k = int(np.argmin(np.abs(np.asarray(far) - TARGET)))
    assert abs(far[k] - TARGET) < 1e-3
    assert tar[k] == pytest.approx(m["tar"], abs=0.03)
    json.dumps([far, tar])


def test_table_has_every_row_with_before_and_after_values(evaluated, worse):
    m, worse = evaluated[0], worse[0]
    text = report.table(worse, m)
    lines = text.splitlines()
    assert len(lines) == 2 + len(report.ROWS)
    assert f"{m['n_genuine']} genuine / {m['n_impostor']} impostor pairs" in lines[0] and "0.01" in lines[0]
    assert "before" in lines[1] and "after" in lines[1]
    auc_line = next(line for line in lines if line.startswith("ROC AUC"))
    assert auc_line.split()[-2:] == [f"{worse['auc']:.4f}", f"{m['auc']:.4f}"]
    tp_line = next(line for line in lines if line.startswith("TP / FN"))
    assert tp_line.endswith(f"{m['tp']} / {m['fn']}")
    assert f"{worse['tp']} / {worse['fn']}" in tp_line


def _history(fraction_active: float, tar: float) -> list[dict]:
    return [
        {"epoch": 0, "loss": None, "metrics": {"tar": 0.5}},
        {"epoch": 1, "loss": 0.2, "fraction_active": 0.6, "metrics": {"tar": 0.55}},
        {"epoch": 2, "loss": 0.01, "fraction_active": fraction_active, "metrics": {"tar": tar}},
    ]


def test_verdict_says_the_base_was_kept_when_no_epoch_beat_it(evaluated):
    base = evaluated[0]
    out = report.verdict(base, base, 0, _history(0.5, base["tar"]), "auc")
    assert len(out) == 1
    assert "no epoch beat the base model" in out[0] and "base weights" in out[0]
    assert f"{base['auc']:.4f}" in out[0] and "auc" in out[0]


def test_verdict_is_silent_when_an_epoch_improved(evaluated, worse):
    base, best = worse[0], evaluated[0]
    assert report.verdict(base, best, 2, _history(0.5, best["tar"]), "auc") == []
    assert report.verdict(base, best, 2, [], "eer") == []


def test_verdict_flags_memorisation(evaluated):
    base = evaluated[0]
    out = report.verdict(base, base, 2, _history(0.01, base["tar"] - 0.1), "tar")
    assert len(out) == 1 and "memorised" in out[0] and "1.0%" in out[0]
    # still learning on held-out: no warning, however small the loss
    assert report.verdict(base, base, 2, _history(0.01, base["tar"] + 0.1), "tar") == []
    both = report.verdict(base, base, 0, _history(0.0, base["tar"]), "tar")
    assert len(both) == 2


def _strict_loads(text: str):
    def refuse(token: str):
        raise ValueError(f"non-standard JSON constant {token}")

    return json.loads(text, parse_constant=refuse)


def test_write_json_is_valid_json_with_nan_and_numpy_cleaned(evaluated, tmp_path):
    m = evaluated[0]
    path = tmp_path / "out" / "report.json"
    data = {
        "after": m, "nan": float("nan"), "inf": -math.inf, "np_nan": np.float32("nan"),
        "np": [np.int64(3), np.float64(0.25), np.bool_(True)], "tuple": (1, 2), "path": Path("/x/y"),
        "nested": {1: {"deep": [float("inf"), {"v": np.float64("nan")}]}},
    }  # fmt: skip
    report.write_json(path, data)
    back = _strict_loads(path.read_text())
    assert back["nan"] is None and back["inf"] is None and back["np_nan"] is None
    assert back["np"] == [3, 0.25, True] and back["tuple"] == [1, 2] and back["path"] == "/x/y"
    assert back["nested"] == {"1": {"deep": [None, {"v": None}]}}
    assert back["after"]["auc"] == pytest.approx(m["auc"]) and back["after"]["tp"] == m["tp"]
    assert path.read_text().endswith("\n")
    assert os.stat(path).st_mode & 0o777 == 0o644
    assert sorted(p.name for p in path.parent.iterdir()) == ["report.json"]  # no temp file left behind


def test_write_json_replaces_atomically(evaluated, tmp_path, monkeypatch):
    path = tmp_path / "report.json"
    report.write_json(path, {"run": 1})
    assert _strict_loads(path.read_text()) == {"run": 1}
    report.write_json(path, {"run": 2, "auc": evaluated[0]["auc"]})
    assert _strict_loads(path.read_text())["run"] == 2

    def crash(*args, **kwargs):
        raise OSError("disk gone")

    monkeypatch.setattr(atomic.os, "replace", crash)
    with pytest.raises(OSError, match="disk gone"):
        report.write_json(path, {"run": 3})
    assert _strict_loads(path.read_text())["run"] == 2  # the old report is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]
