"""The thread policy of the unlock path (decision 018): idle OpenMP workers sleep unless the person chose
otherwise, and an unlock engine runs one torch thread unless FACEUNLOCK_THREADS says."""

from __future__ import annotations

import os
import subprocess
import sys

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
    before = torch.get_num_threads()
    try:
        assert cpu.apply_inference_policy() == 2 and torch.get_num_threads() == 2
        monkeypatch.delenv(cpu.THREADS_ENV)
        assert cpu.apply_inference_policy() == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
