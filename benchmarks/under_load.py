"""The same unlock on a quiet machine and beside two busy processes, for each thread policy, side by side.

An unlock is judged by the seconds a person waits, and a desktop is rarely idle. For each policy (torch threads ×
OpenMP wait policy) this runs, in fresh processes so OMP_WAIT_POLICY takes effect at torch's import:

  warm   one process loads the engine, then times `authenticate` on real.mov from frame 100 (the frames the
         end-to-end tests accept), `--repeats` times — the decision a person waits for with a warm model
  cold   `faceunlock verify` end to end (process start → decision), as `faceunlock verify` runs today

(since decision 023 the networks run on ONNX Runtime, whose workers never spin: the wait policy now changes only
torch work, which the unlock path no longer does — the child reports `torch_imported`)

each first with the machine quiet, then with two busy processes beside it (pure CPU loops, one per core, bounded
by the run and killed after it). Prints median seconds quiet, loaded, and the ratio loaded / quiet per policy.
Goal (issue 13): loaded ≤ 2.5× quiet; fair share on two cores is ~1.5–2×.

    PYTHONPATH=. .venv/bin/python benchmarks/under_load.py                 # all policies, warm + cold
    PYTHONPATH=. .venv/bin/python benchmarks/under_load.py --no-cold --repeats 5 --json out/load.json
    PYTHONPATH=. .venv/bin/python benchmarks/under_load.py --phases 5   # cold-start phases only, quiet

Run it with nothing else on the machine: the "quiet" column must be quiet.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
REAL_MOV = REPO.parent / "shared" / "data" / "liveness" / "webcam-replay" / "real.mov"
POLICIES = {  # name: (threads, OMP_WAIT_POLICY or None for libgomp's default)
    "1 thread, passive": (1, "PASSIVE"),
    "2 threads, passive": (2, "PASSIVE"),
    "2 threads, default wait": (2, None),
    "1 thread, default wait": (1, None),
}
HOG = "import time\nend = time.monotonic() + {limit}\nwhile time.monotonic() < end:\n    pass\n"


def policy_env(threads: int, wait: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    env["FACEUNLOCK_THREADS"] = str(threads)
    env["PYTHONPATH"] = str(REPO)
    # None: libgomp's default (spin a while, then sleep); an empty value keeps our package from setting PASSIVE
    env["OMP_WAIT_POLICY"] = wait if wait is not None else ""
    return env


class Hogs:
    """Two CPU-bound processes (one per core here), bounded in time, always killed on exit."""

    def __init__(self, n: int = 2, limit_s: float = 900.0) -> None:
        self.n, self.limit_s = n, limit_s
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> Hogs:
        code = HOG.format(limit=self.limit_s)
        self.procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(self.n)]
        time.sleep(0.5)
        return self

    def __exit__(self, *exc) -> None:
        for p in self.procs:
            p.kill()
            p.wait()


WARM_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from faceunlock.auth import Engine, authenticate
from faceunlock.capture import open_source
from faceunlock.enrollment import EnrollmentSession
from faceunlock.cpu import inference_threads
from faceunlock.policy import AuthPolicy
engine = Engine.load("dlib-resnet34")
ready = time.perf_counter() - t0
with open_source(sys.argv[1], limit=100) as src:
    s = EnrollmentSession(engine.processor, engine.calibration)
    for f in src:
        s.offer(f)
templates = s.finish().embeddings
with open_source(sys.argv[1], skip=100, limit=60) as src:
    frames = list(src)
times, accepted = [], []
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    d = authenticate(engine, templates, frames, policy=AuthPolicy())
    times.append(time.perf_counter() - t)
    accepted.append(d.accepted)
print(json.dumps({"times": times, "accepted": accepted, "ready_s": ready, "threads": inference_threads(),
                  "torch_imported": "torch" in sys.modules}))
"""


