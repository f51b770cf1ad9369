"""Who executes a network: ONNX Runtime on a copy exported once from the torch module, so a process that only
unlocks (the lock screen, the daemon, `faceunlock verify`) never imports torch.

Torch is the training runtime. For inference on this CPU it is also the heavy one: `import torch` alone holds
~280 MiB of anonymous memory with the CUDA build and takes ~0.5–1.7 s, and on the unlock path's six networks ONNX
Runtime is 1.6–1.8× faster for the ResNet and the liveness networks (decision 023; `benchmarks/runtimes.py`).

A network is a `Graph`: float32 NCHW numpy in, the module's outputs as numpy arrays out. `compiled` gives an
`OnnxGraph` from the cache folder, exporting it first when the cache has none for these exact weights (keyed by
the sha256 of the bytes the weights were loaded from, so a changed weights file can never reuse a stale graph);
only that first export imports torch. `TorchGraph` runs the module itself: for CUDA, for modules being trained,
and when FACEUNLOCK_RUNTIME=torch asks for it (comparisons, or a machine where onnxruntime cannot load).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from faceunlock import paths
from faceunlock.atomic import write_atomic
from faceunlock.cpu import inference_threads

RUNTIME_ENV = "FACEUNLOCK_RUNTIME"  # "torch": run the torch modules on the unlock path too
GRAPHS_ENV = "FACEUNLOCK_GRAPHS"  # where compiled graphs live (default: the cache folder's graphs/)
EXPORT_VERSION = 3  # part of every cache key: bump it when the export below changes (opset, names, axes, PReLU)
OPSET = 17


_CACHED_ONLY: ContextVar[bool] = ContextVar("faceunlock_graphs_cached_only", default=False)


class GraphMissing(LookupError):
    """`compiled` under `cached_only()`: this network has no graph in the folder yet."""


@contextmanager
def cached_only() -> Iterator[None]:
    """Within: `compiled` raises GraphMissing instead of exporting. The unlock engine loads this way first and, on a
    miss, exports in a child process (auth.Engine.load), so a lock screen never holds torch's memory."""
    token = _CACHED_ONLY.set(True)
    try:
        yield
    finally:
        _CACHED_ONLY.reset(token)


class Graph(Protocol):
    def __call__(self, x: np.ndarray) -> list[np.ndarray]: ...


def onnx_runtime(device: str = "cpu") -> bool:
    """Whether networks for `device` run on ONNX Runtime (CPU only: the wheel has no GPU provider)."""
    return device == "cpu" and os.environ.get(RUNTIME_ENV, "onnx").strip().lower() != "torch"


def graphs_dir() -> Path:
    """The compiled graphs' folder (0700: a graph decides who gets in, like the weights it was exported from)."""
    env = os.environ.get(GRAPHS_ENV)
    return paths.ensure_private_dir(Path(env).expanduser() if env else paths.cache_dir() / "graphs")


class OnnxGraph:
    """An ONNX model in an ONNX Runtime session: the process's inference thread policy, idle threads sleep."""

    def __init__(self, model: Path | bytes, threads: int | None = None) -> None:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = threads or inference_threads(), 1
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")  # decision 018: never spin
        so.log_severity_level = 3
        self.session = ort.InferenceSession(model if isinstance(model, bytes) else str(model), so,
                                            providers=["CPUExecutionProvider"])  # fmt: skip
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        return self.session.run(None, {"x": np.ascontiguousarray(x, dtype=np.float32)})


class TorchGraph:
    """A torch module behind the same call: numpy NCHW in, numpy outputs."""

    def __init__(self, module: Any, device: str = "cpu", channels_last: bool = False) -> None:
        self.module, self.device, self.channels_last = module.eval(), device, channels_last

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        import torch

        with torch.inference_mode():
            t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(self.device)
            if self.channels_last:
                t = t.contiguous(memory_format=torch.channels_last)
            out = self.module(t)
        return [o.float().cpu().numpy() for o in (out if isinstance(out, tuple) else (out,))]


