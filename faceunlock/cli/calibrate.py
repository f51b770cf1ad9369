"""`faceunlock calibrate DATASET_DIR`: measure the threshold for a target FAR on a folder-per-person dataset."""

from __future__ import annotations

from pathlib import Path

from faceunlock.cli.common import add_json, add_weights, emit_json


def add_parser(sub) -> None:
    p = sub.add_parser("calibrate", help="set the decision threshold for the active model from labelled faces",
                       description="Embed every face of each DATASET_DIR (one folder per person) and write a "
                                   "calibration bound to the model's sha256. The decision's threshold is set per "
                                   "attempt: unlock attempts are simulated with the product's own enrolment and "
                                   "decision (enrol --enrol photos, attempts of --probe photos, every other person "
                                   "as impostor) and the threshold keeps the attempt-level false accept rate's 95 % "
                                   "bound at most --target-far on EVERY dataset (each is a population; the worst "
                                   "one sets it). All genuine and impostor photo pairs also give the per-pair "
                                   "threshold (face tracking) and the enrolment's outlier check.")  # fmt: skip
    p.add_argument("datasets", type=Path, nargs="+", metavar="DATASET_DIR")
    add_weights(p)
    p.add_argument("--target-far", type=float, default=1e-4, metavar="F", help="false accept rate (default 1e-4)")
    p.add_argument("--out", type=Path, help="where to write the calibration (default: the user's models dir)")
    p.add_argument("--plot", type=Path, metavar="PNG", help="save the ROC curves (one per dataset) here")
    p.add_argument("--enrol", type=int, default=4, metavar="K", help="photos enrolled per simulated person (4)")
    p.add_argument("--probe", type=int, default=5, metavar="P", help="photos per simulated attempt (5)")
    p.add_argument("--max-per-identity", type=int, default=None, metavar="N", help="use at most N images per person")
    add_json(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from dataclasses import asdict

    from faceunlock.attempts import calibrate_sets
    from faceunlock.calibrate import Population, calibrate_populations, enrol_threshold, user_calibration_path
    from faceunlock.cli.dataset_embed import embed_dataset, report_problems
    from faceunlock.cpu import batch_threads
    from faceunlock.errors import InvalidInput
    from faceunlock.policy import AuthPolicy
    from faceunlock.weights import resolve_backbone

    if not 0 < args.target_far < 1:
        raise InvalidInput(f"--target-far must be between 0 and 1, got {args.target_far}")
    if args.enrol < 1 or args.probe < AuthPolicy().required:
        raise InvalidInput(f"--enrol must be at least 1 and --probe at least {AuthPolicy().required} (the frames an "
                           "attempt fuses)")  # fmt: skip
    if args.plot:
        from faceunlock.calibrate import require_plots

        require_plots(args.plot)
    backbone = resolve_backbone(args.weights, device=args.device, compiled=True, threads=batch_threads())
    sets = {str(d): embed_dataset(d, backbone, max_per_identity=args.max_per_identity) for d in args.datasets}
    pops = [Population(name, data.genuine, data.impostor) for name, data in sets.items()]
    per_set = {name: {"images": len(data.labels), "identities": len(set(data.labels)),
                      "skipped_files": len(data.problems), "tar_at_far": data.table} for name, data in sets.items()}  # fmt: skip
    notes = next(iter(per_set.values())) if len(sets) == 1 else {"datasets": per_set}
    cal = calibrate_populations(pops, backbone, args.target_far, notes)
    cal.attempt = calibrate_sets({name: (data.embeddings, data.labels) for name, data in sets.items()},
                                 enrol_threshold(pops), args.target_far, ((args.enrol, args.probe),))  # fmt: skip
    out = args.out or user_calibration_path(backbone)
    cal.save(out)
    problems = [pr for data in sets.values() for pr in data.problems]
    if args.plot:
        from faceunlock.calibrate import plot_roc, roc_points

        plot_roc({f"{backbone.name} on {Path(p.name).name}": roc_points(p.genuine, p.impostor) for p in pops},
                 args.plot, title="ROC per population", marks={f"target {args.target_far:g}": args.target_far})  # fmt: skip
    if args.json:
        emit_json({"calibration": str(out), **asdict(cal), "problems": [str(m) for _, m in problems]})
        return 0
    report_problems(problems)
    print(f"model     {backbone.describe()}")
    for name, data in sets.items():
        print(f"dataset   {name}: {len(data.labels)} faces, {len(set(data.labels))} people; "
              f"{len(data.genuine):,} genuine and {len(data.impostor):,} impostor pairs")  # fmt: skip
        for r in data.table:
            flag = "" if r["resolvable"] else "  (too few impostors: an upper bound only)"
            print(f"  own FAR ≤ {r['target_far']:g}: threshold {r['threshold']:.4f}  TAR {r['tar']:.4f} "
                  f"(≥ {r['tar_lower_95']:.4f})  FAR {r['far']:.2e} (≤ {r['far_upper_95']:.2e} at 95 %){flag}")  # fmt: skip
    print(f"AUC {cal.auc:.5f}  EER {cal.eer:.4f} (all populations pooled)")
    print(f"per-pair threshold {cal.threshold:.5f} for pair FAR {args.target_far:g} (face tracking), per population:")
    for r in cal.notes["populations"]:
        print(f"  {r['population']}: FAR {r['far']:.2e} (≤ {r['far_upper_95']:.2e} at 95 %, {r['false_accepts']} of "
              f"{r['n_impostor']:,})  TAR {r['tar']:.4f} (≥ {r['tar_lower_95']:.4f})  its own threshold "
              f"{r['own_threshold']:.4f}")  # fmt: skip
    a = cal.attempt
    print(f"decision (per attempt: enrol {a.enrol} photos, attempts of {a.probe}, ≥ {a.required} live frames of "
          f"{a.window} fused): threshold {a.threshold:.5f} for attempt FAR ≤ {a.target_far:g} at 95 %"
          + ("" if a.resolvable else " (too few impostor attempts to resolve it: no false accept allowed)"))  # fmt: skip
    for r in a.populations:
        print(f"  {r['population']}: FRR {r['frr']:.2%} ({r['false_rejects']} of {r['genuine']:,}; "
              f"{r['failed_to_enrol']} failed to enrol)  FAR {r['far']:.2e} (≤ {r['far_upper_95']:.2e} at 95 %, "
              f"{r['false_accepts']} of {r['impostor']:,})  its own threshold {r['own_threshold']:.4f}")  # fmt: skip
    print(f"enrolment outlier check: {a.enrol_threshold:.4f} (per-pair FAR 1e-2, worst population)")
    print(f"→ {out}")
    return 0
