"""Fine-tuning on real faces, measured: does held-out verification improve, and what does it cost?

Part `random`: from a seeded random dlib-ResNet-34 on Extended Yale B + ORL (people held out by the trainer's
identity-disjoint split), a full fine-tune (all layers) and a head-only one: held-out ROC AUC before/after and
seconds per epoch. Part `dlib`: the real use case, the bundled pretrained dlib ResNet-34 fine-tuned head-only on
Yale B people (train / val for early stopping and calibration / test never seen): TAR at the target FAR on the
test people before/after, and LFW 10-fold accuracy on lfw-dev-pairs.tsv before/after (general faces must not
suffer). Run:

    PYTHONPATH=. .venv/bin/python benchmarks/finetune_demo.py --part all --work /tmp/ft-demo

Data is read from ../shared/data (symlinked into --work, never copied). MTCNN detections are cached in the
usual cache dir, so a second run skips detection.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"


def link_people(dest: Path, groups: dict[str, Path]) -> Path:
    """dest/NAME → source folder, for each NAME (symlinks: the shared data is never copied)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name, src in groups.items():
        link = dest / name
        if not link.exists():
            link.symlink_to(src)
    return dest


def run_random(work: Path, epochs: int, head_epochs: int, full_steps: int | None) -> dict:
    from faceunlock.train.config import FineTuneConfig
    from faceunlock.train.finetune import fine_tune_folders

    people = {f"orl-{d.name}": d for d in sorted((DATA / "orl").iterdir()) if d.is_dir()}
    people |= {d.name: d for d in sorted((DATA / "yaleb").iterdir()) if d.is_dir()}
    data = link_people(work / "yaleb+orl", people)
    rows = {}
    for layers, n_epochs, steps in (("all", epochs, full_steps), ("head", head_epochs, None)):
        cfg = FineTuneConfig(data=data, out=work / f"random-{layers}", base="random", arch="dlib-resnet34",
                             train_layers=layers, epochs=n_epochs, patience=n_epochs, seed=0, overwrite=True,
                             augment=2, max_steps_per_epoch=steps or None, progress=False)  # fmt: skip
        t0 = time.perf_counter()
        rep = fine_tune_folders(cfg)
        wall = time.perf_counter() - t0
        trained = [h for h in rep["history"] if h["epoch"] > 0]
        rows[layers] = {
            "auc_before": rep["before"]["auc"], "auc_after": rep["after"]["auc"],
            "eer_before": rep["before"]["eer"], "eer_after": rep["after"]["eer"],
            "tar_before": rep["before"]["tar"], "tar_after": rep["after"]["tar"], "best_epoch": rep["best_epoch"],
            "epochs": len(trained), "epoch_train_s": [round(h["train_s"], 3) for h in trained],
            "epoch_train_cpu_s": [round(h["train_cpu_s"], 3) for h in trained],
            "epoch_eval_s": [round(h["eval_s"], 3) for h in trained], "wall_s": wall,
            "train": rep["data"]["train"], "val": rep["data"]["val"], "steps_per_epoch": rep["training"]["steps_per_epoch"],
        }  # fmt: skip
        print(rep["table"], flush=True)
    return rows


def split_people(names: list[str], seed: int, fractions: tuple[float, float]) -> tuple[list, list, list]:
    rng = np.random.default_rng(seed)
    order = [names[i] for i in rng.permutation(len(names))]
    n_val, n_test = round(len(order) * fractions[0]), round(len(order) * fractions[1])
    return order[n_val + n_test :], order[:n_val], order[n_val : n_val + n_test]


def embed_via_head(backbone, features: np.ndarray) -> np.ndarray:
    import torch

    with torch.inference_mode():
        out = backbone.net.head(torch.from_numpy(features).to(backbone.device))
        return backbone.postprocess(out.float()).cpu().numpy()


def same_trunk(a, b) -> bool:
    """True when two backbones differ at most in their head: then one set of trunk features serves both."""
    import torch

    sa, sb = a.net.state_dict(), b.net.state_dict()
    head = ("fc.", "model.last_linear.", "model.last_bn.")
    return all(torch.equal(sa[k], sb[k]) for k in sa if not k.startswith(head))


