"""Give back the pages of the CUDA libraries when the unlock path runs on the CPU.

Why: the torch build the set-up installs is the CUDA one (it pairs with torchvision 0.29.1, which facenet-pytorch
needs), and `import torch` loads libtorch_cuda, cuBLASLt, nvrtc, nvJitLink… whatever the machine has. Loading
touches ~140 MiB of their file-backed pages, which then stay resident in every unlock process (the lock screen,
the daemon, `faceunlock verify`) although a CPU-only unlock never runs a line of them: the lock screen sat at
~690 MiB of the 700 MiB issue 13 allows. Those pages are the libraries' code and constants, identical to the
files: this process lets go of them (`madvise`), and any page touched later is mapped again from the file, so
nothing can break; the kernel may then reuse the memory (decision 021).
"""

from __future__ import annotations

import ctypes
import re
from pathlib import Path

MADV_DONTNEED = 4
# The NVIDIA runtime libraries torch's CUDA build links (and torch's own CUDA parts): nothing on the CPU path.
CUDA_LIBRARY = re.compile(
    r"/lib(torch_cuda|torch_nvshmem|c10_cuda|cublas|cublasLt|cudnn|cufft|cufile|curand|cusolver|cusparse|cusparseLt|"
    r"nccl|nvrtc|nvJitLink|nvToolsExt|nvshmem|cupti|cudart|caffe2_nvrtc)([-._][^/]*)?\.so(\.[0-9.]*)?$"
)


def release_cuda_pages(smaps: Path = Path("/proc/self/smaps")) -> int:
    """Drop this process's resident pages of the CUDA libraries → how many mappings were released.

    Only read-only or executable mappings that hold no private (copied-on-write) page — the libraries' code and
    constant data, byte for byte the file's — so `MADV_DONTNEED` is exact: a page touched later is mapped again
    from the file. (`MADV_PAGEOUT` would also evict them from the page cache, but skips every page another process
    maps too — the daemon beside the lock screen, two test workers — so it is not used.) Relocated data, writable
    data and everything not CUDA's stay as they are. Call it only where CUDA is not used (the caller checks); a
    no-op (0) off Linux. benchmarks/engine_memory.py and tests/test_cuda_pages.py measure what it gives back.
    """
    try:
        lines = smaps.read_text().splitlines()
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return 0
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    candidates, current = [], None  # (start, end) of CUDA mappings whose Anonymous: line reads 0 kB
    try:
        for line in lines:
            head = line.split(maxsplit=5)
            if len(head) >= 5 and "-" in head[0] and ":" in head[3]:  # a mapping's header line
                current = None
                if len(head) == 6 and "w" not in head[1] and CUDA_LIBRARY.search(head[5]):
                    current = tuple(int(x, 16) for x in head[0].split("-"))
            elif current is not None and line.startswith("Anonymous:"):
                if int(line.split()[1]) == 0:
                    candidates.append(current)
                current = None
    except ValueError:  # a format this code does not know: keep every page (an optimisation never stops an unlock)
        return 0
    return sum(libc.madvise(start, end - start, MADV_DONTNEED) == 0 for start, end in candidates)
