"""`faceunlock evaluate --pairs FILE --root DIR`: LFW-style verification metrics for the active model;
`faceunlock evaluate --attempts DIR`: the error rates of whole unlock attempts, the decision users live with."""

from __future__ import annotations

from pathlib import Path

from faceunlock.cli.common import add_json, add_weights, emit_json


def add_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="accuracy on a pairs list, or of whole unlock attempts on a folder of people",
                       description="--pairs: score image pairs: ROC AUC, EER, TAR at FAR with bounds, 10-fold accuracy "
                                   "(LFW protocol), and the confusion counts at the calibrated threshold. "
                                   "--attempts: simulate unlock attempts with the product's decision (enrol K "
                                   "photos of a person, probe with P others; impostors: every other person's P "
                                   "photos against each person's templates) and report attempt-level FRR and FAR. "
                                   "Liveness and face tracking are off for still photos.")  # fmt: skip
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--pairs", type=Path, metavar="FILE", help="TSV (same, image_a, image_b) or LFW pairs.txt")
    what.add_argument("--attempts", type=Path, metavar="DIR", help="a folder per person: simulate unlock attempts")
    p.add_argument("--root", type=Path, metavar="DIR", help="with --pairs: folder the pair paths are relative to")
    p.add_argument("--enrol", type=int, default=4, metavar="K", help="with --attempts: photos enrolled per person (4)")
    p.add_argument("--probe", type=int, default=5, metavar="P", help="with --attempts: photos per attempt (5)")
    add_weights(p)
    p.add_argument("--plot", type=Path, metavar="PNG", help="save the ROC curve here")
    add_json(p)
    p.set_defaults(func=run)


def run(args) -> int:
    if args.attempts:
        return run_attempts(args)
    import numpy as np

    from faceunlock.calibrate import find_calibration, plot_roc, roc_points, split, summary
    from faceunlock.cli.dataset_embed import report_problems
    from faceunlock.cpu import batch_threads
    from faceunlock.embed import paired_distances
    from faceunlock.errors import CalibrationError, DatasetError
    from faceunlock.facesets import DetectionCache, embed_files
    from faceunlock.pairs import read_pairs
    from faceunlock.weights import resolve_backbone

    if args.plot:
        from faceunlock.calibrate import require_plots

        require_plots(args.plot)
    if args.root is None:
        raise DatasetError("--pairs needs --root DIR, the folder the pair paths are relative to")
    pairs, missing = read_pairs(args.pairs, args.root)
    if not pairs:
        raise DatasetError(f"{args.pairs}: none of its pairs have both images under {args.root}")
    backbone = resolve_backbone(args.weights, device=args.device, compiled=True, threads=batch_threads())
    files = sorted({p for pr in pairs for p in (pr.a, pr.b)})
    cache = DetectionCache()
    try:
        vecs, kept, problems = embed_files(files, backbone, cache=cache, progress=not args.json)
    finally:
        cache.close()
    emb = dict(zip(kept, vecs, strict=True))
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


def run_attempts(args) -> int:
    """Attempt-level FRR and FAR (with its 95 % bound) at the calibrated attempt threshold, with the settings."""
    from faceunlock.attempts import people_from, simulate
    from faceunlock.calibrate import find_calibration
    from faceunlock.cli.dataset_embed import embed_dataset, report_problems
    from faceunlock.cpu import batch_threads
    from faceunlock.errors import DatasetError, InvalidInput
    from faceunlock.policy import AuthPolicy
    from faceunlock.weights import resolve_backbone

    if args.enrol < 1 or args.probe < AuthPolicy().required:
        raise InvalidInput(f"--enrol must be at least 1 and --probe at least {AuthPolicy().required} (the frames an "
                           "attempt fuses)")  # fmt: skip
    backbone = resolve_backbone(args.weights, device=args.device, compiled=True, threads=batch_threads())
    cal = find_calibration(backbone)
    decision = cal.decision
    data = embed_dataset(args.attempts, backbone)
    people = people_from(data.embeddings, data.labels, args.enrol, args.probe)
    if sum(p.genuine for p in people) < 1 or sum(p.probe is not None for p in people) < 2:
        raise DatasetError(f"{args.attempts}: need at least 2 people with ≥ {args.probe} usable photos, one of "
                           f"them with ≥ {args.enrol + args.probe}")  # fmt: skip
    policy = AuthPolicy()
    rates = simulate(people, decision.enrol_threshold, policy, check=cal)
    res = {"attempts": rates.at(decision.threshold),
           "settings": {"dataset": str(args.attempts), "enrol": args.enrol, "probe": args.probe,
                        "required": max(policy.required, decision.required), "window": policy.window,
                        "rule": decision.rule, "model": backbone.name, "threshold": decision.threshold,
                        "enrol_threshold": decision.enrol_threshold, "calibration": cal.dataset,
                        "people": len(people), "genuine_people": sum(p.genuine for p in people),
                        "failed_to_enrol": rates.failed_to_enrol,
                        "liveness": "off: still photos", "tracking": "off: still photos"},
           "threshold_for_far": {f"{f:g}": rates.threshold_for_far(f) for f in (1e-3, 1e-4, 1e-5)
                                 if f * len(rates.impostor) >= 1}}  # fmt: skip
    if args.json:
        emit_json(res)
        return 0
    report_problems(data.problems)
    a, s = res["attempts"], res["settings"]
    print(f"model {backbone.describe()}, attempt threshold {decision.threshold:.4f} ({cal.dataset})")
    print(f"{s['people']} people from {args.attempts} ({s['genuine_people']} with ≥ {args.enrol + args.probe} photos): "
          f"enrol {args.enrol} photos, attempts of {args.probe}; the live frames of {policy.window} (≥ "
          f"{s['required']}) fused against each enrolled centroid; liveness and tracking off for stills")  # fmt: skip
    print(f"genuine attempts {a['genuine']:,}: FRR {a['frr']:.2%} ({a['false_rejects']} refused); "
          f"{a['failed_to_enrol']} failed to enrol")  # fmt: skip
    print(f"impostor attempts {a['impostor']:,}: FAR {a['far']:.2e} (≤ {a['far_upper_95']:.2e} at 95 %, "
          f"{a['false_accepts']} accepted)")  # fmt: skip
    for f, t in res["threshold_for_far"].items():
        print(f"attempt-level FAR {f}: threshold {t:.4f} → FRR {rates.at(t)['frr']:.2%}")
    return 0
