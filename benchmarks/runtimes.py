"""The unlock path's six networks under three inference runtimes, side by side: torch (what shipped before
decision 023, and what runs on CUDA), ONNX Runtime (what ships) and OpenVINO — time per frame, largest output
difference, and the memory a process needs to hold and run them.

Why: after decision 020/022 the arithmetic of a frame is fixed (P-Net, R-Net, O-Net, the dlib ResNet and the two
liveness networks); what is left to choose is who executes it. Torch is also what costs the unlock path most of
its memory (`import torch` alone holds ~280 MiB of anonymous memory with the CUDA build, decision 021).

What it does:
1. Runs faceunlock's own pipeline (FaceProcessor with the bundled dlib ResNet, then LivenessChecker) on `--frames`
   frames of each video and records every network input it makes — real pyramid levels, real R-Net/O-Net batches,
   real chips and liveness patches.
2. Exports the six networks to ONNX (torch.onnx, dynamic batch / image size) in a temporary folder.
3. Per network: all recorded inputs through each runtime, the runtimes interleaved, `--repeats` times; prints ms
   per frame (median over repeats), torch / runtime, and the largest absolute output difference from torch.
4. Whole frame: three FaceProcessors whose networks run on torch, ONNX Runtime and OpenVINO (the MTCNN glue,
   gates and alignment are the product's, unchanged), interleaved frame by frame; median ms per frame, the
   ratio, and the largest L2 difference between their embeddings and torch's on the same frames.
5. Memory (skip with --no-memory): a fresh process per runtime that imports only that runtime (and numpy), loads
   the six networks and runs five frames' inputs; RSS and anonymous RSS after import, after loading, after running.

ONNX Runtime and OpenVINO are not dependencies of faceunlock: `pip install onnx onnxruntime openvino` into the
venv first (a runtime that does not import is left out of the tables).

    python benchmarks/runtimes.py                     # 20 frames of each shared video, 1 thread (the product's)
    python benchmarks/runtimes.py --threads 2 --videos ../shared/data/liveness/webcam-replay/real.mov
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
NETS = ("pnet", "rnet", "onet", "resnet", "live0", "live1")
RUNTIMES = ("torch", "onnxruntime", "openvino")


def available_runtimes() -> list[str]:
    from importlib.util import find_spec

    return ["torch"] + [r for r in RUNTIMES[1:] if find_spec(r) is not None]


def rss() -> dict[str, int]:
    """MiB from /proc/self/status: rss and anon."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        k, _, v = line.partition(":")
        if k in ("VmRSS", "RssAnon"):
            out["rss" if k == "VmRSS" else "anon"] = int(v.split()[0]) // 1024
    return out


# -- runners: numpy NCHW in, list of numpy arrays out ---------------------------------------------------------
class OpenVinoRunner:
    def __init__(self, path: Path, threads: int) -> None:
        import openvino as ov

        config = {
            "INFERENCE_NUM_THREADS": threads,
            "INFERENCE_PRECISION_HINT": "f32",
            "PERFORMANCE_HINT": "LATENCY",
        }
        self.request = ov.Core().compile_model(str(path), "CPU", config).create_infer_request()

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        return [np.array(v) for v in self.request.infer({0: x}).values()]


def make_runner(runtime_name: str, name: str, onnx_dir: Path, threads: int, torch_nets: dict | None = None):
    """torch and ONNX Runtime exactly as faceunlock runs them (faceunlock.runtime's TorchGraph / OnnxGraph)."""
    from faceunlock import runtime

    if runtime_name == "torch":
        return runtime.TorchGraph(torch_nets[name], channels_last=True)
    if runtime_name == "onnxruntime":
        return runtime.OnnxGraph(onnx_dir / f"{name}.onnx", threads)
    return OpenVinoRunner(onnx_dir / f"{name}.onnx", threads)


# -- the product's networks and their recorded inputs ---------------------------------------------------------
def torch_networks():
    """The six networks as torch modules, loaded the way faceunlock loads them for training and export."""
    from faceunlock import mtcnn_nets
    from faceunlock.backbones.dlib_resnet import load_bundled
    from faceunlock.liveness import MODEL_DIR, MODEL_FILES
    from faceunlock.minifasnet import load_minifasnet

    nets = {n: mtcnn_nets.load(n) for n in ("pnet", "rnet", "onet")}
    nets["resnet"] = load_bundled().net
    nets.update({f"live{i}": load_minifasnet(MODEL_DIR / m.filename, m.spec) for i, m in enumerate(MODEL_FILES)})
    return nets