def warm(env: dict[str, str], repeats: int) -> dict:
    r = subprocess.run([sys.executable, "-c", WARM_CHILD, str(REAL_MOV), str(repeats)], env=env,
                       capture_output=True, text=True, timeout=1800)  # fmt: skip
    if r.returncode != 0:
        raise SystemExit(f"warm child failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def cold(env: dict[str, str], home: Path, repeats: int) -> list[float]:
    cmd = [sys.executable, "-m", "faceunlock", "--home", str(home), "verify", "bench", "--source", str(REAL_MOV),
           "--skip", "100", "--weights", "dlib-resnet34", "--json"]  # fmt: skip
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        out.append(time.perf_counter() - t)
        if r.returncode != 0:
            raise SystemExit(f"cold verify failed (rc {r.returncode}):\n{r.stdout[-1500:]}\n{r.stderr[-1500:]}")
    return out


def enrol_cold_user(home: Path) -> None:
    cmd = [sys.executable, "-m", "faceunlock", "--home", str(home), "enroll", "bench", "--source", str(REAL_MOV),
           "--max-frames", "100", "--weights", "dlib-resnet34", "--password-stdin"]  # fmt: skip
    r = subprocess.run(cmd, input="bench-password\n", capture_output=True, text=True, timeout=900,
                       env={**os.environ, "PYTHONPATH": str(REPO)})  # fmt: skip
    if r.returncode != 0:
        raise SystemExit(f"enrolment failed:\n{r.stderr[-3000:]}")


def phases(home: Path, runs: int) -> None:
    """`faceunlock verify --timings` `runs` times on a quiet machine: the median time at which each phase ends."""
    cmd = [sys.executable, "-m", "faceunlock", "--home", str(home), "verify", "bench", "--source", str(REAL_MOV),
           "--skip", "100", "--weights", "dlib-resnet34", "--timings"]  # fmt: skip
    ends: dict[str, list[float]] = {}
    for _ in range(runs):
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env={**os.environ, "PYTHONPATH": str(REPO)})
        if r.returncode != 0:
            raise SystemExit(f"verify failed (rc {r.returncode}):\n{r.stdout[-1500:]}\n{r.stderr[-1500:]}")
        for line in r.stderr.splitlines():
            if line.startswith("timing: "):
                name, at = line[8:].split(" at ")
                ends.setdefault(name.strip(), []).append(float(at.split("s")[0]))
    prev = 0.0
    print(f"cold `faceunlock verify` phases, median of {runs} runs (process start → decision):")
    for name, ts in ends.items():
        m = median(ts)
        print(f"  {name:<30} ends at {m:5.2f} s  (+{m - prev:4.2f})")
        prev = m


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)  # fmt: skip
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per policy and load (default 3)")
    ap.add_argument("--policies", nargs="+", choices=list(POLICIES), default=list(POLICIES)[:3])
    ap.add_argument("--no-cold", action="store_true", help="only the warm in-process decision")
    ap.add_argument("--json", type=Path, metavar="OUT", help="also write every number here")
    ap.add_argument("--phases", type=int, metavar="N", help="only: the cold-start phases of N quiet runs")
    args = ap.parse_args(argv)
    if not REAL_MOV.is_file():
        print(f"under_load: missing {REAL_MOV}", file=sys.stderr)
        return 2
    print(f"machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, Python "
          f"{platform.python_version()}; load average before: {os.getloadavg()[0]:.2f}")  # fmt: skip
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        ctx = None
        if args.phases:
            from tests.keyring_session import private_keyring

            with private_keyring(Path(tmp) / "keyring"):
                enrol_cold_user(Path(tmp) / "home")
                phases(Path(tmp) / "home", args.phases)
            return 0
        if not args.no_cold:
            from tests.keyring_session import private_keyring

            ctx = private_keyring(Path(tmp) / "keyring")
            ctx.__enter__()
            enrol_cold_user(Path(tmp) / "home")
        try:
            for name in args.policies:
                env = policy_env(*POLICIES[name])
                row: dict = {}
                for load in ("quiet", "loaded"):
                    hogs = Hogs() if load == "loaded" else None
                    if hogs:
                        hogs.__enter__()
                    try:
                        w = warm(env, args.repeats)
                        row[f"warm_{load}"] = w
                        if not args.no_cold:
                            row[f"cold_{load}"] = cold(env, Path(tmp) / "home", args.repeats)
                    finally:
                        if hogs:
                            hogs.__exit__(None, None, None)
                results[name] = row
                wq, wl = median(row["warm_quiet"]["times"]), median(row["warm_loaded"]["times"])
                line = f"{name:<24} warm decision: quiet {wq:6.2f} s  loaded {wl:6.2f} s  ratio {wl / wq:4.2f}×"
                if not args.no_cold:
                    cq, cl = median(row["cold_quiet"]), median(row["cold_loaded"])
                    line += f" | cold verify: quiet {cq:6.2f} s  loaded {cl:6.2f} s  ratio {cl / cq:4.2f}×"
                ok = all(row["warm_quiet"]["accepted"]) and all(row["warm_loaded"]["accepted"])
                print(line + ("" if ok else "  (NOT ACCEPTED: check the frames)"), flush=True)
        finally:
            if ctx is not None:
                ctx.__exit__(None, None, None)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
