"""Frame → embedding latency: plain facenet-pytorch (as its README uses it) against faceunlock's pipeline.

Every method sees the SAME decoded frames in ONE process, interleaved frame by frame (A, B, C on frame 1,
then B, C, A on frame 2 …), so machine noise and cache effects hit all methods alike.

  baseline        facenet-pytorch README: MTCNN(image_size=160, margin=0)(frame) on the full frame → aligned
                  crop tensor → InceptionResnetV1(pretrained=None).eval()(crop[None])
  ours-inception  FaceProcessor(backbone).analyze(frame) (downscaled detection, quality gates, alignment)
                  → backbone.embed(chip[None]); backbone = faceunlock.weights.random_backbone("inception")
  ours-dlib       the same with resolve_backbone("dlib-resnet34") (the bundled, pretrained dlib ResNet-34)
  ours-stream     ours-dlib as an unlock attempt runs it: a FaceStream over each run of consecutive frames,
                  searching around the previous frame's face (decision 024), the whole frame on a run's first
                  frame, every 10th, and whenever the face is not found where it was

Frames are taken as runs of --run-length consecutive frames (default 10), the runs spread evenly over each
video: a camera feeds an unlock consecutive frames, and the stream follows the face only within a run.

Both InceptionResnetV1s carry random weights: the pretrained files cannot be downloaded here, and weight
values do not change the arithmetic, so the timings hold for the real model. Parts are timed separately:
detect (MTCNN), crop / align+quality (everything between detection and the network), embed (the network
plus its input/output conversion). Cold start (imports, model build, first frame) runs in fresh processes.

    python benchmarks/latency.py                       # 30 frames of each shared video, 2 threads
    python benchmarks/latency.py --frames 60 --threads 1 --json out/latency.json
    python benchmarks/latency.py --run-length 1         # every frame on its own (stops before 2026-12-05)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

# torch, cv2, facenet_pytorch and faceunlock are imported inside functions: the cold-start child process
# re-runs this file and must time those imports itself.

REPO = Path(__file__).resolve().parents[1]
DEFAULT_VIDEOS = (
    "liveness/webcam-replay/real.mov",
    "samples/facenet-pytorch/video.mp4",
    "samples/face_recognition/short_hamilton_clip.mp4",
)
def _has_dlib() -> bool:
    from importlib.util import find_spec

    return find_spec("dlib") is not None and find_spec("face_recognition_models") is not None


# Howdy's engine (two scalings, see HowdyDlib) runs when dlib-bin and face_recognition_models are installed
HOWDY = ("howdy-dlib", "howdy-shipped")
METHODS = ("baseline", "ours-inception", "ours-dlib", "ours-stream") + (HOWDY if _has_dlib() else ())
OURS = ("ours-dlib", "ours-stream")  # the product's two ways, each set against Howdy's engine
MID_LABEL = {"baseline": "select+crop", "ours-inception": "quality+align", "ours-dlib": "quality+align",
             "ours-stream": "quality+align",
             "howdy-dlib": "5 landmarks", "howdy-shipped": "5 landmarks"}  # fmt: skip
WEIGHTS_NOTE = (
    "InceptionResnetV1 weights are random in both baseline and ours-inception (pretrained files cannot be "
    "downloaded here); the network's cost does not depend on its weight values. ours-dlib uses the bundled "
    "pretrained dlib ResNet-34."
)


def shared_data_dir() -> Path:
    """../shared/data beside the checkout, or $FACEUNLOCK_SHARED (same rule as tests/shared_data.py)."""
    env = os.environ.get("FACEUNLOCK_SHARED")
    if env:
        p = Path(env).expanduser()
        return p / "data" if (p / "data").is_dir() else p
    return REPO.parent / "shared" / "data"


# -- frames ---------------------------------------------------------------------------------------------------
class VideoError(Exception):
    pass


@dataclass
class Video:
    path: Path
    width: int
    height: int
    total: int  # frames in the file
    indices: list[int]  # which frames were taken
    frames: list  # RGB uint8 arrays

    @property
    def name(self) -> str:
        return self.path.name


def load_video(path: Path, n: int, run_length: int = 1) -> Video:
    """`n` frames in runs of `run_length` consecutive frames, the runs spread evenly over the whole video,
    decoded once and kept in memory (RGB)."""
    import cv2
    import numpy as np

    if not path.is_file():
        raise VideoError(f"{path}: no such file")
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise VideoError(f"{path}: OpenCV cannot open it (unsupported or damaged video)")
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if total <= 0:  # some containers do not say: count by grabbing, then start again
            while cap.grab():
                total += 1
            cap.release()
            cap = cv2.VideoCapture(str(path))
        k = max(1, min(run_length, total))
        runs = max(1, min(-(-n // k), total // k))
        starts = np.linspace(0, max(total - k, 0), num=runs).round().astype(int)
        want = sorted({int(st) + j for st in starts for j in range(k)})[:n]
        wanted, frames, indices = set(want), [], []
        for i in range(want[-1] + 1 if want else 0):
            if not cap.grab():
                break
            if i in wanted:
                ok, bgr = cap.retrieve()
                if ok and bgr is not None:
                    frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
                    indices.append(i)
        if not frames:
            raise VideoError(f"{path}: opened, but no frame could be decoded")
        h, w = frames[0].shape[:2]
        return Video(path, w, h, max(total, indices[-1] + 1), indices, frames)
    finally:
        cap.release()


# -- methods --------------------------------------------------------------------------------------------------
@dataclass
class Sample:
    total: float  # ms, frame → embedding (or → "no embedding")
    detect: float  # ms inside MTCNN detection
    mid: float  # ms between detection and the network (baseline: select+crop; ours: choose+quality+align)
    embed: float | None  # ms for the network (None: nothing to embed on this frame)
    note: str = ""  # why there is no embedding


class _DetectTimer:
    """Wraps a bound `detect` method and accumulates the time spent in it (instance attribute override)."""

    def __init__(self, fn) -> None:
        self.fn, self.seconds = fn, 0.0

    def __call__(self, *args, **kwargs):
        t = time.perf_counter()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - t


class Baseline:
    """facenet-pytorch exactly as its README shows it (numpy RGB frame in; the frames are numpy already)."""

    key = "baseline"

    def __init__(self) -> None:
        from facenet_pytorch import MTCNN, InceptionResnetV1

        self.mtcnn = MTCNN(image_size=160, margin=0)
        self.resnet = InceptionResnetV1(pretrained=None).eval()
        self.timer = _DetectTimer(self.mtcnn.detect)
        self.mtcnn.detect = self.timer  # MTCNN.forward calls self.detect(img, landmarks=True)

    def run(self, frame) -> Sample:
        self.timer.seconds = 0.0
        t0 = time.perf_counter()
        crop = self.mtcnn(frame)
        t1 = time.perf_counter()
        if crop is None:
            return Sample(
                _ms(t1 - t0), _ms(self.timer.seconds), _ms(t1 - t0 - self.timer.seconds), None, "no face"
            )
        self.resnet(crop.unsqueeze(0))
        t2 = time.perf_counter()
        return Sample(_ms(t2 - t0), _ms(self.timer.seconds), _ms(t1 - t0 - self.timer.seconds), _ms(t2 - t1))


class Ours:
    """faceunlock's FaceProcessor.analyze (downscaled detect → choose → quality gates → align) → embed."""

    def __init__(self, key: str, backbone, stream: bool = False) -> None:
        from faceunlock.pipeline import FaceProcessor

        self.key = key
        self.backbone = backbone
        self.proc = FaceProcessor(backbone)
        self.timer = _DetectTimer(self.proc.detector.detect)
        self.proc.detector.detect = self.timer
        self.stream = None
        if stream:
            self.restart()

    def restart(self) -> None:
        """A new run of consecutive frames (a new attempt): the stream starts with a whole-frame search."""
        from faceunlock.pipeline import FaceStream

        self.stream = FaceStream(self.proc)

    def run(self, frame) -> Sample:
        self.timer.seconds = 0.0
        t0 = time.perf_counter()
        res = self.stream.analyze(frame) if self.stream is not None else self.proc.analyze(frame)
        t1 = time.perf_counter()
        det, mid = _ms(self.timer.seconds), _ms(t1 - t0 - self.timer.seconds)
        if not res.usable:
            if res.face is None:
                note = "no face"
            else:
                note = "; ".join(r.split(" (")[0] for r in res.quality.reasons) if res.quality else "rejected"
            return Sample(_ms(t1 - t0), det, mid, None, note)
        self.backbone.embed(res.chip[None])
        t2 = time.perf_counter()
        return Sample(_ms(t2 - t0), det, mid, _ms(t2 - t1))