@dataclass
class Export:
    """What `compiled` needs to export a network on a cache miss: the module, an input of the right shape, which
    input axes vary (e.g. {0: "n"} for a batch), and strings to keep in the graph (read back as `metadata`)."""

    module: Any
    example_shape: tuple[int, ...]
    dynamic: dict[int, str]
    metadata: dict[str, str] = field(default_factory=dict)


def _relu_prelus(module: Any) -> Any:
    """A copy of `module` whose PReLUs are written with ops ONNX Runtime runs faster than its own PRelu kernel
    (41–49 % of R-Net's and O-Net's time, decision 023), giving the same values bit for bit:

    - max(x, w·x) where every slope w ≤ 1 and none is 0 (for finite x ≥ 0, w·x ≤ x; for x < 0, w·x ≥ x — also
      after rounding, which is monotone; a zero slope would turn x = +∞ into 0·∞ = NaN): two ops;
    - relu(x) − w·relu(−x) otherwise (for x < 0, −(w·(−x)) is w·x exactly): P-Net's and R-Net's first layers have
      slopes up to 1.01 and 1.30.

    The relus made P-, R- and O-Net and both MiniFASNets 1.3–1.6× faster; the max form is ~10 % faster again on
    R- and O-Net (decision 024, "Results")."""
    import copy

    import torch

    class ReluPReLU(torch.nn.Module):
        def __init__(self, weight: torch.Tensor) -> None:
            super().__init__()
            self.weight = weight

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            w = self.weight.view(1, -1, *([1] * (x.dim() - 2)))
            return torch.relu(x) - w * torch.relu(-x)

    class MaxPReLU(ReluPReLU):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.maximum(x, self.weight.view(1, -1, *([1] * (x.dim() - 2))) * x)

    module = copy.deepcopy(module)
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, torch.nn.PReLU) and child.weight.numel() > 1:
                w = child.weight.detach()
                form = MaxPReLU if bool((w <= 1.0).all() and (w != 0).all()) else ReluPReLU
                setattr(parent, name, form(child.weight))
    return module


def export_bytes(spec: Export) -> bytes:
    """The module as an ONNX model (torch's TorchScript exporter), with `spec.metadata` in its metadata_props."""
    import warnings

    import onnx
    import torch

    buf = io.BytesIO()
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on shape-dependent Python branches (fixed input size)
        torch.onnx.export(_relu_prelus(spec.module).eval(), (torch.zeros(spec.example_shape),), buf,
                          input_names=["x"], opset_version=OPSET, dynamic_axes={"x": spec.dynamic},
                          dynamo=False)  # fmt: skip
    model = onnx.load_from_string(buf.getvalue())
    for k, v in spec.metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    return model.SerializeToString()


def cache_path(name: str, source_sha256: str) -> Path:
    return graphs_dir() / f"{name}-{source_sha256[:32]}-v{EXPORT_VERSION}.onnx"


def compiled(name: str, source_sha256: str, build: Callable[[], Export], threads: int | None = None) -> OnnxGraph:
    """The network `name` exported from weights whose bytes hash to `source_sha256`, from the cache or exported
    now (`build` is called only then — it is what imports torch). A cache file that ONNX Runtime cannot load
    (truncated, damaged) is exported again and replaced; writes are atomic, so two processes exporting at once
    leave one whole file; a write that fails (full disk, read-only cache) leaves the graph in memory only."""
    path = cache_path(name, source_sha256)
    if path.is_file():
        try:
            return OnnxGraph(path, threads)
        except Exception:  # onnxruntime raises its own Fail/InvalidProtobuf types: any failure means re-export
            pass
    if _CACHED_ONLY.get():
        raise GraphMissing(str(path))
    data = export_bytes(build())
    try:
        write_atomic(path, data, mode=0o600)
    except OSError:  # a full disk or a read-only cache: run from memory now, export again next start
        pass
    return OnnxGraph(data, threads)


def metadata_json(graph: OnnxGraph, key: str) -> Any:
    """A JSON value stored in the graph's metadata at export (None when absent)."""
    raw = graph.metadata.get(key)
    return json.loads(raw) if raw is not None else None
