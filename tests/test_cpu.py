"""The thread policy of the unlock path (decisions 018, 023): idle OpenMP workers sleep unless the person chose
otherwise, and an unlock engine runs one thread — ONNX Runtime's, OpenCV's and (where imported) torch's —
unless FACEUNLOCK_THREADS says."""

from __future__ import annotations

import os
import subprocess
import sys

import cv2
import torch

from faceunlock import cpu


def _wait_policy_seen(env: dict[str, str]) -> str:
    code = "import os, faceunlock; print(os.environ.get('OMP_WAIT_POLICY'))"
    e = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"} | env
    return subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True, check=True).stdout.strip()


def test_wait_policy_is_passive_unless_the_person_chose():
    assert _wait_policy_seen({}) == "PASSIVE"
    assert _wait_policy_seen({"OMP_WAIT_POLICY": "ACTIVE"}) == "ACTIVE"


def test_thread_count(monkeypatch):
    monkeypatch.delenv(cpu.THREADS_ENV, raising=False)
    assert cpu.inference_threads() == 1
    for bad in ("0", "-1", "two", ""):
        monkeypatch.setenv(cpu.THREADS_ENV, bad)
        assert cpu.inference_threads() == 1
    monkeypatch.setenv(cpu.THREADS_ENV, "2")
    assert cpu.inference_threads() == 2  # a person's choice wins, even above the CPU count
    before, cv_before = torch.get_num_threads(), cv2.getNumThreads()
    try:
        assert cpu.apply_inference_policy() == 2 and torch.get_num_threads() == 2 and cv2.getNumThreads() == 2
        monkeypatch.delenv(cpu.THREADS_ENV)
        assert cpu.apply_inference_policy() == 1 and torch.get_num_threads() == 1 and cv2.getNumThreads() == 1
    finally:
        torch.set_num_threads(before)
        cv2.setNumThreads(cv_before)


def test_batch_jobs_take_every_cpu_unless_the_person_chose(monkeypatch):
    monkeypatch.delenv(cpu.THREADS_ENV, raising=False)
    monkeypatch.setattr(cpu.os, "cpu_count", lambda: 6)
    assert cpu.batch_threads() == 6
    monkeypatch.setenv(cpu.THREADS_ENV, "1")
    assert cpu.batch_threads() == 1
    monkeypatch.setenv(cpu.THREADS_ENV, "zero")
    assert cpu.batch_threads() == 6


def test_graph_sessions_take_the_thread_count(monkeypatch, tmp_path):
    from faceunlock import runtime

    monkeypatch.setenv(runtime.GRAPHS_ENV, str(tmp_path))
    export = runtime.Export(torch.nn.Conv2d(3, 2, 3), (1, 3, 8, 8), {0: "n"})
    for n in ("1", "2"):
        monkeypatch.setenv(cpu.THREADS_ENV, n)
        graph = runtime.compiled("tiny", "d" * 64, lambda: export)
        options = graph.session.get_session_options()
        assert options.intra_op_num_threads == int(n)
        assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