def export(nets: dict, inputs: dict[str, list[np.ndarray]], folder: Path) -> None:
    """Each network to folder/NAME.onnx with faceunlock's own exporter (faceunlock/runtime.py)."""
    from faceunlock import runtime

    for name, net in nets.items():
        dynamic = {2: "h", 3: "w"} if name == "pnet" else {0: "n"}
        (folder / f"{name}.onnx").write_bytes(runtime.export_bytes(runtime.Export(net, inputs[name].shape, dynamic)))


class Recorder:
    """Wraps a graph (numpy in, numpy out): records each input under its network's name, then runs it."""

    def __init__(self, graph, name: str, log: dict) -> None:
        self.graph, self.name, self.log = graph, name, log

    def __call__(self, x):
        self.log.setdefault(self.name, []).append(np.ascontiguousarray(x))
        return self.graph(x)


def product_processor():
    """The unlock path as it ships: FaceProcessor over the compiled backbone, graphs on ONNX Runtime."""
    from faceunlock.pipeline import FaceProcessor
    from faceunlock.weights import resolve_backbone

    return FaceProcessor(resolve_backbone("dlib-resnet34", compiled=True))


def record(frames: list[np.ndarray]) -> list[dict[str, list[np.ndarray]]]:
    """Every network input the product makes, frame by frame (one dict per frame)."""
    from faceunlock.liveness import LivenessChecker

    proc, live = product_processor(), LivenessChecker.load()
    m, per_frame = proc.detector._mtcnn, []
    for frame in frames:
        log: dict[str, list[np.ndarray]] = {}
        saved = m.pnet, m.rnet, m.onet, proc.backbone.graph
        m.pnet, m.rnet, m.onet = (Recorder(n, k, log) for n, k in zip(saved[:3], ("pnet", "rnet", "onet"), strict=True))
        proc.backbone.graph = Recorder(saved[3], "resnet", log)
        try:
            r = proc.analyze(frame)
            if r.usable:
                proc.backbone.embed(r.chip[None])
        finally:
            m.pnet, m.rnet, m.onet, proc.backbone.graph = saved
        if r.face is not None:
            for i, patch in enumerate(live.patches(frame, r.face)):
                log[f"live{i}"] = [np.ascontiguousarray(patch.transpose(2, 0, 1)[None].astype(np.float32))]
        per_frame.append(log)
    return per_frame


def swapped_processor(runtime_name: str, onnx_dir: Path, threads: int):
    """The product's FaceProcessor with its four networks run by `runtime_name` (glue, gates, alignment unchanged):
    torch = the modules (FACEUNLOCK_RUNTIME=torch, as on CUDA), onnxruntime = exactly what ships."""
    from faceunlock import runtime
    from faceunlock.pipeline import FaceProcessor
    from faceunlock.weights import resolve_backbone

    if runtime_name == "torch":
        os.environ[runtime.RUNTIME_ENV] = "torch"
        try:
            return FaceProcessor(resolve_backbone("dlib-resnet34"))
        finally:
            del os.environ[runtime.RUNTIME_ENV]
    proc = product_processor()
    if runtime_name == "openvino":
        m = proc.detector._mtcnn
        m.pnet, m.rnet, m.onet = (make_runner("openvino", k, onnx_dir, threads) for k in ("pnet", "rnet", "onet"))
        proc.backbone.graph = make_runner("openvino", "resnet", onnx_dir, threads)
    return proc


# -- measurements ---------------------------------------------------------------------------------------------
def per_network(recorded, runtimes, onnx_dir, threads, repeats, torch_nets) -> dict:
    runners = {r: {n: make_runner(r, n, onnx_dir, threads, torch_nets) for n in NETS} for r in runtimes}
    out = {}
    for name in NETS:
        xs = [x for log in recorded for x in log.get(name, [])]
        if not xs:
            continue
        ref = [runners["torch"][name](x) for x in xs]
        row = {"calls": len(xs), "ms_per_frame": {}, "max_abs_diff": {}}
        times = {r: [] for r in runtimes}
        for r in runtimes:  # warm-up: first calls of a new shape build kernels
            for x in xs[: min(len(xs), 8)]:
                runners[r][name](x)
        for k in range(repeats):
            for r in runtimes[k % len(runtimes) :] + runtimes[: k % len(runtimes)]:
                t = time.perf_counter()
                for x in xs:
                    runners[r][name](x)
                times[r].append((time.perf_counter() - t) * 1000 / len(recorded))
        for r in runtimes:
            row["ms_per_frame"][r] = float(np.median(times[r]))
            got = [runners[r][name](x) for x in xs]
            row["max_abs_diff"][r] = max(
                float(np.abs(a - b).max())
                for g, f in zip(got, ref, strict=True)
                for a, b in zip(g, f, strict=True)
            )
        out[name] = row
    return out


