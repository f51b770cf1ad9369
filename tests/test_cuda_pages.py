"""A CPU-only unlock gives back the CUDA libraries' pages that `import torch` touched (decision 021), and torch and
the engine still work afterwards. Real processes, real /proc, the torch build the set-up installs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from faceunlock.cuda_pages import CUDA_LIBRARY

# Resident MiB of the CUDA libraries' read-only/executable mappings in a child process, before and after `step`.
CHILD = r"""
import json, sys
from pathlib import Path
from faceunlock.cuda_pages import CUDA_LIBRARY

def cuda_rss():
    total, name, counted = 0, None, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split(maxsplit=5)
        if "-" in head[0] and len(head) >= 5 and ":" in head[3]:  # a mapping's header line
            counted = len(head) == 6 and "w" not in head[1] and bool(CUDA_LIBRARY.search(head[5]))
        elif counted and line.startswith("Rss:"):
            total += int(line.split()[1])
    return total / 1024

import torch
before = cuda_rss()
STEP
x = torch.nn.functional.conv2d(torch.ones(1, 3, 8, 8), torch.ones(4, 3, 3, 3))  # torch still computes
print(json.dumps({"before": before, "after": cuda_rss(), "conv": float(x[0, 0, 0, 0]), "cuda": torch.version.cuda,
                  "released": globals().get("released")}))
"""


def _run(step: str) -> dict:
    r = subprocess.run([sys.executable, "-c", CHILD.replace("STEP", step)], capture_output=True, text=True,
                       timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_only_the_cuda_libraries_are_recognised():
    cuda = ["libtorch_cuda.so", "libcublasLt.so.13", "libcublas.so.13", "libcudnn.so.9", "libnvrtc-builtins.so.13.0",
            "libnvshmem_host.so.3", "libc10_cuda.so", "libnccl.so.2", "libcusparseLt.so.0", "libnvJitLink.so.13"]  # fmt: skip
    other = ["libtorch_cpu.so", "libtorch.so", "libc10.so", "libtorch_python.so", "libgomp.so.1", "libc.so.6",
             "libcuda_helpers_of_mine.so", "libcudartfake.txt", "libcrypto.so.3", "cv2.abi3.so"]  # fmt: skip
    assert all(CUDA_LIBRARY.search("/x/" + n) for n in cuda)
    assert not any(CUDA_LIBRARY.search("/x/" + n) for n in other)


def test_release_gives_back_the_cuda_pages_and_torch_still_computes():
    out = _run("from faceunlock.cuda_pages import release_cuda_pages; released = release_cuda_pages()")
    if out["cuda"] is None or out["before"] < 1:
        pytest.skip("this torch build maps no CUDA library")
    assert out["conv"] == 27.0
    assert out["released"] > 0, out  # mappings released, as it reports
    assert out["before"] > 20, out  # the CUDA build keeps tens of MiB of them resident after import
    assert out["after"] < 0.2 * out["before"], out


def test_the_unlock_engine_releases_them_when_it_runs_on_the_cpu():
    out = _run("from faceunlock.auth import Engine; Engine.load('auto')")
    if out["cuda"] is None or out["before"] < 1:
        pytest.skip("this torch build maps no CUDA library")
    assert out["after"] < 0.2 * out["before"], out
    kept = _run("pass")  # without an engine nothing is released: the measurement itself does not page them out
    assert kept["after"] > 0.8 * kept["before"], kept


def test_a_smaps_it_cannot_read_releases_nothing_and_does_not_raise(tmp_path):
    from faceunlock.cuda_pages import release_cuda_pages

    assert release_cuda_pages(tmp_path / "missing") == 0
    odd = tmp_path / "smaps"
    odd.write_text("zzzz-yyyy r-xp 00000000 fd:01 42 /usr/lib/libcublasLt.so.13\nAnonymous: many kB\n")
    assert release_cuda_pages(odd) == 0
