"""train.runtime: device choice (no silent CPU fallback), AMP dtype per device, and the single-process Runtime."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist

from faceunlock.errors import FaceUnlockError
from faceunlock.train import runtime
from faceunlock.train.runtime import AMP_MODES, Runtime, amp_dtype, choose_device, start
from tests.train.conftest import subprocess_env

CPU, CUDA = torch.device("cpu"), torch.device("cuda:0")


@pytest.fixture
def no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture
def fake_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    """CUDA "present" without a GPU: choose_device/amp_dtype only ask, they allocate nothing."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)


@pytest.fixture
def single_process(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)


def test_auto_on_this_machine_matches_what_torch_sees():
    expected = CUDA if torch.cuda.is_available() else CPU
    assert choose_device("auto") == expected


def test_auto_without_cuda_is_cpu(no_cuda):
    assert choose_device("auto") == CPU
    assert choose_device("auto", local_rank=3) == CPU


def test_auto_with_cuda_takes_the_local_rank(fake_cuda):
    assert choose_device("auto", local_rank=3) == torch.device("cuda:3")
    assert choose_device("cuda", local_rank=2) == torch.device("cuda:2")
    assert choose_device("cuda:1", local_rank=2) == torch.device("cuda:1")  # an explicit index wins


@pytest.mark.parametrize("spec", ["cuda", "cuda:0", "cuda:1"])
def test_cuda_requested_without_cuda_is_a_clear_error_not_a_fallback(no_cuda, spec):
    with pytest.raises(FaceUnlockError, match="CUDA is not available") as err:
        choose_device(spec)
    assert spec in str(err.value) and "--device cpu" in str(err.value)
    assert err.value.exit_code == 2


def test_cpu_and_unknown_specs(fake_cuda):
    assert choose_device("cpu") == CPU  # cpu stays cpu even when a GPU is there
    for bad in ("gpu", "mps", "CPU", ""):
        with pytest.raises(FaceUnlockError, match="unknown --device"):
            choose_device(bad)


def test_amp_on_cpu_is_off_unless_bf16_is_asked_for():
    assert amp_dtype("auto", CPU) is None
    assert amp_dtype("off", CPU) is None
    assert amp_dtype("bf16", CPU) is torch.bfloat16  # CPU autocast supports bf16, explicitly requested only
    with pytest.raises(FaceUnlockError, match="fp16 needs CUDA"):
        amp_dtype("fp16", CPU)


def test_amp_on_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert amp_dtype("auto", CUDA) is torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert amp_dtype("auto", CUDA) is torch.float16  # an older GPU: fp16
    assert amp_dtype("bf16", CUDA) is torch.bfloat16
    assert amp_dtype("fp16", CUDA) is torch.float16
    assert amp_dtype("off", CUDA) is None


@pytest.mark.parametrize("device", [CPU, CUDA])
def test_unknown_amp_mode_is_refused(device):
    assert set(AMP_MODES) == {"auto", "bf16", "fp16", "off"}
    with pytest.raises(FaceUnlockError, match="--amp must be one of"):
        amp_dtype("fp8", device)


def _forbid(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    def fail(*args, **kwargs):
        raise AssertionError("a single process must not touch torch.distributed")

    for name in names:
        monkeypatch.setattr(dist, name, fail)


def test_start_single_process_on_cpu(single_process, no_cuda, monkeypatch):
    _forbid(monkeypatch, "init_process_group", "barrier", "broadcast_object_list", "destroy_process_group")
    rt = start("auto", "auto")
    assert (rt.rank, rt.world_size, rt.local_rank) == (0, 1, 0)
    assert rt.device == CPU and rt.amp_dtype is None
    assert rt.is_main and not rt.distributed
    state = {"stop": True, "epoch": 3, "best": [0.9, 0.8]}
    assert rt.broadcast(state) is state  # the object itself, untouched
    assert rt.broadcast(None) is None
    assert rt.barrier() is None
    rt.close()
    rt.close()  # closing twice is harmless
    assert not dist.is_initialized()
    assert start("cpu", "bf16").amp_dtype is torch.bfloat16
    assert start("cpu", "off").amp_dtype is None


def test_start_reads_torchrun_variables_but_world_of_one_joins_no_group(monkeypatch, no_cuda):
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "0")
    _forbid(monkeypatch, "init_process_group")
    rt = start("cpu")
    assert rt.is_main and not rt.distributed


def test_start_refuses_cuda_without_cuda(single_process, no_cuda, monkeypatch):
    _forbid(monkeypatch, "init_process_group")
    with pytest.raises(FaceUnlockError, match="CUDA is not available"):
        start("cuda")
    with pytest.raises(FaceUnlockError, match="fp16 needs CUDA"):
        start("cpu", "fp16")


def test_only_rank_zero_is_main():
    assert Runtime(0, 4, 0, CPU, None).is_main
    others = [Runtime(r, 4, r, CPU, None) for r in (1, 2, 3)]
    assert not any(r.is_main for r in others) and all(r.distributed for r in others)
    assert runtime.Runtime(0, 1, 0, CPU, None).distributed is False


WORKER = """
import json, sys
from faceunlock.train.runtime import start
rt = start("cpu", "auto")
got = rt.broadcast({"from": rt.rank, "stop": rt.rank == 0})
rt.barrier()
print(json.dumps({"rank": rt.rank, "main": rt.is_main, "distributed": rt.distributed, "got": got,
                  "device": str(rt.device)}))
rt.close()
"""


def test_two_gloo_processes_share_rank_zeros_decision(tmp_path, train_home):
    """The real torchrun path: WORLD_SIZE=2 joins a gloo group; broadcast hands rank 0's value to rank 1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = []
    for rank in (0, 1):
        env = dict(subprocess_env(train_home), WORLD_SIZE="2", RANK=str(rank), LOCAL_RANK=str(rank),
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), CUDA_VISIBLE_DEVICES="")  # fmt: skip
        procs.append(subprocess.Popen([sys.executable, "-c", WORKER], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))  # fmt: skip
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
        outs.append(json.loads(out.strip().splitlines()[-1]))
    assert [o["rank"] for o in outs] == [0, 1]
    assert [o["main"] for o in outs] == [True, False]
    assert all(o["distributed"] and o["device"] == "cpu" for o in outs)
    assert all(o["got"] == {"from": 0, "stop": True} for o in outs)  # rank 1 acts on rank 0's value
