"""CPU threads for the unlock path: how many the networks (ONNX Runtime, decision 023), OpenCV and torch use, and
how torch's idle OpenMP workers wait.

Why: an unlock runs while the browser, a build or a video call is busy. torch's OpenMP workers spin while they
wait for work, and on a loaded 2-core machine the spinning threads compete with the very work they wait for:
with two busy processes beside it a `faceunlock verify` took 2.75–3.6× its quiet time, and MTCNN's small
convolutions slowed ~10×. The policy (chosen from benchmarks/under_load.py and daemon_latency.py, decision 018):
idle workers sleep (OMP_WAIT_POLICY=PASSIVE) and inference uses `DEFAULT_THREADS` thread (one: since
decision 020's faster MTCNN a second thread no longer shortens a decision, and under load it makes some decisions
much slower — decision 018, "Re-measured again").

Two moments: libgomp reads OMP_WAIT_POLICY once, when torch is imported, so `prepare_environment` runs when the
faceunlock package is imported (before any of our modules imports torch); the thread count is applied where an
unlock engine is built (auth.Engine.load), so every process that unlocks — CLI, GUI, lock screen, daemon — gets
it, while batch jobs (calibrate, fine-tune), which own the machine, keep torch's default of all cores.
A person can override both: OMP_WAIT_POLICY as usual, FACEUNLOCK_THREADS=N for the thread count.
Since decision 023 the networks run on ONNX Runtime, whose sessions take the same count and never spin, and the
count also caps OpenCV's pool (resizes, warps): with OpenCV's default two threads a warm decision beside two busy
processes took 2.59× its quiet time, with one 1.29–1.51× (decision 023, "Results").
"""

from __future__ import annotations

import os

THREADS_ENV = "FACEUNLOCK_THREADS"
DEFAULT_THREADS = 1  # the per-frame networks are small; a second thread costs more in waiting than it gains (018)
WAIT_POLICY = "PASSIVE"


def prepare_environment() -> None:
    """Before torch is imported: idle OpenMP workers sleep instead of spinning, unless the person chose."""
    os.environ.setdefault("OMP_WAIT_POLICY", WAIT_POLICY)


def _chosen_threads() -> int | None:
    """FACEUNLOCK_THREADS when it is a positive whole number (a person's choice wins, even above the CPUs)."""
    raw = os.environ.get(THREADS_ENV, "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


def inference_threads() -> int:
    """FACEUNLOCK_THREADS when set, else DEFAULT_THREADS (no more than the CPUs)."""
    return _chosen_threads() or max(1, min(DEFAULT_THREADS, os.cpu_count() or 1))


def batch_threads() -> int:
    """Threads for a batch job that owns the machine (calibrate, evaluate: torch's default too): every CPU,
    unless FACEUNLOCK_THREADS says otherwise."""
    return _chosen_threads() or os.cpu_count() or 1


def apply_inference_policy(threads: int | None = None) -> int:
    """Set the unlock path's thread count; returns it. ONNX Runtime sessions read `inference_threads()` when they
    are made (faceunlock/runtime.py); torch's count is set only where torch is already imported — importing it
    here would cost the torch-free unlock path its ~300 MiB (decision 023)."""
    import sys

    import cv2

    n = threads or inference_threads()
    if cv2.getNumThreads() != n:  # once per process in practice: reconfiguring the pool is not for every attempt
        cv2.setNumThreads(n)  # OpenCV's resize/warp pool: a parallel split waits for its slowest part under load
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