def whole_frame(frames, runtimes, onnx_dir, threads) -> dict:
    procs = {r: swapped_processor(r, onnx_dir, threads) for r in runtimes}
    for frame in frames[:3]:
        for p in procs.values():
            p.analyze(frame)
    ms = {r: [] for r in runtimes}
    emb = {r: [] for r in runtimes}
    for i, frame in enumerate(frames):
        k = i % len(runtimes)
        for r in runtimes[k:] + runtimes[:k]:
            p = procs[r]
            t = time.perf_counter()
            res = p.analyze(frame)
            e = p.backbone.embed(res.chip[None])[0] if res.usable else None
            ms[r].append((time.perf_counter() - t) * 1000)
            emb[r].append(e)
    out = {
        "ms_median": {r: float(np.median(v)) for r, v in ms.items()},
        "max_l2": {},
        "embedded_by_one_only": {},
    }
    for r in runtimes:
        pairs = [(a, b) for a, b in zip(emb["torch"], emb[r], strict=True) if a is not None and b is not None]
        out["max_l2"][r] = max((float(np.linalg.norm(a - b)) for a, b in pairs), default=0.0)
        out["embedded_by_one_only"][r] = sum(
            (a is None) != (b is None) for a, b in zip(emb["torch"], emb[r], strict=True)
        )
    return out


def memory_child(runtime: str, onnx_dir: Path, inputs: Path, threads: int) -> None:
    """Runs in a fresh interpreter: import the runtime, load the six networks, run the saved inputs; print JSON."""
    marks = {"start": rss()}
    sys.path.insert(0, str(REPO))
    if runtime == "torch":
        import torch

        torch.set_num_threads(threads)
        marks["import"] = rss()
        nets = torch_networks()
    else:
        __import__(runtime)
        marks["import"] = rss()
        nets = None
    runners = {n: make_runner(runtime, n, onnx_dir, threads, nets) for n in NETS}
    marks["loaded"] = rss()
    data = np.load(inputs)
    for _ in range(3):
        for key in data.files:
            runners[key.split("_")[0]](data[key])
    marks["ran"] = rss()
    print(json.dumps(marks))


def memory(runtimes, onnx_dir: Path, recorded, threads: int) -> dict:
    saved = {
        f"{n}_{f}_{i}": x
        for f, log in enumerate(recorded[:5])
        for n, xs in log.items()
        for i, x in enumerate(xs)
    }
    path = onnx_dir / "inputs.npz"
    np.savez(path, **saved)
    out = {}
    for r in runtimes:
        cmd = [
            sys.executable,
            __file__,
            "--memory-child",
            r,
            "--onnx-dir",
            str(onnx_dir),
            "--threads",
            str(threads),
        ]
        p = subprocess.run(cmd, capture_output=True, text=True, check=False)
        lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
        out[r] = json.loads(lines[-1]) if p.returncode == 0 and lines else {"error": p.stderr.strip()[-400:]}
    return out


