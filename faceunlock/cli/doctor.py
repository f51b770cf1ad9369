"""`faceunlock doctor`: is everything needed to unlock in place? Plain words and what to do; exit 2 if not."""

from __future__ import annotations

from faceunlock.cli.common import add_json, add_weights, emit_json


def add_parser(sub) -> None:
    p = sub.add_parser("doctor", help="check camera, model, calibration, keyring and device",
                       description="Check each part faceunlock needs and say what to do about a missing one.")  # fmt: skip
    add_weights(p)
    p.add_argument("--source", default="0", metavar="SRC", help="camera index or video/folder to check (default 0)")
    add_json(p)
    p.set_defaults(func=run)


def checks(weights: str = "auto", device: str = "cpu", source: str = "0") -> list[dict]:
    """Each check → {name, ok, detail, fix}. Never raises: a doctor reports."""
    out = []

    def add(name, ok, detail, fix=""):
        out.append({"name": name, "ok": bool(ok), "detail": detail, "fix": "" if ok else fix})

    from faceunlock.weights import auto_choice

    choice = auto_choice()
    backbone = None
    try:
        from faceunlock.weights import resolve_backbone

        backbone = resolve_backbone(weights, device=device)
        why = f" ({choice.reason})" if weights == "auto" else ""
        add("model", True, backbone.describe() + why)
    except Exception as e:  # report, never crash
        add("model", False, str(e), "faceunlock models list")
    if backbone is not None:
        try:
            from faceunlock.calibrate import find_calibration

            cal = find_calibration(backbone)
            add("calibration", True, f"threshold {cal.threshold:.4f} at FAR {cal.target_far:g} "
                f"(≤ {cal.far_upper_95:.1e} at 95 %), TAR {cal.tar:.3f}, from {cal.notes.get('path')}")  # fmt: skip
        except Exception as e:
            add("calibration", False, str(e), "faceunlock calibrate DATASET_DIR")
    try:
        from faceunlock.liveness import DEFAULT_THRESHOLD, MODEL_DIR, LivenessChecker

        LivenessChecker.load(device=device)
        add("liveness", True, f"MiniFASNet V2 + V1SE from {MODEL_DIR} (live at ≥ {DEFAULT_THRESHOLD})")
    except Exception as e:
        add("liveness", False, str(e), "restore models/anti-spoof-minifasnet/ from the repository")
    try:
        from faceunlock.secrets import get_or_create_store_key, has_password
        from faceunlock.store import TemplateStore

        pw = has_password()  # reaches the keyring: raises KeyringError when absent or locked
        users = TemplateStore().users()
        if users:
            get_or_create_store_key(create=False)  # the key that opens the existing templates is there
        add("keyring", True, f"Secret Service reachable; {len(users)} user(s) enrolled; fallback password "
            + ("set" if pw else "not set (the enrolment wizard sets it)"))  # fmt: skip
    except Exception as e:
        add("keyring", False, str(e), "start gnome-keyring (or another Secret Service) in your session")
    try:
        from faceunlock.capture import open_source

        with open_source(source) as src:
            frame = src.read()
        ok = frame is not None
        add("camera", ok, f"{src.description}: " + (f"{frame.shape[1]}×{frame.shape[0]} frames" if ok else "no frame"),
            "check the camera is connected, or use --source VIDEO|FOLDER")  # fmt: skip
    except Exception as e:
        add("camera", False, str(e), "connect a webcam, or pass --source VIDEO|FOLDER")
    import torch

    cuda = torch.cuda.is_available()
    add("device", True, f"torch {torch.__version__}; " + (f"CUDA: {torch.cuda.get_device_name(0)}" if cuda else
                                                          "no CUDA GPU: inference on CPU"))  # fmt: skip
    return out


def run(args) -> int:
    res = checks(args.weights, args.device, args.source)
    if args.json:
        emit_json({"ok": all(r["ok"] for r in res), "checks": res})
    else:
        for r in res:
            print(f"{'✓' if r['ok'] else '✗'} {r['name']:<12} {r['detail']}" + (f"\n    → {r['fix']}" if r["fix"] else ""))
    return 0 if all(r["ok"] for r in res) else 2
