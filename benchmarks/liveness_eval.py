"""How well does faceunlock.liveness tell a live face from a photo or a screen? Measured on the shared samples.

    python benchmarks/liveness_eval.py                     # ~2–4 min on one core
    python benchmarks/liveness_eval.py --fit shift         # the original's box handling, for comparison
    python benchmarks/liveness_eval.py --json out/liveness.json

Faces come from faceunlock.detect (MTCNN, choose_primary), as in the unlock path; frames without a face are
skipped (a LivenessSession is only offered frames with a face). Reported:
- per-frame score distributions on webcam-replay/real.mov (live) and fake.mp4 (phone replay), the still images
  and the face crops; AUC; APCER (attack frames scored live) and BPCER (live frames scored spoof) at the
  threshold, and a sweep;
- the multi-frame decision: a LivenessSession decides on its first `required` frames (a failed window is final),
  so every run of `required` consecutive face frames is one possible attempt; the rates are over those windows;
- milliseconds per frame for LivenessChecker.score (crops + both networks; detection not included).

fake.mp4 labels: in frames 0–26 and 110–112 the face MTCNN picks is the presenter's own live face (he holds the
phone beside or in front of it; checked by eye), not the replay. Those frames are reported apart as
"fake.mp4 presenter" and kept out of the attack set; the attack set is every other frame with a face (27–94:
MTCNN loses the replayed face once the phone turns, after frame 94).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from faceunlock.capture import open_source  # noqa: E402
from faceunlock.detect import FaceDetector, choose_primary  # noqa: E402
from faceunlock.images import load_image  # noqa: E402
from faceunlock.liveness import (  # noqa: E402
    DEFAULT_REQUIRED,
    DEFAULT_THRESHOLD,
    FIT_MODES,
    LivenessChecker,
    LivenessSession,
)
from tests.shared_data import DATA  # noqa: E402

FAKE_PRESENTER_FRAMES = frozenset([*range(0, 27), 110, 111, 112])
"""fake.mp4 frames whose primary face is the presenter's live face, not the replay (see the module docstring)."""


@dataclass
class Clip:
    """Scores of one source's frames that had a face; `index` is the frame number in the source."""

    name: str
    live: bool
    index: list[int] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    frames_total: int = 0
    patches: list[list[np.ndarray]] = field(default_factory=list)  # each network's 80×80 BGR input


def quantiles(x: list[float] | np.ndarray) -> str:
    a = np.asarray(x, dtype=float)
    if a.size == 0:
        return "n=0"
    q = np.percentile(a, [0, 5, 10, 50, 90, 95, 100])
    return (f"n={a.size:3d}  min {q[0]:.3f}  p5 {q[1]:.3f}  p10 {q[2]:.3f}  median {q[3]:.3f}  "
            f"p90 {q[4]:.3f}  p95 {q[5]:.3f}  max {q[6]:.3f}")  # fmt: skip


def auc(live: np.ndarray, attack: np.ndarray) -> float:
    """P(a live score > an attack score), ties half: the threshold-free separation."""
    if live.size == 0 or attack.size == 0:
        return float("nan")
    return float((live[:, None] > attack[None, :]).mean() + 0.5 * (live[:, None] == attack[None, :]).mean())


def window_means(scores: list[float], n: int) -> np.ndarray:
    """Mean of every run of n consecutive face frames: what a session deciding on its first n frames sees."""
    a = np.asarray(scores, dtype=float)
    if a.size < n:
        return np.empty(0)
    return np.convolve(a, np.ones(n) / n, mode="valid")


def session_agrees(checker: LivenessChecker, scores: list[float], threshold: float, n: int) -> bool:
    """Cross-check window_means against LivenessSession itself (same scores fed through `add`)."""
    s = LivenessSession(checker, threshold, n)
    for v in scores[:n]:
        s.add(v)
    return s.live == bool(window_means(scores[:n], n)[0] >= threshold) if len(scores) >= n else True