def dlib_build() -> str | None:
    """Which dlib Howdy's engine runs on: its speed depends on the build (the PyPI wheel dlib-bin has no BLAS;
    Howdy's installer compiles dlib, which finds OpenBLAS when it is installed — Howdy's package recommends it)."""
    if not _has_dlib():
        return None
    import dlib

    return (f"{dlib.__version__} from {Path(dlib.__file__).parent}, BLAS {dlib.DLIB_USE_BLAS}, "
            f"AVX {dlib.USE_AVX_INSTRUCTIONS}")  # fmt: skip


def _dlib_models() -> Path:
    from importlib.util import find_spec

    spec = find_spec("face_recognition_models")  # located, not imported: its __init__ needs pkg_resources
    return Path(next(iter(spec.submodule_search_locations))) / "models"


class HowdyDlib:
    """Howdy's engine: dlib's HOG detector with one upsample on the grey frame, the 5-point shape, then dlib's
    ResNet descriptor (face_recognition_models' files). Needs `pip install dlib-bin face_recognition_models`
    (not part of faceunlock's set-up). Two ways to scale the frame first:

      howdy-dlib     as issue 13 describes it: scaled to 640 px wide, first face only
      howdy-shipped  as Howdy's compare.py runs with its shipped config.ini: CLAHE (clip 2, 8×8 tiles) on the
                     grey frame and its darkness histogram, then colour and grey frames scaled to max_height =
                     320 px (INTER_AREA), landmarks and a descriptor for every face found (compare.py loops
                     over all of them)
    """

    def __init__(self, key: str = "howdy-dlib") -> None:
        import dlib

        m = _dlib_models()
        self.key = key
        self.shipped = key == "howdy-shipped"
        self.detector = dlib.get_frontal_face_detector()
        self.shape = dlib.shape_predictor(str(m / "shape_predictor_5_face_landmarks.dat"))
        self.encoder = dlib.face_recognition_model_v1(str(m / "dlib_face_recognition_resnet_model_v1.dat"))
        if self.shipped:
            import cv2

            self.clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))

    def _small(self, frame):
        import cv2

        h, w = frame.shape[:2]
        if self.shipped:  # compare.py's order: grey + CLAHE at full size, the 8-bin darkness histogram, then both
            grey = self.clahe.apply(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY))  # frames scaled by max_height / h
            cv2.calcHist([grey], [0], None, [8], [0, 256])
            f = HOWDY_MAX_HEIGHT / h
            if f == 1:
                return frame, grey
            return (cv2.resize(frame, None, fx=f, fy=f, interpolation=cv2.INTER_AREA),
                    cv2.resize(grey, None, fx=f, fy=f, interpolation=cv2.INTER_AREA))  # fmt: skip
        small = cv2.resize(frame, (640, round(h * 640 / w)), interpolation=cv2.INTER_AREA) if w > 640 else frame
        return small, cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)

    def run(self, frame) -> Sample:
        t0 = time.perf_counter()
        small, grey = self._small(frame)
        faces = list(self.detector(grey, 1))
        t1 = time.perf_counter()
        if not faces:
            return Sample(_ms(t1 - t0), _ms(t1 - t0), 0.0, None, "no face")
        mid = enc = 0.0
        for face in faces if self.shipped else faces[:1]:
            ta = time.perf_counter()
            shape = self.shape(small, face)
            tb = time.perf_counter()
            self.encoder.compute_face_descriptor(small, shape, 1)
            mid, enc = mid + tb - ta, enc + time.perf_counter() - tb
        return Sample(_ms(time.perf_counter() - t0), _ms(t1 - t0), _ms(mid), _ms(enc))