def features_of(backbone, chips: np.ndarray, batch: int = 64) -> np.ndarray:
    import torch
    from tqdm import tqdm

    out = []
    with torch.inference_mode():
        for i in tqdm(range(0, len(chips), batch), desc="trunk features", unit="batch", file=sys.stderr):
            out.append(backbone.net.features(backbone.to_tensor(chips[i : i + batch])).float().cpu().numpy())
    return np.concatenate(out)


def lfw_kfold(base, tuned, pairs_file: Path, root: Path, work: Path) -> dict:
    """10-fold accuracy (LFW protocol) for both models on the same scored pairs.

    The base model's trunk features of the ~5,000 LFW chips are cached in `work` (minutes of CPU each time).
    """
    from faceunlock import calibrate
    from faceunlock.facesets import DetectionCache, load_chips
    from faceunlock.pairs import read_pairs

    pairs, _ = read_pairs(pairs_file, root)
    cached = work / f"lfw-features-{base.sha256[:16]}.npz"
    if cached.is_file():
        z = np.load(cached)
        feats, kept, n_problems = z["feats"], [Path(p) for p in z["kept"]], int(z["problems"])
        chips = None
    else:
        files = sorted({p for pr in pairs for p in (pr.a, pr.b)})
        chips, kept, problems = load_chips(files, base, cache=DetectionCache(), progress=True)
        feats, n_problems = features_of(base, chips), len(problems)
        np.savez(cached, feats=feats, kept=np.array([str(p) for p in kept]), problems=n_problems)
    index = {p: i for i, p in enumerate(kept)}
    scored = [pr for pr in pairs if pr.a in index and pr.b in index]
    ia, ib = np.array([index[p.a] for p in scored]), np.array([index[p.b] for p in scored])
    same = np.array([p.same for p in scored])
    out = {"pairs_scored": len(scored), "pairs_total": len(pairs), "images_without_face": n_problems}
    for name, model in (("before", base), ("after", tuned)):
        if not same_trunk(base, model) and chips is None:
            chips, _, _ = load_chips(kept, base, cache=DetectionCache())
        emb = embed_via_head(model, feats) if same_trunk(base, model) else model.embed(chips)
        d = np.linalg.norm(emb[ia] - emb[ib], axis=1)
        k = calibrate.kfold_accuracy(d, same, folds=10)
        g, i = calibrate.split(d, same)
        out[name] = {"accuracy": k["accuracy"], "std": k["std"], "auc": calibrate.auc(g, i)}
    return out