# -- report ---------------------------------------------------------------------------------------------------
def report(meta: dict, nets: dict, frames: dict, mem: dict, runtimes: list[str]) -> None:
    print(f"# inference runtimes — {meta['date']}, {meta['threads']} thread(s), OMP_WAIT_POLICY="
          f"{meta['omp_wait_policy']}, torch {meta['torch']}, {', '.join(meta['versions'])}")  # fmt: skip
    print(f"# load average before {meta['loadavg_before']}, after {meta['loadavg_after']}")
    head = " | ".join(f"{r} ms | torch/{r} | max diff" if r != "torch" else "torch ms" for r in runtimes)
    for video, table in nets.items():
        print(f"\n## {video}: per network, ms per frame (median of repeats), all of the frame's calls")
        print(f"| network | calls | {head} |")
        print("|---" * (2 + 1 + 3 * (len(runtimes) - 1)) + "|")
        for name, row in table.items():
            t0 = row["ms_per_frame"]["torch"]
            cells = [f"{t0:.2f}"] + [
                f"{row['ms_per_frame'][r]:.2f} | {t0 / row['ms_per_frame'][r]:.2f}× | {row['max_abs_diff'][r]:.1e}"
                for r in runtimes[1:]
            ]
            print(f"| {name} | {row['calls']} | " + " | ".join(cells) + " |")
    print("\n## whole frame (FaceProcessor.analyze + embed; glue, gates and alignment unchanged), median ms")
    print("| video | " + " | ".join(runtimes) + " | " + " | ".join(f"torch/{r}" for r in runtimes[1:])
          + " | " + " | ".join(f"max L2 vs torch ({r})" for r in runtimes[1:]) + " |")  # fmt: skip
    print("|---" * (1 + len(runtimes) + 2 * (len(runtimes) - 1)) + "|")
    for video, f in frames.items():
        ms = f["ms_median"]
        print(f"| {video} | " + " | ".join(f"{ms[r]:.1f}" for r in runtimes) + " | "
              + " | ".join(f"{ms['torch'] / ms[r]:.2f}×" for r in runtimes[1:]) + " | "
              + " | ".join(f"{f['max_l2'][r]:.1e} ({f['embedded_by_one_only'][r]} frames embedded by one only)"
                           for r in runtimes[1:]) + " |")  # fmt: skip
    if mem:
        print("\n## memory: fresh process, the six networks, MiB RSS / anonymous")
        print("| runtime | after import | after loading | after running 5 frames ×3 |")
        print("|---|---|---|---|")
        for r, m in mem.items():
            if "error" in m:
                print(f"| {r} | failed: {m['error']} | | |")
                continue
            print(
                f"| {r} | "
                + " | ".join(f"{m[k]['rss']} / {m[k]['anon']}" for k in ("import", "loaded", "ran"))
                + " |"
            )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from latency import DEFAULT_VIDEOS, shared_data_dir

    ap = argparse.ArgumentParser(prog="benchmarks/runtimes.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=20, help="frames per video, spread over it (default 20)")
    ap.add_argument(
        "--threads", type=int, default=1, help="threads for every runtime (default 1, the product's)"
    )
    ap.add_argument("--repeats", type=int, default=7, help="per-network timing repeats (default 7)")
    ap.add_argument(
        "--videos", nargs="+", type=Path, metavar="VIDEO", help="default: the three shared videos"
    )
    ap.add_argument("--data", type=Path, default=shared_data_dir(), help="shared data folder")
    ap.add_argument("--no-memory", action="store_true", help="skip the fresh-process memory runs")
    ap.add_argument("--json", type=Path, metavar="OUT", help="also write the numbers here")
    ap.add_argument("--memory-child", choices=RUNTIMES, help=argparse.SUPPRESS)
    ap.add_argument("--onnx-dir", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.frames < 1 or args.threads < 1 or args.repeats < 1:
        ap.error("--frames, --threads and --repeats must be ≥ 1")
    args.videos = args.videos or [args.data / v for v in DEFAULT_VIDEOS]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child, args.onnx_dir, args.onnx_dir / "inputs.npz", args.threads)
        return 0
    from latency import VideoError, load_video

    try:
        videos = [load_video(p, args.frames) for p in args.videos]
    except VideoError as e:
        print(f"error: cannot open video {e}", file=sys.stderr)
        return 2
    sys.path.insert(0, str(REPO))
    from faceunlock.cpu import prepare_environment

    prepare_environment()  # the product's OpenMP wait policy, before torch starts its pool
    import torch

    torch.set_num_threads(args.threads)
    os.environ["FACEUNLOCK_THREADS"] = str(args.threads)  # faceunlock's own ONNX Runtime sessions read it
    runtimes = available_runtimes()
    if len(runtimes) == 1:
        print(
            "error: neither onnxruntime nor openvino imports: pip install onnx onnxruntime openvino",
            file=sys.stderr,
        )
        return 2
    from importlib.metadata import version

    meta = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "threads": args.threads, "torch": torch.__version__,
            "versions": [f"{r} {version(r)}" for r in runtimes[1:]],
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset)"),
            "loadavg_before": " ".join(f"{x:.2f}" for x in os.getloadavg())}  # fmt: skip
    nets_by_video, frames_by_video, first = {}, {}, None
    with tempfile.TemporaryDirectory(prefix="faceunlock-runtimes-") as tmp:
        onnx_dir = Path(tmp)
        torch_nets = torch_networks()
        for v in videos:
            print(f"{v.name}: recording inputs, timing …", file=sys.stderr, flush=True)
            recorded = record(v.frames)
            first = first or recorded
            if not (onnx_dir / "pnet.onnx").exists():
                sample = {n: next(log[n][0] for log in recorded if n in log) for n in NETS}
                export(torch_nets, sample, onnx_dir)
            nets_by_video[v.name] = per_network(recorded, runtimes, onnx_dir, args.threads, args.repeats,
                                                torch_nets)  # fmt: skip
            frames_by_video[v.name] = whole_frame(v.frames, runtimes, onnx_dir, args.threads)
        meta["loadavg_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
        mem = {} if args.no_memory else memory(runtimes, onnx_dir, first, args.threads)
    report(meta, nets_by_video, frames_by_video, mem, runtimes)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"meta": meta, "networks": nets_by_video, "frames": frames_by_video,
                                         "memory": mem}, indent=1))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