HOWDY_MAX_HEIGHT = 320  # Howdy's config.ini, [video] max_height


class ReferenceMTCNN:
    """facenet-pytorch's own MTCNN behind faceunlock.mtcnn.MTCNN's `detect` signature: the unoptimised path that
    the equivalence check compares ours with (same frames, same choice, gates, alignment and network)."""

    def __init__(self) -> None:
        from facenet_pytorch import MTCNN

        self.mtcnn = MTCNN(device="cpu")

    def detect(self, image, min_face_size: int = 20, thresholds=(0.6, 0.7, 0.7), zone=None):
        import numpy as np

        if zone is not None:
            raise ValueError("the unoptimised path searches whole frames only")

        self.mtcnn.min_face_size, self.mtcnn.thresholds = min_face_size, list(thresholds)
        boxes, probs, points = self.mtcnn.detect(image, landmarks=True)
        if boxes is None:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32)
        return boxes.astype(np.float32), probs.astype(np.float32), points.astype(np.float32)


def equivalence(videos: list[Video]) -> dict[str, dict]:
    """Per video: the largest L2 difference between ours-dlib's embedding (the product: faceunlock.mtcnn and the
    network on ONNX Runtime) and the unoptimised path's (facenet-pytorch's MTCNN, the network in torch; the same
    choice, gates and alignment), and frames where only one embedded."""
    import numpy as np

    from faceunlock.pipeline import FaceProcessor, FaceStream
    from faceunlock.weights import resolve_backbone

    mine, plain = resolve_backbone("dlib-resnet34", compiled=True), resolve_backbone("dlib-resnet34")
    ours, ref = FaceProcessor(mine), FaceProcessor(plain)
    ref.detector._mtcnn = ReferenceMTCNN()
    out = {}
    for v in videos:
        diffs, only_one = [], 0
        sd, s_only, followed, stream = [], 0, 0, FaceStream(ours)
        for i, frame in enumerate(v.frames):
            a, b = ours.analyze(frame), ref.analyze(frame)
            if a.usable and b.usable:
                ea, eb = mine.embed(a.chip[None])[0], plain.embed(b.chip[None])[0]
                diffs.append(float(np.linalg.norm(ea - eb)))
            elif a.usable != b.usable:
                only_one += 1
            if i and v.indices[i] != v.indices[i - 1] + 1:
                stream = FaceStream(ours)
            c = stream.analyze(frame)
            followed += c.followed
            if a.usable and c.usable:
                sd.append(float(np.linalg.norm(mine.embed(a.chip[None])[0] - mine.embed(c.chip[None])[0])))
            elif a.usable != c.usable:
                s_only += 1
        out[v.name] = {"compared": len(diffs), "max_l2": max(diffs, default=None), "only_one_embedded": only_one,
                       "stream": {"frames": len(v.frames), "followed": followed, "compared": len(sd),
                                  "identical": sum(d == 0.0 for d in sd), "max_l2": max(sd, default=None),
                                  "only_one_embedded": s_only}}  # fmt: skip
    return out


