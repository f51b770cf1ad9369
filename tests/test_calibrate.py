"""calibrate: statistics checked against independent computations, and the calibration file bound to a model."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from faceunlock import calibrate as cal
from faceunlock.calibrate import Calibration
from faceunlock.errors import CalibrationError


@dataclass
class ModelRef:
    """What calibration needs to know of a model (a Backbone has these attributes); no network needed."""

    name: str
    sha256: str
    weights_path: Path | None = None
    arch: str = "dlib-resnet34"


SHA_A = "a" * 64
SHA_B = "b" * 64


def _calibration(sha: str = SHA_A, threshold: float = 0.42, **kw) -> Calibration:
    fields = dict(backbone="dlib-resnet34", arch="dlib-resnet34", sha256=sha, threshold=threshold, target_far=1e-3,
                  far=0.0009, far_upper_95=0.0016, tar=0.97, tar_lower_95=0.965, n_genuine=3000, n_impostor=50000,
                  dataset="lfw-dev", auc=0.995, eer=0.02)  # fmt: skip
    fields.update(kw)
    return Calibration(**fields)


def _binom_cdf(k: int, n: int, p: float) -> float:
    """P(X ≤ k), X ~ Binomial(n, p), summed directly with exact binomial coefficients (independent of the module)."""
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))


# -- confidence bounds ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [300, 3000, 100_000])
def test_zero_errors_rule_of_three(n):
    ub = cal.upper_bound(0, n)
    assert ub * n == pytest.approx(3.0, rel=0.01)  # −ln 0.05 = 2.996
    assert (1 - ub) ** n == pytest.approx(0.05, rel=1e-9)


@pytest.mark.parametrize(("k", "n"), [(1, 10), (5, 100), (3, 3000), (20, 1000), (50, 60)])
def test_clopper_pearson_upper_bound_matches_binomial(k, n):
    ub = cal.upper_bound(k, n)
    assert k / n < ub < 1
    assert _binom_cdf(k, n, ub) == pytest.approx(0.05, abs=1e-6)
    assert _binom_cdf(k, n, ub * 0.99) > 0.05  # any smaller bound would not cover 95 %


def test_clopper_pearson_known_value():
    assert cal.upper_bound(1, 10) == pytest.approx(0.3942, abs=1e-4)  # tabulated one-sided 95 % bound


def test_bounds_edges_and_mirror():
    assert cal.upper_bound(0, 0) == 1.0 and cal.upper_bound(10, 10) == 1.0
    assert cal.lower_bound(0, 0) == 0.0
    assert cal.lower_bound(97, 100) == pytest.approx(1 - cal.upper_bound(3, 100))
    assert cal.lower_bound(100, 100) == pytest.approx(0.05 ** (1 / 100))
    assert cal.upper_bound(0, 100, confidence=0.99) > cal.upper_bound(0, 100)


# -- thresholds ---------------------------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(
    imp=hnp.arrays(np.float64, st.integers(1, 200), elements=st.floats(0, 4, allow_nan=False)),
    target=st.floats(0, 1),
    f32=st.booleans(),
)
def test_threshold_never_admits_more_than_the_target(imp, target, f32):
    imp = np.sort(imp.astype(np.float32) if f32 else imp)
    allowed = math.floor(target * len(imp))
    if allowed < len(imp) and np.nextafter(imp[allowed], -np.inf) <= 0:  # duplicates: refused, not a 0 threshold
        with pytest.raises(CalibrationError, match="distance 0"):
            cal.threshold_for_far(imp, target)
        return
    t = cal.threshold_for_far(imp, target)
    admitted = int((imp <= t).sum())
    assert admitted <= allowed
    _, far = cal.rates_at(t, imp, imp)
    assert far <= target + 1e-12
    if allowed < len(imp):  # and it is the largest such threshold: the next impostor is right above it
        assert imp[allowed] > t
        assert np.nextafter(np.asarray(t, imp.dtype), np.inf) >= imp[allowed]


def test_threshold_needs_impostors():
    with pytest.raises(CalibrationError):
        cal.threshold_for_far(np.array([]), 0.01)


def test_rates_at():
    g, i = np.array([0.1, 0.2, 0.3, 0.9]), np.array([0.25, 0.5, 0.6, 0.7, 0.8])
    assert cal.rates_at(0.3, g, i) == (0.75, 0.2)
    assert cal.rates_at(0.0, g, i) == (0.0, 0.0)
    assert cal.rates_at(1.0, g, i) == (1.0, 1.0)


# -- AUC, EER, k-fold -------------------------------------------------------------------------------------------
def test_auc_extremes_and_chance():
    g, i = np.sort(np.linspace(0, 1, 50)), np.sort(np.linspace(2, 3, 70))
    assert cal.auc(g, i) == 1.0
    assert cal.auc(i, g) == 0.0
    same = np.full(10, 0.5)
    assert cal.auc(same, same) == 0.5
    rng = np.random.default_rng(0)
    assert cal.auc(np.sort(rng.normal(1, 0.2, 4000)), np.sort(rng.normal(1, 0.2, 4000))) == pytest.approx(
        0.5, abs=0.02
    )
    assert math.isnan(cal.auc(np.array([]), i))


@settings(max_examples=100, deadline=None)
@given(
    g=hnp.arrays(np.float64, st.integers(1, 40), elements=st.integers(0, 10).map(float)),
    i=hnp.arrays(np.float64, st.integers(1, 40), elements=st.integers(0, 10).map(float)),
)
def test_auc_equals_pairwise_count(g, i):
    g, i = np.sort(g), np.sort(i)
    brute = ((g[:, None] < i[None, :]).sum() + 0.5 * (g[:, None] == i[None, :]).sum()) / (len(g) * len(i))
    assert cal.auc(g, i) == pytest.approx(brute)


def test_eer():
    rng = np.random.default_rng(1)
    g, i = np.sort(rng.uniform(0, 1, 500)), np.sort(rng.uniform(2, 3, 500))
    e, t = cal.eer(g, i)
    assert e == 0.0 and g[-1] <= t < i[0]
    # two unit Gaussians 2σ apart: EER = Φ(−1) = 0.1587 at the midpoint
    g, i = np.sort(rng.normal(0, 1, 20000)), np.sort(rng.normal(2, 1, 20000))
    e, t = cal.eer(g, i)
    assert e == pytest.approx(0.1587, abs=0.01)
    assert t == pytest.approx(1.0, abs=0.05)
    same = np.sort(rng.normal(0, 1, 5000))
    assert cal.eer(same, np.sort(rng.normal(0, 1, 5000)))[0] == pytest.approx(0.5, abs=0.03)


def _separable(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    d = np.concatenate([rng.uniform(0, 1, 300), rng.uniform(2, 3, 300)])
    return d, np.r_[np.ones(300, bool), np.zeros(300, bool)]


def test_kfold_accuracy_separable_is_perfect():
    d, s = _separable()
    r = cal.kfold_accuracy(d, s)
    assert r["accuracy"] == 1.0


def test_kfold_accuracy_separable_and_gaussian():
    d, s = _separable()
    r = cal.kfold_accuracy(d, s)
    assert r["folds"] == 10 and r["accuracy"] == 1.0
    assert 0.9 <= r["threshold_mean"] < 2
    # overlapping unit Gaussians 2σ apart: best accuracy Φ(1) = 0.841
    rng = np.random.default_rng(2)
    d = np.concatenate([rng.normal(0, 1, 2000), rng.normal(2, 1, 2000)])
    s = np.r_[np.ones(2000, bool), np.zeros(2000, bool)]
    r = cal.kfold_accuracy(d, s)
    assert r["accuracy"] == pytest.approx(0.841, abs=0.02)
    assert r["threshold_mean"] == pytest.approx(1.0, abs=0.15)
    # given folds are honoured
    r = cal.kfold_accuracy(d, s, fold_ids=np.arange(len(d)) % 4)
    assert r["folds"] == 4


def test_kfold_single_fold_sweeps_once_and_says_so():
    """A pairs.txt with one fold has no training split: one sweep over all pairs, flagged as optimistic."""
    rng = np.random.default_rng(2)
    d = np.concatenate([rng.normal(0, 1, 2000), rng.normal(2, 1, 2000)])
    s = np.r_[np.ones(2000, bool), np.zeros(2000, bool)]
    r = cal.kfold_accuracy(d, s, fold_ids=np.zeros(len(d), int))
    assert r["folds"] == 1 and "single fold" in r["note"]
    assert r["accuracy"] == pytest.approx(0.841, abs=0.02)
    assert r["threshold_mean"] == pytest.approx(1.0, abs=0.15)


def test_tar_at_far_and_summary():
    rng = np.random.default_rng(3)
    g, i = np.sort(rng.normal(0.4, 0.1, 3000)), np.sort(rng.normal(1.0, 0.1, 30000))
    r = cal.tar_at_far(g, i, 1e-3)
    assert r["far"] <= 1e-3 and r["false_accepts"] <= 30 and r["resolvable"]
    assert r["tar"] > 0.9 and r["tar_lower_95"] < r["tar"] and r["far_upper_95"] > r["far"]
    assert not cal.tar_at_far(g, i, 1e-5)["resolvable"]
    d = np.concatenate([g, i])
    s = np.r_[np.ones(len(g), bool), np.zeros(len(i), bool)]
    summ = cal.summary(d, s, target_fars=(1e-3,))
    assert summ["n_genuine"] == 3000 and summ["n_impostor"] == 30000 and summ["auc"] > 0.99
    far, tar = cal.roc_points(g, i, n=50)
    assert (np.diff(tar) >= 0).all() and far[0] == 0 and far[-1] == 1 and tar[-1] == 1


# -- all pairs ---------------------------------------------------------------------------------------------------
def test_all_pair_distances_counts_and_values():
    rng = np.random.default_rng(4)
    labels = np.array([0, 0, 0, 1, 1, 2, 3, 3, 3, 3])
    emb = rng.normal(size=(10, 8)).astype(np.float32)
    g, i = cal.all_pair_distances(emb, labels)
    n = len(labels)
    assert len(g) + len(i) == n * (n - 1) // 2 == 45
    assert len(g) == 3 + 1 + 0 + 6
    brute_g, brute_i = [], []
    for a in range(n):
        for b in range(a + 1, n):
            (brute_g if labels[a] == labels[b] else brute_i).append(np.linalg.norm(emb[a] - emb[b]))
    np.testing.assert_allclose(g, np.sort(brute_g), rtol=1e-5)
    np.testing.assert_allclose(i, np.sort(brute_i), rtol=1e-5)
    assert g.dtype == np.float32 and (np.diff(g) >= 0).all()
    g3, i3 = cal.all_pair_distances(emb, labels, block=3)  # blocks must not double count or miss pairs
    np.testing.assert_array_equal(g3, g)
    np.testing.assert_array_equal(i3, i)


def test_calibrate_embeddings_binds_to_model():
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(20, 16))
    labels = np.repeat(np.arange(20), 5)
    emb = centres[labels] + rng.normal(scale=0.1, size=(100, 16))
    c = cal.calibrate_embeddings(emb, labels, ModelRef("m", SHA_A), 1e-2, "synthetic")
    assert c.sha256 == SHA_A and c.backbone == "m" and c.arch == "dlib-resnet34" and c.dataset == "synthetic"
    assert c.n_genuine == 20 * 10 and c.n_impostor == 4950 - 200
    assert c.far <= 1e-2 and c.tar == 1.0 and c.auc == 1.0 and c.threshold > 0


# -- the calibration file ------------------------------------------------------------------------------------------
def test_save_load_round_trip(tmp_path):
    c = _calibration(notes={"command": "calibrate lfw-dev"})
    p = tmp_path / "sub" / "cal.json"
    p.parent.mkdir()
    c.save(p)
    assert json.loads(p.read_text())["format"] == cal.CALIBRATION_FORMAT
    assert Calibration.load(p) == c
    # NaN defaults survive too
    c2 = replace(c, auc=float("nan"), eer=float("nan"))
    c2.save(p)
    back = Calibration.load(p)
    assert math.isnan(back.auc) and math.isnan(back.eer) and back.threshold == c.threshold


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\xff\xfe garbage",
        b"{not json",
        b'{"format": "something-else/1"}',
        b"",
        json.dumps({"format": cal.CALIBRATION_FORMAT, "threshold": 0.5}).encode(),
    ],  # fmt: skip
    ids=["binary", "broken-json", "wrong-format", "empty", "missing-fields"],
)
def test_load_garbage_names_the_file(tmp_path, content):
    p = tmp_path / "garbage-calibration.json"
    p.write_bytes(content)
    with pytest.raises(CalibrationError, match="garbage-calibration.json"):
        Calibration.load(p)


def test_load_missing_file(tmp_path):
    with pytest.raises(CalibrationError, match="absent.json"):
        Calibration.load(tmp_path / "absent.json")


@pytest.mark.parametrize("threshold", [0.0, -0.5, float("nan"), float("inf")])
def test_load_rejects_invalid_threshold(tmp_path, threshold):
    p = tmp_path / "bad-threshold.json"
    _calibration(threshold=threshold).save(p)
    with pytest.raises(CalibrationError, match="bad-threshold.json"):
        Calibration.load(p)


@pytest.mark.parametrize("content", ["[1, 2]", "null", "THRESHOLD_STRING"])
def test_load_wrong_json_types_is_calibration_error(tmp_path, content):
    p = tmp_path / "typed.json"
    if content == "THRESHOLD_STRING":
        _calibration().save(p)
        data = json.loads(p.read_text())
        data["threshold"] = "abc"
        content = json.dumps(data)
    p.write_text(content)
    with pytest.raises(CalibrationError, match="typed.json"):
        Calibration.load(p)


def test_check_for_refuses_another_model():
    c = _calibration(SHA_A)
    c.check_for(ModelRef("dlib-resnet34", SHA_A))  # same model: fine
    with pytest.raises(CalibrationError, match="bbbbbbbbbbbb"):
        c.check_for(ModelRef("dlib-resnet34", SHA_B))


def test_find_calibration_picks_the_matching_file(tmp_path, fu_home):
    weights = tmp_path / "w" / "model.pt"
    weights.parent.mkdir()
    model = ModelRef("mine", SHA_A, weights)
    _calibration(SHA_B, threshold=0.9).save(weights.parent / "calibration.json")  # another model's
    _calibration(SHA_A, threshold=0.31).save(weights.with_name("model.pt.calibration.json"))
    found = cal.find_calibration(model)
    assert found.sha256 == SHA_A and found.threshold == 0.31
    assert found.notes["path"] == str(weights.with_name("model.pt.calibration.json"))

    # the user's calibration (by sha, under FACEUNLOCK_HOME) comes first
    user = cal.user_calibration_path(model)
    assert fu_home in user.parents
    user.parent.mkdir(parents=True)
    _calibration(SHA_A, threshold=0.29).save(user)
    assert cal.find_calibration(model).threshold == 0.29


def test_find_calibration_rejects_mismatching_files(tmp_path, fu_home):
    weights = tmp_path / "w" / "model.pt"
    weights.parent.mkdir()
    _calibration(SHA_B).save(weights.parent / "calibration.json")
    with pytest.raises(CalibrationError) as ei:
        cal.find_calibration(ModelRef("mine", SHA_A, weights))
    msg = str(ei.value)
    assert str(weights.parent / "calibration.json") in msg and "another model" in msg and "calibrate" in msg
    with pytest.raises(CalibrationError, match="no calibration"):
        cal.find_calibration(ModelRef("in-memory", SHA_A, None))


def test_plot_roc_writes_png(tmp_path):
    g, i = (
        np.sort(np.random.default_rng(6).normal(0.4, 0.1, 300)),
        np.sort(np.random.default_rng(7).normal(1, 0.1, 3000)),
    )
    far, tar = cal.roc_points(g, i, n=30)
    out = tmp_path / "plots" / "roc.png"
    cal.plot_roc({"synthetic": (far, tar)}, out, marks={"1e-3": 1e-3})
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- several populations ---------------------------------------------------------------------------------------
def _population(name: str, impostor_mean: float, seed: int) -> cal.Population:
    rng = np.random.default_rng(seed)
    return cal.Population(name, np.sort(rng.normal(0.35, 0.08, 2000)), np.sort(rng.normal(impostor_mean, 0.1, 60000)))


def test_the_worst_population_sets_the_threshold():
    """A population whose impostors sit closer (CFP against LFW, say) needs a smaller threshold: it wins, and
    every population then keeps its FAR at or below the target; the headline figures are the worst ones."""
    easy, hard = _population("easy", 0.95, 1), _population("hard", 0.80, 2)
    c = cal.calibrate_populations([easy, hard], ModelRef("m", SHA_A), 1e-3)
    own = {r["population"]: r["own_threshold"] for r in c.notes["populations"]}
    assert c.threshold == min(own.values()) == own["hard"] < own["easy"]
    for r in c.notes["populations"]:
        assert r["far"] <= 1e-3 and r["far_upper_95"] >= r["far"]
    rows = {r["population"]: r for r in c.notes["populations"]}
    assert rows["hard"]["far"] > rows["easy"]["far"]  # the easy population is now far below its target
    assert c.far_upper_95 == rows["hard"]["far_upper_95"] and c.tar == min(r["tar"] for r in rows.values())
    assert c.n_impostor == 120000 and "worst population" in c.dataset
    # pooled, the hard population would be promised a FAR it does not get
    pooled = cal.threshold_for_far(np.sort(np.concatenate([easy.impostor, hard.impostor])), 1e-3)
    assert pooled > c.threshold and cal.rates_at(pooled, hard.genuine, hard.impostor)[1] > 1e-3


def test_one_population_is_the_plain_calibration():
    p = _population("lfw-dev", 0.9, 3)
    one = cal.calibrate_populations([p], ModelRef("m", SHA_A), 1e-3, notes={"images": 5})
    plain = cal.calibrate_distances(p.genuine, p.impostor, ModelRef("m", SHA_A), 1e-3, "lfw-dev")
    assert (one.threshold, one.far, one.far_upper_95, one.tar, one.dataset) == (
        plain.threshold, plain.far, plain.far_upper_95, plain.tar, plain.dataset)  # fmt: skip
    assert one.notes["images"] == 5 and one.notes["populations"][0]["own_threshold"] == plain.threshold


def test_threshold_for_bound_holds_the_upper_bound_not_the_point_estimate():
    imp = np.sort(np.random.default_rng(3).uniform(0.2, 1.5, 100_000))
    t, ok = cal.threshold_for_bound(imp, 1e-4)
    fa = int((imp <= t).sum())
    assert ok and cal.upper_bound(fa, len(imp)) <= 1e-4 < cal.upper_bound(fa + 1, len(imp))
    assert fa < 1e-4 * len(imp)  # the point-estimate rule would allow 10 false accepts; the bound allows fewer
    t_small, ok_small = cal.threshold_for_bound(imp[:1000], 1e-4)  # 1,000 impostors cannot resolve 1e-4
    assert not ok_small and t_small < imp[0]


def test_attempt_calibration_round_trips_and_old_files_cannot_decide(tmp_path):
    a = cal.AttemptCalibration(threshold=0.32, enrol_threshold=0.57, target_far=1e-4, required=3, window=5,
                               enrol=4, probe=5, populations=[{"population": "x", "far_upper_95": 7e-5}])  # fmt: skip
    c = _calibration(attempt=a)
    c.save(tmp_path / "c.json")
    back = cal.Calibration.load(tmp_path / "c.json")
    assert back.decision == a and back.threshold == c.threshold
    old = _calibration()
    old.save(tmp_path / "old.json")
    with pytest.raises(CalibrationError, match="faceunlock calibrate"):
        _ = cal.Calibration.load(tmp_path / "old.json").decision
    bad = json.loads((tmp_path / "c.json").read_text())
    bad["attempt"]["threshold"] = -1
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(CalibrationError, match="bad.json"):
        cal.Calibration.load(tmp_path / "bad.json")