def run_dlib(work: Path, epochs: int, target_far: float, lr: float | None, layers: str, l2_sp: float | None,
             extra: str) -> dict:  # fmt: skip
    from faceunlock import calibrate, weights
    from faceunlock.facesets import DetectionCache, load_chips, scan_identities
    from faceunlock.train.config import FineTuneConfig
    from faceunlock.train.finetune import fine_tune_folders

    yaleb = scan_identities(DATA / "yaleb")
    train, val, test = split_people(sorted(yaleb), seed=0, fractions=(0.2, 0.2))
    root = work / "yaleb-split"
    for part, names in (("train", train), ("val", val), ("test", test)):
        link_people(root / part, {n: DATA / "yaleb" / n for n in names})
    data, negatives = root / "train", None
    orl = {f"orl-{d.name}": d for d in sorted((DATA / "orl").iterdir()) if d.is_dir()}
    if extra == "orl-people":  # other faces as extra training people: keeps the head general
        data = link_people(work / "yaleb-train+orl", {n: root / "train" / n for n in train} | orl)
    elif extra == "orl-negatives":
        negatives = link_people(work / "orl-negatives", orl)
    out = work / f"dlib-yaleb-{layers}-sp{l2_sp}-{extra}"
    cfg = FineTuneConfig(data=data, val=root / "val", negatives=negatives, out=out, base="dlib-resnet34",
                         train_layers=layers, epochs=epochs, patience=5, seed=0, target_far=target_far,
                         overwrite=True, lr=lr, augment=4, progress=False, l2_sp=l2_sp)  # fmt: skip
    rep = fine_tune_folders(cfg)
    print(rep["table"], flush=True)

    base = weights.resolve_backbone("dlib-resnet34")
    tuned = weights.resolve_backbone(str(out))
    cal = calibrate.find_calibration(tuned)
    files = [f for n in test for f in yaleb[n]]
    chips, kept, _ = load_chips(files, base, cache=DetectionCache())
    labels = np.array([test.index(p.parent.name) for p in kept])
    feats = features_of(base, chips)
    test_res = {"people": len(set(labels.tolist())), "images": len(kept)}
    for name, model in (("before", base), ("after", tuned)):
        emb = embed_via_head(model, feats) if same_trunk(base, model) else model.embed(chips)
        g, i = calibrate.all_pair_distances(emb, labels)
        r = calibrate.tar_at_far(g, i, target_far)
        thr = (
            rep["before"]["threshold"] if name == "before" else cal.threshold
        )  # each model's own val threshold
        tar_c, far_c = calibrate.rates_at(thr, g, i)
        test_res[name] = {"auc": calibrate.auc(g, i), "eer": calibrate.eer(g, i)[0], "tar_at_far": r["tar"],
                          "far": r["far"], "n_genuine": len(g), "n_impostor": len(i),
                          "val_threshold": thr, "tar_at_val_threshold": tar_c, "far_at_val_threshold": far_c}  # fmt: skip
    lfw = lfw_kfold(base, tuned, DATA / "lfw-dev-pairs.tsv", DATA / "lfw-dev", work)
    return {"split": {"train": train, "val": val, "test": test}, "report_before": rep["before"],
            "report_after": rep["after"], "best_epoch": rep["best_epoch"],
            "epoch_train_s": [round(h["train_s"], 3) for h in rep["history"] if h["epoch"] > 0],
            "test": test_res, "lfw": lfw, "data": rep["data"]["train"], "val_data": rep["data"]["val"]}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--work", type=Path, default=Path("/tmp/ft-demo"), help="scratch folder (symlinks, outputs)"
    )
    ap.add_argument("--part", choices=["random", "dlib", "all"], default="all", help="which experiment(s)")
    ap.add_argument("--epochs", type=int, default=5, help="epochs of the full (all-layers) random-base run")
    ap.add_argument(
        "--full-steps", type=int, default=0, help="cap on batches per epoch of the full run (0: a full pass)"
    )
    ap.add_argument("--head-epochs", type=int, default=30, help="epochs of the head-only random-base run")
    ap.add_argument("--dlib-epochs", type=int, default=30, help="max epochs of the dlib head fine-tune")
    ap.add_argument(
        "--dlib-layers", default="head", choices=["head", "block8", "all"], help="layers for dlib"
    )
    ap.add_argument("--dlib-lr", type=float, default=None, help="learning rate for the dlib fine-tune")
    ap.add_argument("--dlib-l2-sp", type=float, default=None,
                    help="L2-SP strength for the dlib fine-tune (default: the config's, 0.3 from a pretrained base)")
    ap.add_argument("--dlib-extra", default="none", choices=["none", "orl-negatives", "orl-people"],
                    help="other faces added to the Yale B training set")  # fmt: skip
    ap.add_argument("--target-far", type=float, default=1e-3, help="FAR for TAR and calibration")
    args = ap.parse_args()
    results = {}
    if args.part in ("random", "all"):
        results["random"] = run_random(args.work, args.epochs, args.head_epochs, args.full_steps)
    if args.part in ("dlib", "all"):
        results["dlib"] = run_dlib(
            args.work,
            args.dlib_epochs,
            args.target_far,
            args.dlib_lr,
            args.dlib_layers,
            args.dlib_l2_sp,
            args.dlib_extra,
        )
    print(json.dumps(results, indent=1, default=str))
    tag = (  # every dlib setting in the name, so runs that vary one of them do not overwrite each other
        f"{args.part}-{args.dlib_layers}-sp{args.dlib_l2_sp}-{args.dlib_extra}-lr{args.dlib_lr or 'default'}"
        f"-e{args.dlib_epochs}"
        if args.part != "random"
        else "random"
    )
    (args.work / f"results-{tag}.json").write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