def _ms(seconds: float) -> float:
    return seconds * 1000.0


def build_methods():
    from faceunlock.weights import random_backbone, resolve_backbone

    return [
        Baseline(),
        Ours("ours-inception", random_backbone("inception")),
        Ours("ours-dlib", resolve_backbone("dlib-resnet34", compiled=True)),  # as the product unlocks (decision 023)
        Ours("ours-stream", resolve_backbone("dlib-resnet34", compiled=True), stream=True),  # decision 024
    ] + [HowdyDlib(k) for k in HOWDY if k in METHODS]


# -- statistics -----------------------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float | None:
    """Percentile with linear interpolation (numpy's default), None for no values."""
    if not values:
        return None
    v = sorted(values)
    k = (len(v) - 1) * q / 100.0
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def summarize(samples: list[Sample]) -> dict:
    emb = [s for s in samples if s.embed is not None]
    tot = [s.total for s in samples]
    return {
        "frames": len(samples),
        "embedded": len(emb),
        "total_median": pct(tot, 50),
        "total_p90": pct(tot, 90),
        "total_mean": statistics.fmean(tot) if tot else None,
        "total_min": min(tot) if tot else None,
        "detect_median": pct([s.detect for s in samples], 50),
        "mid_median": pct([s.mid for s in samples], 50),
        "embed_median": pct([s.embed for s in emb], 50),
        "embedded_total_median": pct([s.total for s in emb], 50),
        "not_embedded": dict(Counter(s.note for s in samples if s.embed is None)),
    }