PIXEL_FORMATS = {
    "BGR 0..255 (used)": lambda p: p,
    "RGB 0..255": lambda p: p[:, :, ::-1],
    "BGR 0..1": lambda p: p / 255.0,
    "RGB 0..1": lambda p: p[:, :, ::-1] / 255.0,
}
"""What the networks could be fed; only the first separates live from attack (see the pixel-format section)."""


def score_as(checker: LivenessChecker, patches: list[np.ndarray], fmt: str) -> float:
    """The checker's score with its patches converted to another pixel format first."""
    probs = []
    with torch.inference_mode():
        for (_, net), patch in zip(checker.models, patches, strict=True):
            x = np.ascontiguousarray(PIXEL_FORMATS[fmt](patch.astype(np.float32)))
            probs.append(torch.softmax(net(torch.from_numpy(x).permute(2, 0, 1)[None]), 1)[0, 1].item())
    return float(np.mean(probs))


def score_video(path: Path, name: str, live: bool, detector: FaceDetector, checker: LivenessChecker,
                timings: list[float], exclude: frozenset[int] = frozenset()) -> tuple[Clip, Clip | None]:  # fmt: skip
    clip = Clip(name, live)
    other = Clip(f"{name.split()[0]} presenter", True) if exclude else None
    with open_source(str(path)) as src:
        for i, frame in enumerate(src):
            clip.frames_total += 1
            if other is not None:
                other.frames_total += 1
            face = choose_primary(detector.detect(frame), frame.shape)
            if face is None:
                continue
            t = time.perf_counter()
            s = checker.score(frame, face)
            timings.append((time.perf_counter() - t) * 1000)
            target = other if (other is not None and i in exclude) else clip
            target.index.append(i)
            target.scores.append(s)
            target.patches.append(checker.patches(frame, face))
    return clip, other


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    ap.add_argument(
        "--fit", choices=FIT_MODES, default="clip", help="how an enlarged box that leaves the frame is cut"
    )
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path, help="write every score and summary here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    thr = args.threshold
    live_dir = DATA / "liveness"
    if not live_dir.is_dir():
        print(f"shared data missing: {live_dir}", file=sys.stderr)
        return 2

    checker = LivenessChecker.load(fit=args.fit)
    detector = FaceDetector()
    timings: list[float] = []
    print(f"faceunlock.liveness: MiniFASNetV2 (2.7×) + MiniFASNetV1SE (4.0×), BGR 0..255, fit={args.fit}, "
          f"threshold {thr}, torch threads {args.threads}\n")  # fmt: skip

    # -- webcam replay ------------------------------------------------------------------------------------
    wr = live_dir / "webcam-replay"
    real, _ = score_video(wr / "real.mov", "real.mov", True, detector, checker, timings)
    fake, presenter = score_video(wr / "fake.mp4", "fake.mp4 attack", False, detector, checker, timings,
                                  FAKE_PRESENTER_FRAMES)  # fmt: skip
    replay, _ = score_video(
        live_dir / "crops" / "replay.mp4", "crops/replay.mp4", False, detector, checker, timings
    )
    assert presenter is not None
    clips = [real, presenter, fake, replay]
    print("Per-frame scores (probability of a live face), frames with a detected face:")
    for c in clips:
        kind = "live  " if c.live else "attack"
        print(f"  {kind} {c.name:22s} {len(c.scores):3d}/{c.frames_total:3d} frames  {quantiles(c.scores)}")
    fake_all = np.array(presenter.scores + fake.scores)
    print(f"  (all of fake.mp4 as one 'attack', presenter frames included: {quantiles(fake_all)})")

    r, a = np.array(real.scores), np.array(fake.scores)
    a_all = np.array(fake.scores + replay.scores)
    print("\nSeparation, real.mov (live) against the attack frames:")
    print(f"  AUC real.mov vs fake.mp4 attack frames            {auc(r, a):.4f}")
    print(f"  AUC real.mov vs fake.mp4 attack + replay.mp4      {auc(r, a_all):.4f}")
    print(f"  AUC real.mov vs ALL fake.mp4 frames (mislabelled) {auc(r, fake_all):.4f}")

    def rates(live_s: np.ndarray, att_s: np.ndarray, t: float) -> tuple[float, float]:
        apcer = float((att_s >= t).mean()) if att_s.size else float("nan")
        bpcer = float((live_s < t).mean()) if live_s.size else float("nan")
        return apcer, bpcer

    print(f"\nPer frame at threshold {thr}:")
    for label, live_s, att_s in [
        ("real.mov / fake.mp4 attack", r, a),
        ("real.mov / replay.mp4", r, np.array(replay.scores)),
        ("presenter (live, half hidden by the phone)", np.array(presenter.scores), np.empty(0)),
    ]:
        ap_, bp_ = rates(live_s, att_s, thr)
        print(f"  {label:44s} APCER {ap_:6.1%} ({int((att_s >= thr).sum())}/{att_s.size})   "
              f"BPCER {bp_:6.1%} ({int((live_s < thr).sum())}/{live_s.size})")  # fmt: skip

    print("\nThreshold sweep, per frame (APCER over fake.mp4 attack + replay.mp4, BPCER over real.mov):")
    for t in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        ap_, bp_ = rates(r, a_all, t)
        print(f"  {t:.1f}: APCER {ap_:6.1%}  BPCER {bp_:6.1%}")

    print(
        f"\nMulti-frame decision (LivenessSession, mean of the first N face frames ≥ {thr}), over every window:"
    )
    sessions = {}
    for n in (1, 3, DEFAULT_REQUIRED, 10):
        wr_, wa, wp = (
            window_means(real.scores, n),
            window_means(fake.scores, n),
            window_means(replay.scores, n),
        )
        wpres = window_means([v for i, v in zip(presenter.index, presenter.scores, strict=True) if i < 27], n)
        watt = np.concatenate([wa, wp])
        apcer, bpcer = rates(wr_, watt, thr)
        sessions[n] = {"apcer": apcer, "bpcer": bpcer, "windows_live": int(wr_.size), "windows_attack": int(watt.size),
                       "worst_live_window": float(wr_.min()), "best_attack_window": float(watt.max()),
                       "presenter_bpcer": float((wpres < thr).mean()) if wpres.size else None}  # fmt: skip
        print(f"  N={n:2d}: APCER {apcer:6.1%} ({int((watt >= thr).sum())}/{watt.size})  "
              f"BPCER {bpcer:6.1%} ({int((wr_ < thr).sum())}/{wr_.size})  "
              f"worst live window {wr_.min():.3f}, best attack window {watt.max():.3f}; "
              f"presenter windows rejected {sessions[n]['presenter_bpcer']:.1%}")  # fmt: skip
    assert session_agrees(checker, real.scores, thr, DEFAULT_REQUIRED)

    # -- still images -------------------------------------------------------------------------------------
    print("\nStill images (minivision's samples, EXIF-rotated upright by load_image):")
    stills: dict[str, float] = {}
    still_patches: dict[str, list[np.ndarray]] = {}
    for key, what in [("T1", "live"), ("F1", "printed poster"), ("F2", "tablet replay")]:
        img = load_image(live_dir / "still-images" / f"image_{key}.jpg")
        face = choose_primary(detector.detect(img), img.shape)
        if face is None:
            print(f"  image_{key} ({what}): no face found")
            continue
        p = checker.probabilities(img, face)
        stills[key] = float(p[:, 1].mean())
        still_patches[key] = checker.patches(img, face)
        verdict = "live" if stills[key] >= thr else "spoof"
        print(
            f"  image_{key} ({what:14s}) score {stills[key]:.3f}  (V2 {p[0, 1]:.3f}, V1SE {p[1, 1]:.3f}) → {verdict}"
        )

    # -- pixel format --------------------------------------------------------------------------------------
    print("\nPixel format check (same crops, other conversions before the networks):")
    formats = {}
    for fmt in PIXEL_FORMATS:
        fr = np.array([score_as(checker, p, fmt) for p in real.patches])
        fa = np.array([score_as(checker, p, fmt) for p in fake.patches + replay.patches])
        st = {k: score_as(checker, p, fmt) for k, p in still_patches.items()}
        formats[fmt] = {"auc": auc(fr, fa), "real_median": float(np.median(fr)), "attack_median": float(np.median(fa)),
                        "attack_max": float(fa.max()), **st}  # fmt: skip
        print(f"  {fmt:18s} AUC {auc(fr, fa):.3f}  real.mov median {np.median(fr):.3f}  attack median "
              f"{np.median(fa):.3f} max {fa.max():.3f}  | " + "  ".join(f"{k} {v:.3f}" for k, v in st.items()))  # fmt: skip

    # -- crops --------------------------------------------------------------------------------------------
    print("\nFace crops (tight faces, no surroundings). Three ways to feed them:")
    crops = {
        d: [load_image(f) for f in sorted((live_dir / "crops" / d).glob("*.png"))] for d in ("real", "fake")
    }
    crop_results = {}

    def padded(img: np.ndarray) -> tuple[np.ndarray, list[float]]:
        h, w = img.shape[:2]
        p = int(2 * max(h, w))
        return cv2.copyMakeBorder(img, p, p, p, p, cv2.BORDER_CONSTANT, value=0), [p, p, p + w, p + h]

    feeds = {
        "whole crop = face box": lambda im: checker.score(im, [0, 0, im.shape[1], im.shape[0]]),
        "MTCNN box inside crop": lambda im: (
            checker.score(im, f) if (f := choose_primary(detector.detect(im), im.shape)) is not None else None
        ),
        "crop on a black canvas": lambda im: checker.score(*padded(im)),
    }
    for feed, fn in feeds.items():
        res = {d: [fn(im) for im in ims] for d, ims in crops.items()}
        cr = np.array([s for s in res["real"] if s is not None])
        cf = np.array([s for s in res["fake"] if s is not None])
        ap_, bp_ = rates(cr, cf, thr)
        crop_results[feed] = {"real": cr.tolist(), "fake": cf.tolist()}
        print(f"  {feed}:  AUC {auc(cr, cf):.3f}  APCER {ap_:.1%}  BPCER {bp_:.1%}")
        print(f"      real {quantiles(cr)}")
        print(f"      fake {quantiles(cf)}")

    # -- speed --------------------------------------------------------------------------------------------
    img = load_image(live_dir / "still-images" / "image_T1.jpg")
    face = choose_primary(detector.detect(img), img.shape)
    assert face is not None
    for _ in range(5):
        checker.score(img, face)
    loop = []
    for _ in range(50):
        t = time.perf_counter()
        checker.score(img, face)
        loop.append((time.perf_counter() - t) * 1000)
    print(f"\nSpeed, LivenessChecker.score (crop + both networks, CPU, {args.threads} thread(s)):")
    print(f"  tight loop, 50 calls: median {statistics.median(loop):.2f} ms, "
          f"p90 {np.percentile(loop, 90):.2f} ms")  # fmt: skip
    print(f"  inside the video runs, {len(timings)} calls: median {statistics.median(timings):.2f} ms, "
          f"p90 {np.percentile(timings, 90):.2f} ms  (shared machine: load {Path('/proc/loadavg').read_text().split()[0]})")  # fmt: skip

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        out = {
            "threshold": thr, "fit": args.fit,
            "clips": {c.name: {"live": c.live, "index": c.index, "scores": c.scores, "frames": c.frames_total}
                      for c in clips},
            "sessions": sessions, "stills": stills, "crops": crop_results, "pixel_formats": formats,
            "ms_per_frame": {"loop": loop, "video": timings},
        }  # fmt: skip
        args.json.write_text(json.dumps(out, indent=1))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
