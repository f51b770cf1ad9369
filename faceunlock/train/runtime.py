"""Where a fine-tune runs: device choice, AMP settings, and DDP under torchrun (one process per device).

`torchrun --nproc_per_node N -m faceunlock fine-tune …` sets RANK/WORLD_SIZE/LOCAL_RANK; each process joins
the group (NCCL on CUDA, gloo on CPU), trains on its share of the P×K batches, and rank 0 alone evaluates,
checkpoints and writes the output folder while the others wait at a barrier.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from faceunlock.errors import FaceUnlockError

AMP_MODES = ("auto", "bf16", "fp16", "off")


@dataclass
class Runtime:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    amp_dtype: torch.dtype | None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's value (early-stop decision, run state) for everyone, so no process acts on its own."""
        if not self.distributed:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0, device=self.device if self.device.type == "cuda" else None)
        return box[0]

    def close(self) -> None:
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()


def choose_device(spec: str, local_rank: int = 0) -> torch.device:
    """`auto` → CUDA when present, else CPU; asking for CUDA without it is an error, not a silent fallback."""
    if spec == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise FaceUnlockError(
                f"--device {spec} was requested but CUDA is not available here "
                "(no NVIDIA driver or a CPU-only torch build); use --device cpu"
            )
        return torch.device(spec if ":" in spec else f"cuda:{local_rank}")
    if spec == "cpu":
        return torch.device("cpu")
    raise FaceUnlockError(f"unknown --device {spec!r} (auto, cpu, cuda, cuda:N)")


def amp_dtype(mode: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype: bf16 where the GPU has it (no loss scaling needed), else fp16; none on CPU by default."""
    if mode not in AMP_MODES:
        raise FaceUnlockError(f"--amp must be one of {AMP_MODES}")
    if mode == "off":
        return None
    if device.type != "cuda":
        if mode == "fp16":
            raise FaceUnlockError("--amp fp16 needs CUDA; on CPU use --amp bf16 or off")
        return torch.bfloat16 if mode == "bf16" else None
    if mode == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if mode == "bf16" else torch.float16


def start(device: str = "auto", amp: str = "auto") -> Runtime:
    """Join the torchrun process group if there is one, and pick this process's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    dev = choose_device(device, local)
    if world > 1 and not dist.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo", timeout=timedelta(minutes=30))
    return Runtime(rank, world, local, dev, amp_dtype(amp, dev))