def paired_ratio(base: list[Sample], other: list[Sample]) -> float | None:
    """Median over frames of baseline_ms / other_ms on the same frame: robust to load that drifts over the run."""
    r = [b.total / o.total for b, o in zip(base, other, strict=True) if o.total > 0]
    return pct(r, 50)


# -- the benchmark --------------------------------------------------------------------------------------------
def bench(videos: list[Video], warmup: int, progress: bool) -> dict[str, dict[str, list[Sample]]]:
    import torch
    from tqdm import tqdm

    methods = build_methods()
    results: dict[str, dict[str, list[Sample]]] = {}
    steps = sum(min(warmup, len(v.frames)) + len(v.frames) for v in videos)
    with (
        torch.inference_mode(),
        tqdm(total=steps, unit="frame", disable=not progress, file=sys.stderr) as bar,
    ):
        for v in videos:
            # a new frame size means new MTCNN pyramid shapes: warm up on this video's own frames, untimed
            bar.set_description(f"{v.name} warm-up")
            for frame in v.frames[:warmup]:
                for m in methods:
                    if getattr(m, "stream", None) is not None:
                        m.restart()
                    m.run(frame)
                bar.update()
            bar.set_description(v.name)
            per = {m.key: [] for m in methods}
            for i, frame in enumerate(v.frames):
                if i == 0 or v.indices[i] != v.indices[i - 1] + 1:  # a new run: streams start afresh
                    for m in methods:
                        if getattr(m, "stream", None) is not None:
                            m.restart()
                k = i % len(methods)  # rotate who goes first: A B C, B C A, C A B …
                for m in methods[k:] + methods[:k]:
                    per[m.key].append(m.run(frame))
                bar.update()
            results[v.name] = per
    return results


COLD_CODE = {
    "baseline": (
        "import torch\nfrom facenet_pytorch import MTCNN, InceptionResnetV1",
        "mtcnn = MTCNN(image_size=160, margin=0)\nresnet = InceptionResnetV1(pretrained=None).eval()",
        "crop = mtcnn(frame)\nif crop is not None:\n    resnet(crop.unsqueeze(0))",
    ),
    "ours-inception": (
        "import torch\nfrom faceunlock.pipeline import FaceProcessor\nfrom faceunlock.weights import random_backbone",
        "proc = FaceProcessor(random_backbone('inception'))",
        "r = proc.analyze(frame)\nif r.usable:\n    proc.backbone.embed(r.chip[None])",
    ),
    "ours-dlib": (  # no torch: the product's unlock path never imports it (decision 023)
        "from faceunlock.pipeline import FaceProcessor\nfrom faceunlock.weights import resolve_backbone",
        "proc = FaceProcessor(resolve_backbone('dlib-resnet34', compiled=True))",
        "r = proc.analyze(frame)\nif r.usable:\n    proc.backbone.embed(r.chip[None])",
    ),
    "howdy-dlib": (
        "import sys\nsys.path.insert(0, '.')\nimport torch\nfrom benchmarks.latency import HowdyDlib",  # torch: the harness sets threads
        "h = HowdyDlib()",
        "h.run(frame)",
    ),
}
COLD_CODE["howdy-shipped"] = (COLD_CODE["howdy-dlib"][0], "h = HowdyDlib('howdy-shipped')", "h.run(frame)")
COLD = tuple(m for m in METHODS if m in COLD_CODE)  # a stream's first frame is ours-dlib's: no cold run of its own


def cold_child(method: str, video: Path, threads: int) -> None:
    """Runs in a fresh interpreter: time imports, model build, the first and a second frame; print JSON."""
    t0 = time.perf_counter()
    import cv2  # needed to read the frame; timed on its own, not charged to either method

    cap = cv2.VideoCapture(str(video))
    ok, bgr = cap.read()
    cap.release()
    if not ok:
        raise SystemExit(f"error: cannot read a frame from {video}")
    frame = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    cv2.setNumThreads(threads)
    t1 = time.perf_counter()
    imports, build, run = COLD_CODE[method]
    ns: dict = {"frame": frame}
    exec(imports, ns)
    if "torch" in ns:
        ns["torch"].set_num_threads(threads)
    else:  # ours-dlib: ONNX Runtime sessions read the thread count when they are made
        os.environ["FACEUNLOCK_THREADS"] = str(threads)
    t2 = time.perf_counter()
    exec(build, ns)
    t3 = time.perf_counter()
    with ns["torch"].inference_mode() if "torch" in ns else contextlib.nullcontext():
        exec(run, ns)
        t4 = time.perf_counter()
        exec(run, ns)
        t5 = time.perf_counter()
    rss_mib = peak_rss_mib()
    print(json.dumps({"method": method, "cv2_and_read_s": t1 - t0, "import_s": t2 - t1, "build_s": t3 - t2,
                      "first_frame_s": t4 - t3, "second_frame_s": t5 - t4, "peak_rss_mib": rss_mib}))  # fmt: skip


