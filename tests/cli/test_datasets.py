"""Real-data figures through the whole pipeline (MTCNN → alignment → the bundled dlib ResNet-34).

One FACEUNLOCK_HOME for the module so the detection cache is shared: `align` detects lfw-dev once and
`evaluate` reuses it. The numbers printed here are the ones quoted in README.md.
"""

from __future__ import annotations

import pytest

from tests.cli.helpers import faceunlock
from tests.shared_data import DATA, need

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("datasets-home")


@pytest.mark.timeout(2400)
def test_alignment_succeeds_on_99_percent_of_lfw_dev(home, tmp_path):
    r = faceunlock("align", need("lfw-dev"), tmp_path / "aligned", "--json", home=home)
    assert r.rc == 0, r.err
    rep = r.json()
    print(f"\nlfw-dev alignment: {rep['aligned']}/{rep['images']} = {100 * rep['success_rate']:.2f} %")
    assert rep["images"] == 6836
    assert rep["success_rate"] >= 0.99
    assert len(list((tmp_path / "aligned").glob("*/*.png"))) == rep["aligned"]
    # a second run keeps what is there (no silent overwrite) and detects nothing new (cache)
    r2 = faceunlock("align", need("lfw-dev"), tmp_path / "aligned", "--json", home=home)
    assert r2.json()["written"] == 0 and r2.json()["already_present"] == rep["aligned"]


def test_lfw_dev_pairs_10_fold_accuracy(home):
    r = faceunlock("evaluate", "--pairs", need("lfw-dev-pairs.tsv"), "--root", DATA / "lfw-dev", "--json", home=home)
    assert r.rc == 0, r.err
    res = r.json()
    k = res["kfold"]
    print(f"\nlfw-dev-pairs: 10-fold {k['accuracy']:.4f} ± {k['std']:.4f}, AUC {res['auc']:.5f}, "
          f"pairs scored {res['pairs_scored']}/{res['pairs_total']}, at calibrated threshold {res['at_calibrated_threshold']}")  # fmt: skip
    assert res["pairs_scored"] >= 0.99 * 6000
    assert k["accuracy"] >= 0.98
    c = res["at_calibrated_threshold"]
    assert c["fp"] <= 3  # calibrated for FAR 1e-4 on all impostor pairs: ~0.3 expected among 3000


def test_official_lfw_pairs_format(home):
    r = faceunlock("evaluate", "--pairs", need("lfw-pairs-official.txt"), "--root", DATA / "lfw-dev", "--json",
                   home=home)  # fmt: skip
    assert r.rc == 0, r.err
    res = r.json()
    assert res["pairs_total"] + res["pairs_missing_images"] > 0
    assert res["kfold"]["folds"] == 10
    print(f"\nofficial pairs present in lfw-dev: {res['pairs_scored']}, 10-fold {res['kfold']['accuracy']:.4f}")


@pytest.mark.parametrize(("header", "name"), [("1 50", "pairs-one-fold.txt"), ("50", "pairsDevTest.txt")])
def test_single_fold_and_view1_pairs_files(home, tmp_path, header, name):
    """A one-fold pairs.txt (header `1 50`) is scored with one threshold sweep, and says so; a View 1 file
    (header `50`, no folds) is read and split into random folds like our TSV."""
    lines = need("lfw-pairs-official.txt").read_text().splitlines()
    (tmp_path / name).write_text("\n".join([header, *lines[1:51], *lines[301:351]]) + "\n")
    r = faceunlock("evaluate", "--pairs", tmp_path / name, "--root", DATA / "lfw-dev", "--json", home=home)
    assert r.rc == 0, r.err
    k = r.json()["kfold"]
    if header == "1 50":
        assert k["folds"] == 1 and "single fold" in k["note"]
    else:
        assert k["folds"] == 10 and "note" not in k
    assert 0.8 <= k["accuracy"] <= 1.0


@pytest.mark.parametrize("dataset", ["orl", "yale"])
def test_greyscale_datasets_same_and_different(home, tmp_path, dataset):
    r = faceunlock("calibrate", need(dataset), "--weights", "dlib-resnet34", "--target-far", "1e-3",
                   "--out", tmp_path / "cal.json", "--json", home=home)  # fmt: skip
    assert r.rc == 0, r.err
    c = r.json()
    print(f"\n{dataset}: {c['notes']['images']} faces / {c['notes']['identities']} people, AUC {c['auc']:.4f}, "
          f"EER {c['eer']:.4f}, TAR {c['tar']:.4f} at FAR {c['far']:.1e}, skipped {c['notes']['skipped_files']}")  # fmt: skip
    assert c["notes"]["identities"] == {"orl": 40, "yale": 15}[dataset]
    assert c["auc"] >= 0.97


def test_calibrate_on_two_populations_keeps_the_target_on_each(home, tmp_path):
    r = faceunlock("calibrate", need("orl"), need("yale"), "--weights", "dlib-resnet34", "--target-far", "1e-3",
                   "--out", tmp_path / "cal.json", "--json", home=home)  # fmt: skip
    assert r.rc == 0, r.err
    c = r.json()
    rows = {r["population"].rsplit("/", 1)[-1]: r for r in c["notes"]["populations"]}
    assert set(rows) == {"orl", "yale"}
    assert c["threshold"] == min(r["own_threshold"] for r in rows.values())
    assert all(r["far"] <= 1e-3 for r in rows.values())
    assert set(c["notes"]["datasets"]) == {str(need("orl")), str(need("yale"))}
    print("\n" + "; ".join(f"{k}: own {v['own_threshold']:.4f}, FAR {v['far']:.1e}, TAR {v['tar']:.3f}"
                            for k, v in rows.items()) + f" → threshold {c['threshold']:.4f}")  # fmt: skip


def test_attempt_level_rates_on_orl(home):
    r = faceunlock("evaluate", "--attempts", need("orl"), "--weights", "dlib-resnet34", "--json", home=home)
    assert r.rc == 0, r.err
    res = r.json()
    a, s = res["attempts"], res["settings"]
    assert (a["genuine"], a["impostor"]) == (40, 40 * 39)  # 10 photos each: 4 enrol, 5 probe
    assert 0 <= a["frr"] <= 0.1 and a["far"] <= a["far_upper_95"] <= 0.01
    assert (s["enrol"], s["probe"], s["required"], s["window"]) == (4, 5, 3, 5)
    assert "off" in s["liveness"] and "off" in s["tracking"]
    print(f"\nORL attempts: FRR {a['frr']:.2%}, FAR {a['far']:.1e} (≤ {a['far_upper_95']:.1e})")
