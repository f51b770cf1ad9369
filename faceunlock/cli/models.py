"""`faceunlock models list | download NAME`: which weights are here, which one `auto` uses, explicit downloads."""

from __future__ import annotations

from faceunlock.cli.common import add_json, emit_json


def add_parser(sub) -> None:
    p = sub.add_parser("models", help="list face models on this machine, or download one explicitly",
                       description="faceunlock never downloads while authenticating; fetch weights here.")  # fmt: skip
    msub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    lp = msub.add_parser("list", help="show available weights and which one --weights auto picks")
    add_json(lp)
    dp = msub.add_parser("download", help="download vggface2 or casia-webface InceptionResnetV1 weights")
    dp.add_argument("name", choices=["vggface2", "casia-webface"])
    p.set_defaults(func=run)


def models_status() -> dict:
    """Presence of every known model and its calibration (no torch import: just files)."""
    from faceunlock import paths
    from faceunlock.calibrate import Calibration
    from faceunlock.errors import CalibrationError
    from faceunlock.weights import auto_choice, file_sha256, find_pretrained

    rows = []
    bundled = paths.REPO_MODELS / "dlib-resnet34"
    cal_file = bundled / "calibration.json"
    cal_state = "missing"
    if cal_file.is_file():
        try:
            c = Calibration.load(cal_file)
            a = c.decision
            cal_state = (f"attempt threshold {a.threshold:.4f} at attempt FAR ≤ {a.target_far:g}, measured on "
                         f"{c.dataset}")  # fmt: skip
        except CalibrationError as e:
            cal_state = f"invalid: {e}"
    rows.append({"name": "dlib-resnet34", "present": (bundled / "face_recognition_model.bin").is_file(),
                 "path": str(bundled), "calibration": cal_state, "bundled": True})  # fmt: skip
    for name in ("vggface2", "casia-webface"):
        found = find_pretrained(name)
        cal = "—"
        if found:
            sha = file_sha256(found)
            cands = [paths.user_models_dir() / "calibrations" / f"{sha[:16]}.json"]
            cal = "present" if any(c.is_file() for c in cands) else "missing: run faceunlock calibrate"
        rows.append({"name": name, "present": bool(found), "path": str(found) if found else None,
                     "calibration": cal, "bundled": False})  # fmt: skip
    choice = auto_choice()
    return {"models": rows, "auto": {"uses": choice.spec, "why": choice.reason}}


def run(args) -> int:
    if args.action == "download":
        from faceunlock.weights import download_pretrained

        path = download_pretrained(args.name)
        print(f"saved {path}; now run `faceunlock calibrate DATASET_DIR --weights {args.name}`")
        return 0
    st = models_status()
    if getattr(args, "json", False):
        emit_json(st)
        return 0
    for r in st["models"]:
        mark = "✓" if r["present"] else "✗"
        where = r["path"] or "not on this machine (faceunlock models download " + r["name"] + ")"
        print(f"{mark} {r['name']:<15} {where}\n    calibration: {r['calibration']}")
    print(f"--weights auto → {st['auto']['uses']}: {st['auto']['why']}")
    return 0