def peak_rss_mib() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: getrusage keeps the forking parent's peak across exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cold_start(video: Path, threads: int, repeats: int) -> list[dict]:
    out = []
    for r in range(repeats):
        for method in COLD[r % len(COLD):] + COLD[: r % len(COLD)]:  # fmt: skip
            cmd = [sys.executable, str(Path(__file__).resolve()), "--cold-child", method,
                   "--cold-video", str(video), "--threads", str(threads)]  # fmt: skip
            t = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
            wall = time.perf_counter() - t
            if proc.returncode != 0:
                print(
                    f"warning: cold start of {method} failed:\n{proc.stderr.strip()[-2000:]}", file=sys.stderr
                )
                continue
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            row["process_wall_s"] = wall
            out.append(row)
    return out


# -- output ---------------------------------------------------------------------------------------------------
def _f(x: float | None, fmt: str = "{:.1f}") -> str:
    return "—" if x is None else fmt.format(x)


def print_report(videos: list[Video], results: dict, cold: list[dict], meta: dict, same: dict) -> None:
    print(f"faceunlock latency benchmark — {meta['date']}")
    print(f"  torch {meta['torch']}, facenet-pytorch {meta['facenet_pytorch']}, {meta['threads']} thread(s), "
          f"{meta['cpu_count']} CPU(s), load average {meta['loadavg_before']} before / "
          f"{meta['loadavg_after']} after")  # fmt: skip
    if meta.get("dlib"):
        print(f"  dlib (Howdy's engine): {meta['dlib']}")
    print(f"  note: {WEIGHTS_NOTE}")
    print(
        "  times in ms; total = frame in → embedding out (frames with no usable face stop early and count too);"
    )
    print("  parts are medians; base/this = baseline median / this median; paired = median over frames of")
    print(
        "  baseline ms / this ms on the same frame; med|embedded = median over the frames this method embedded"
    )
    for v in videos:
        per = results[v.name]
        sums = {k: summarize(s) for k, s in per.items()}
        base = sums["baseline"]["total_median"]
        print()
        runs = 1 + sum(1 for a, b in zip(v.indices, v.indices[1:], strict=False) if b != a + 1)
        print(f"== {v.name}  {v.width}×{v.height}, {len(v.frames)} frames in {runs} run(s) of consecutive frames "
              f"spread over {v.total} ==")  # fmt: skip
        print(f"{'method':<16}{'median':>8}{'p90':>8}{'min':>7}{'detect':>9}{'crop/align+q':>14}{'embed':>8}"
              f"{'embedded':>10}{'base/this':>11}{'paired':>8}{'med|embedded':>14}")  # fmt: skip
        for k in METHODS:
            s = sums[k]
            ratio = base / s["total_median"] if base and s["total_median"] else None
            paired = paired_ratio(per["baseline"], per[k])
            print(f"{k:<16}{_f(s['total_median']):>8}{_f(s['total_p90']):>8}{_f(s['total_min']):>7}"
                  f"{_f(s['detect_median']):>9}{_f(s['mid_median'], '{:.2f}'):>14}{_f(s['embed_median']):>8}"
                  f"{s['embedded']:>6}/{s['frames']:<3}{_f(ratio, '{:.2f}×'):>11}{_f(paired, '{:.2f}×'):>8}"
                  f"{_f(s['embedded_total_median']):>14}")  # fmt: skip
        common = [i for i in range(len(v.frames)) if all(per[k][i].embed is not None for k in METHODS)]
        if common and len(common) < len(v.frames):
            meds = {k: pct([per[k][i].total for i in common], 50) for k in METHODS}
            line = ", ".join(f"{k} {meds[k]:.1f}" for k in METHODS)
            print(f"  on the {len(common)} frames every method embedded, median: {line}"
                  f" (base/ours-inception {meds['baseline'] / meds['ours-inception']:.2f}×,"
                  f" base/ours-dlib {meds['baseline'] / meds['ours-dlib']:.2f}×)")  # fmt: skip
        elif not common:
            print("  no frame was embedded by every method")
        for k in METHODS:
            if sums[k]["not_embedded"]:
                why = ", ".join(
                    f"{n}× {note}" for note, n in sorted(sums[k]["not_embedded"].items(), key=lambda x: -x[1])
                )
                print(f"  {k} did not embed: {why}")
    print()
    print("== summary: median frame → embedding ms (baseline / ours) ==")
    print(f"{'video':<26}{'baseline':>10}" + "".join(f"{k:>32}" for k in METHODS[1:]))
    for v in videos:
        med = {k: pct([s.total for s in results[v.name][k]], 50) for k in METHODS}
        cells = [
            f"{med[k]:.1f} ({med['baseline'] / med[k]:.2f}×, paired "
            f"{paired_ratio(results[v.name]['baseline'], results[v.name][k]):.2f}×)"
            for k in METHODS[1:]
        ]
        print(f"{v.name:<26}{med['baseline']:>10.1f}" + "".join(f"{c:>32}" for c in cells))
    for hk in (k for k in HOWDY if k in METHODS):
        how = {"howdy-dlib": "frames scaled to 640 px wide, as issue 13 describes",
               "howdy-shipped": f"Howdy's shipped config: max_height {HOWDY_MAX_HEIGHT}, CLAHE, every face"}[hk]
        print()
        print(f"== ours against Howdy's engine, {hk} (dlib HOG + ResNet; {how}): howdy ms / ours ms, "
              "median (mean) ==")  # fmt: skip
        for ok in OURS:
            for v in videos:
                h, o = results[v.name][hk], results[v.name][ok]
                mh, mo = pct([s.total for s in h], 50), pct([s.total for s in o], 50)
                ah, ao = statistics.fmean(s.total for s in h), statistics.fmean(s.total for s in o)
                print(f"{ok:<12} {v.name:<26} howdy {mh:7.1f} ({ah:5.1f})  ours {mo:6.1f} ({ao:5.1f})  "
                      f"{mh / mo:5.2f}× ({ah / ao:5.2f}×, paired {paired_ratio(h, o):.2f}×)")  # fmt: skip
    if same:
        print()
        print("== embeddings: ours-dlib against the unoptimised path (facenet-pytorch's MTCNN, same alignment and "
              "network) ==")  # fmt: skip
        for name, e in same.items():
            mx = "—" if e["max_l2"] is None else f"{e['max_l2']:.2e}"
            print(f"{name:<26} {e['compared']} frames embedded by both, largest L2 difference {mx}, "
                  f"{e['only_one_embedded']} embedded by only one")  # fmt: skip
        print("== embeddings: ours-stream (following the face) against ours-dlib (the whole frame searched) ==")
        for name, e in same.items():
            st = e["stream"]
            mx = "—" if st["max_l2"] is None else f"{st['max_l2']:.2e}"
            print(f"{name:<26} {st['followed']} of {st['frames']} frames followed; of the frames both embedded "
                  f"({st['compared']}), {st['identical']} bit-identical, largest L2 difference {mx}; "
                  f"{st['only_one_embedded']} embedded by only one")  # fmt: skip
    if cold:
        print()
        print(f"== cold start: fresh python process, {meta['threads']} thread(s), page cache warm, "
              f"first frame of {videos[0].name} ==")  # fmt: skip
        print(f"{'method':<16}{'import s':>10}{'build s':>9}{'ready s':>9}{'1st frame s':>13}{'2nd frame s':>13}"
              f"{'process s':>11}{'peak RSS MiB':>14}")  # fmt: skip
        for c in cold:
            print(f"{c['method']:<16}{c['import_s']:>10.2f}{c['build_s']:>9.2f}{c['import_s'] + c['build_s']:>9.2f}"
                  f"{c['first_frame_s']:>13.3f}{c['second_frame_s']:>13.3f}{c['process_wall_s']:>11.2f}"
                  f"{c['peak_rss_mib']:>14.0f}")  # fmt: skip
        print(
            "  (import includes `import torch`; process s = the whole subprocess, interpreter start and exit "
            "included; cv2 import + frame read are excluded from import s)"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="benchmarks/latency.py",
        description="Frame → embedding latency on the shared videos: facenet-pytorch README usage (baseline) "
        "vs faceunlock's FaceProcessor with InceptionResnetV1 and with the bundled dlib ResNet-34, on the same "
        "frames, interleaved frame by frame. " + WEIGHTS_NOTE,
    )
    ap.add_argument(
        "--frames", type=int, default=30, help="frames per video, spread evenly over the video (default 30)"
    )
    ap.add_argument("--run-length", type=int, default=10, metavar="K",
                    help="take the frames as runs of K consecutive frames spread over each video (default 10; "
                         "1 = every frame on its own, as stops before 2026-12-05 measured)")  # fmt: skip
    ap.add_argument(
        "--threads", type=int, default=2, help="torch.set_num_threads and cv2.setNumThreads (default 2)"
    )
    ap.add_argument(
        "--warmup",
        type=int,
        default=3,
        help="untimed frames per video before timing, all methods (default 3)",
    )
    ap.add_argument("--videos", nargs="+", type=Path, metavar="VIDEO",
                    help="videos to use (default: the three shared videos under --data)")  # fmt: skip
    ap.add_argument(
        "--data",
        type=Path,
        default=shared_data_dir(),
        help="shared data folder (default: ../shared/data beside the checkout, or $FACEUNLOCK_SHARED)",
    )
    ap.add_argument("--json", type=Path, metavar="OUT", help="also write all numbers (per frame too) here")
    ap.add_argument("--no-cold", action="store_true", help="skip the cold-start subprocesses (~30 s)")
    ap.add_argument("--cold-repeats", type=int, default=1, help="cold-start runs per method (default 1)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    ap.add_argument("--cold-child", choices=COLD, help=argparse.SUPPRESS)
    ap.add_argument("--cold-video", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.frames < 1 or args.threads < 1 or args.warmup < 0 or args.cold_repeats < 1 or args.run_length < 1:
        ap.error("--frames, --threads, --run-length and --cold-repeats must be ≥ 1, --warmup ≥ 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.cold_child:
        cold_child(args.cold_child, args.cold_video, args.threads)
        return 0

    paths = args.videos or [args.data / v for v in DEFAULT_VIDEOS]
    videos = []
    for p in paths:  # open everything before any timing: a bad path fails in a second, not after minutes
        try:
            videos.append(load_video(p, args.frames, args.run_length))
        except VideoError as e:
            print(f"error: cannot open video {e}", file=sys.stderr)
            return 2

    import cv2
    import torch

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    os.environ["FACEUNLOCK_THREADS"] = str(args.threads)  # faceunlock's ONNX Runtime sessions read it when made
    from importlib.metadata import version

    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "torch": torch.__version__,
        "facenet_pytorch": version("facenet-pytorch"),
        "opencv": cv2.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "threads": args.threads,
        "warmup": args.warmup,
        "order": "interleaved per frame, first method rotated each frame",
        "weights_note": WEIGHTS_NOTE,
        "loadavg_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "dlib": dlib_build(),
    }
    results = bench(videos, args.warmup, progress=not args.no_progress)
    meta["loadavg_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    same = equivalence(videos)
    cold = [] if args.no_cold else cold_start(videos[0].path, args.threads, args.cold_repeats)
    print_report(videos, results, cold, meta, same)

    if args.json:
        doc = {
            "meta": meta,
            "videos": [
                {
                    "name": v.name,
                    "path": str(v.path),
                    "size": [v.width, v.height],
                    "frames_in_file": v.total,
                    "frame_indices": v.indices,
                    "mid_labels": MID_LABEL,
                    "methods": {
                        k: {
                            "summary": summarize(s),
                            "paired_ratio_vs_baseline": paired_ratio(results[v.name]["baseline"], s),
                            "samples": [asdict(x) for x in s],
                        }
                        for k, s in results[v.name].items()
                    },
                }
                for v in videos
            ],
            "cold_start": cold,
            "equivalence": same,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=1))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
