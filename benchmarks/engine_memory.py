"""Memory of the unlock path over a long run: RSS after imports, after the engine loads, and at frame 1,000 and
5,000 of back-to-back attempts (the lock screen's attempt policy) on real.mov, looped.

    python benchmarks/engine_memory.py                  # 5,000 frames, ~5 min quiet
    python benchmarks/engine_memory.py --frames 1000 --json out/memory.json

The engine is what `faceunlock lock`, the daemon and `verify` hold: the bundled model, MTCNN and both liveness
networks. Every attempt is a stranger's (random templates), so attempts run to their frame cap and start again —
the lock screen's steady state while someone else sits in front of it — and the lockout is not involved (it
would make the screen wait, not work). RSS is split into anonymous memory (the heap: what the process really
costs) and file-backed pages (shared libraries' pages it touched, which the kernel can drop and re-read). Since
decision 023 the unlock path runs ONNX exports and never imports torch (with the CUDA build, `import torch` alone
held ~280 MiB anonymous and mapped ~0.5 GB of library pages); the script says whether torch got imported. Also printed: what the lock screen's Qt
adds (PySide6 with an offscreen QApplication), measured in a separate process.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
REAL_MOV = REPO.parent / "shared" / "data" / "liveness" / "webcam-replay" / "real.mov"


def memory() -> dict[str, int]:
    """MiB: rss, peak (VmHWM), anon, file — from /proc/self/status."""
    keys = {"VmRSS": "rss", "VmHWM": "peak", "RssAnon": "anon", "RssFile": "file"}
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        k, _, v = line.partition(":")
        if k in keys:
            out[keys[k]] = int(v.split()[0]) // 1024
    return out


QT_CHILD = """
import os, sys
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, sys.argv[1])
from benchmarks.engine_memory import memory
before = memory()
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication([]); w = QLabel("locked"); w.showFullScreen(); app.processEvents()
after = memory()
print(after["rss"] - before["rss"], after["anon"] - before["anon"])
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=5000)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if not REAL_MOV.is_file():
        print(f"engine_memory: missing {REAL_MOV}", file=sys.stderr)
        return 2
    rows = {"start": memory()}
    import numpy as np

    from faceunlock.auth import Attempt, Engine
    from faceunlock.capture import open_source
    from faceunlock.policy import AuthPolicy

    rows["faceunlock imported"] = memory()
    engine = Engine.load("auto")
    rows["engine loaded"] = memory()
    policy = AuthPolicy(max_judged=2 * AuthPolicy.window)  # the lock screen's (gui.face_unlock.lock_screen_policy)
    stranger = [np.random.default_rng(0).normal(scale=0.05, size=(10, 128)).astype(np.float32)]
    n, attempts, t0 = 0, 1, time.perf_counter()
    attempt = Attempt(engine, stranger, policy)
    marks = {1000, 5000, args.frames}
    while n < args.frames:
        with open_source(str(REAL_MOV)) as src:
            for frame in src:
                attempt.offer(frame)
                n += 1
                if attempt.finished:
                    attempt, attempts = Attempt(engine, stranger, policy), attempts + 1
                if n in marks:
                    rows[f"frame {n}"] = memory()
                    print(f"  frame {n}: {rows[f'frame {n}']} ({time.perf_counter() - t0:.0f} s)", flush=True)
                if n >= args.frames:
                    break
    qt = subprocess.run([sys.executable, "-c", QT_CHILD, str(REPO)], capture_output=True, text=True, timeout=120)
    qt_rss, qt_anon = (int(x) for x in qt.stdout.split()) if qt.returncode == 0 else (-1, -1)
    print(f"\nengine memory, MiB ({n:,} frames, {attempts} attempts; {policy.window}-frame window):")
    print(f"{'':22} {'RSS':>6} {'peak':>6} {'anon':>6} {'file':>6}")
    for name, m in rows.items():
        print(f"{name:22} {m['rss']:6} {m['peak']:6} {m['anon']:6} {m['file']:6}")
    if "frame 1000" in rows and f"frame {n}" in rows:
        print(f"growth frame 1,000 → {n:,}: RSS {rows[f'frame {n}']['rss'] - rows['frame 1000']['rss']:+} MiB")
    print(f"the lock screen's Qt (offscreen QApplication, one full-screen window) adds {qt_rss} MiB RSS ({qt_anon} anon)")
    print(f"torch imported by the unlock path: {'yes' if 'torch' in sys.modules else 'no'} (decision 023: it should not be)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"rows": rows, "qt_rss": qt_rss, "qt_anon": qt_anon, "frames": n}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
