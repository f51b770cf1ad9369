"""`faceunlock evaluate --pairs FILE --root DIR`: LFW-style verification metrics for the active model."""

from __future__ import annotations

from pathlib import Path

from faceunlock.cli.common import add_json, add_weights, emit_json


def add_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="verification accuracy on a pairs list (our TSV or LFW pairs.txt)",
                       description="Score image pairs: ROC AUC, EER, TAR at FAR with bounds, 10-fold accuracy "
                                   "(LFW protocol), and the confusion counts at the calibrated threshold.")  # fmt: skip
    p.add_argument("--pairs", type=Path, required=True, metavar="FILE", help="TSV (same, image_a, image_b) or LFW pairs.txt")
    p.add_argument("--root", type=Path, required=True, metavar="DIR", help="folder the pair paths are relative to")
    add_weights(p)
    p.add_argument("--plot", type=Path, metavar="PNG", help="save the ROC curve here")
    add_json(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np

    from faceunlock.calibrate import find_calibration, plot_roc, roc_points, split, summary
    from faceunlock.cli.dataset_embed import embed_chips, report_problems
    from faceunlock.embed import paired_distances
    from faceunlock.errors import CalibrationError, DatasetError
    from faceunlock.facesets import DetectionCache, load_chips
    from faceunlock.pairs import read_pairs
    from faceunlock.weights import resolve_backbone

    if args.plot:
        from faceunlock.calibrate import require_plots

        require_plots(args.plot)
    pairs, missing = read_pairs(args.pairs, args.root)
    if not pairs:
        raise DatasetError(f"{args.pairs}: none of its pairs have both images under {args.root}")
    backbone = resolve_backbone(args.weights, device=args.device)
    files = sorted({p for pr in pairs for p in (pr.a, pr.b)})
    cache = DetectionCache()
    try:
        chips, kept, problems = load_chips(files, backbone, cache=cache, progress=not args.json)
    finally:
        cache.close()
    emb = dict(zip(kept, embed_chips(backbone, chips), strict=True))
    scored = [pr for pr in pairs if pr.a in emb and pr.b in emb]
    if not scored:
        raise DatasetError(f"{args.pairs}: no pair has a usable face in both images")
    d = paired_distances(np.array([emb[pr.a] for pr in scored]), np.array([emb[pr.b] for pr in scored]))
    same = np.array([pr.same for pr in scored])
    folds = np.array([pr.fold for pr in scored]) if scored and scored[0].fold is not None else None
    res = summary(d, same, fold_ids=folds)
    res.update({"pairs_file": str(args.pairs), "pairs_total": len(pairs) + 0, "pairs_scored": len(scored),
                "pairs_missing_images": len(missing), "pairs_no_face": len(pairs) - len(scored),
                "model": backbone.name, "sha256": backbone.sha256})  # fmt: skip
    try:
        cal = find_calibration(backbone)
        acc = d <= cal.threshold
        res["at_calibrated_threshold"] = {
            "threshold": cal.threshold, "target_far": cal.target_far, "tp": int((acc & same).sum()),
            "fn": int((~acc & same).sum()), "fp": int((acc & ~same).sum()), "tn": int((~acc & ~same).sum()),
            "accuracy": float((acc == same).mean())}  # fmt: skip
    except CalibrationError as e:
        res["at_calibrated_threshold"] = {"error": str(e)}
    if args.plot:
        g, i = split(d, same)
        plot_roc({backbone.name: roc_points(g, i)}, args.plot, title=f"ROC on {args.pairs.name}")
    if args.json:
        emit_json(res)
        return 0
    report_problems(problems)
    k = res["kfold"]
    print(f"model {backbone.describe()}")
    print(f"pairs {len(scored)} scored of {len(pairs)} (no face in {len(pairs) - len(scored)}; "
          f"{len(missing)} images missing from {args.root})")  # fmt: skip
    print(f"AUC {res['auc']:.5f}  EER {res['eer']:.4f}  {k['folds']}-fold accuracy {k['accuracy']:.4f} ± {k['std']:.4f}"
          + (f"  ({k['note']})" if "note" in k else ""))  # fmt: skip
    for r in res["tar_at_far"]:
        print(f"TAR@FAR {r['target_far']:g}: {r['tar']:.4f} (≥ {r['tar_lower_95']:.4f}); FAR ≤ {r['far_upper_95']:.2e}"
              + ("" if r["resolvable"] else "  (too few impostor pairs to resolve this FAR)"))  # fmt: skip
    c = res["at_calibrated_threshold"]
    if "error" in c:
        print(f"calibrated threshold: {c['error']}")
    else:
        print(f"at calibrated threshold {c['threshold']:.4f}: TP {c['tp']} FN {c['fn']} FP {c['fp']} TN {c['tn']}"
              f"  accuracy {c['accuracy']:.4f}")  # fmt: skip
    return 0
