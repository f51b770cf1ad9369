"""`faceunlock align SRC_DIR DST_DIR`: folder-per-person photos → aligned chips, with a report of what failed."""

from __future__ import annotations

from pathlib import Path

from faceunlock.cli.common import add_json, emit_json


def add_parser(sub) -> None:
    p = sub.add_parser("align", help="detect and align faces of a folder-per-person dataset",
                       description="Detect (MTCNN) and align every face in SRC_DIR/<person>/*, write PNG chips to "
                                   "DST_DIR/<person>/ (existing files are never overwritten) and report files "
                                   "without a usable face.")  # fmt: skip
    p.add_argument("src", type=Path, metavar="SRC_DIR")
    p.add_argument("dst", type=Path, metavar="DST_DIR")
    p.add_argument("--size", type=int, default=160, help="chip size for the box crop (default 160)")
    p.add_argument("--chip", choices=["box", "dlib"], default="box",
                   help="box: MTCNN box crop (InceptionResnetV1); dlib: 5-point similarity warp, 150 px")  # fmt: skip
    add_json(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import cv2

    from faceunlock.align import crop_box, warp_to_template
    from faceunlock.errors import DatasetError
    from faceunlock.facesets import DetectionCache, iter_detect_files, scan_identities

    ids = scan_identities(args.src)
    if not ids:
        raise DatasetError(f"{args.src}: no images in per-person sub-folders")
    files = [f for fs in ids.values() for f in fs]
    if args.chip == "dlib":
        from faceunlock.backbones.dlib_resnet import DLIB_TEMPLATE_150

        def cut(img, face):
            return warp_to_template(img, face.landmarks, DLIB_TEMPLATE_150, 150)
    else:
        def cut(img, face):
            return crop_box(img, face.box, args.size)
    cache = DetectionCache()
    written, skipped_existing, problems = 0, 0, []
    try:
        for det in iter_detect_files(files, cache=cache, progress=not args.json, keep_images=True):
            if det.face is None:
                problems.append(det.problem)
                continue
            out = args.dst / det.path.parent.name / (det.path.stem + ".png")
            if out.exists():
                skipped_existing += 1
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            chip = cut(det.image, det.face)
            if not cv2.imwrite(str(out), cv2.cvtColor(chip, cv2.COLOR_RGB2BGR)):
                problems.append(f"{out}: cannot write")
                continue
            written += 1
    finally:
        cache.close()
    ok = len(files) - len(problems)
    report = {"images": len(files), "aligned": ok, "written": written, "already_present": skipped_existing,
              "success_rate": ok / len(files), "problems": problems}  # fmt: skip
    if args.json:
        emit_json(report)
    else:
        for m in problems[:20]:
            print(f"  skipped: {m}")
        print(f"aligned {ok}/{len(files)} ({100 * ok / len(files):.2f} %), wrote {written} chips to {args.dst}"
              + (f", {skipped_existing} already there (kept)" if skipped_existing else ""))  # fmt: skip
    return 0
