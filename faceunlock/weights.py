"""Which face model authenticates, and from which file: `--weights auto|vggface2|casia-webface|dlib-resnet34|PATH`.

`auto` prefers the design card's InceptionResnetV1 (vggface2) when its weights are on disk, else the bundled,
pretrained dlib ResNet-34, which always is. Nothing here touches the network: downloads happen only through
`faceunlock models download`. Untrained weights are refused unless a test explicitly allows them — a random
network "recognises" everyone at some threshold, and that must never guard a screen.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from faceunlock import paths, runtime
from faceunlock.atomic import write_atomic
from faceunlock.backbones import architecture, detect
from faceunlock.embed import Backbone
from faceunlock.errors import WeightsError
from faceunlock.files import NotRegularFile, read_regular

CHECKPOINT_FORMAT = "faceunlock-backbone/1"


def allow_untrained_default() -> bool:
    return os.environ.get("FACEUNLOCK_ALLOW_UNTRAINED") == "1"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def find_pretrained(name: str) -> Path | None:
    """A facenet-pytorch release file in models/ search dirs or facenet-pytorch's own cache, or None."""
    from faceunlock.backbones.inception_recipe import PRETRAINED

    fname = PRETRAINED[name]["file"]
    for d in [*paths.model_search_dirs(), paths.torch_checkpoints_dir()]:
        if (d / fname).is_file():
            return d / fname
    return None


def missing_pretrained_message(name: str) -> str:
    from faceunlock.backbones.inception_recipe import PRETRAINED

    info = PRETRAINED[name]
    where = "\n".join(f"  {d}/" for d in [*paths.model_search_dirs(), paths.torch_checkpoints_dir()])
    return (
        f"weights '{name}' are not on this machine. Get them with\n"
        f"  faceunlock models download {name}\n"
        f"or download {info['url']}\n"
        f"and put {info['file']} in one of:\n{where}\n"
        "(or use --weights dlib-resnet34, the bundled offline model)"
    )


@dataclass
class Choice:
    """What `auto` resolved to and why (shown by `models list` and `doctor`)."""

    spec: str
    reason: str


def auto_choice() -> Choice:
    if find_pretrained("vggface2"):
        return Choice("vggface2", "InceptionResnetV1 vggface2 weights found locally")
    return Choice("dlib-resnet34", "no InceptionResnetV1 weights on disk; using the bundled dlib ResNet-34")


def read_weights_bytes(path: Path) -> bytes:
    """The whole weights file, read once: what is hashed and what is loaded must be the same bytes (issue 9.12 —
    hashing a second read let a file swapped between the reads load under the old file's sha256)."""
    try:
        return read_regular(path)
    except NotRegularFile as e:
        raise WeightsError(str(e)) from e
    except FileNotFoundError as e:
        raise WeightsError(f"{path}: no such weights file") from e
    except OSError as e:
        raise WeightsError(f"{path}: cannot read weights file ({e.strerror or e})") from e


def _torch_load(data: bytes, path: Path) -> dict:
    """torch.load from bytes already in memory (never from the path again)."""
    import torch

    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a bad file
        raise WeightsError(f"{path}: not a readable PyTorch weights file ({e.__class__.__name__}: {e})") from e


def _build(arch: str, state_dict: dict | None, weights_path: Path | None, sha: str, device: str, meta: dict):
    """The registry's network for `arch`, with these weights (None: random init), stamped with `meta`."""
    try:
        a = architecture(arch)
    except WeightsError as e:
        raise WeightsError(f"{weights_path}: {e}") from None
    bb = a.load_module().from_state_dict(state_dict, weights_path, sha, device=device)
    bb.meta.update(meta)
    return bb


def _weights_file(path: Path) -> Path:
    """A weights file, or a `fine-tune --out` folder's weights.pt; missing → WeightsError."""
    path = Path(path).expanduser()
    if path.is_dir():
        if not (path / "weights.pt").is_file():
            raise WeightsError(f"{path}: folder has no weights.pt (expected a `faceunlock fine-tune --out` folder)")
        path = path / "weights.pt"
    if not path.exists():
        raise WeightsError(f"{path}: no such weights file")
    return path


def _from_bytes(data: bytes, sha: str, path: Path, device: str) -> Backbone:
    """Our checkpoint or a raw facenet-pytorch state dict, from its bytes; `meta["untrained"]` says whether it is
    (stored flag, or the network's own `looks_untrained`)."""
    raw = _torch_load(data, path)
    if not isinstance(raw, dict):
        raise WeightsError(f"{path}: expected a state dict, found {type(raw).__name__}")
    meta: dict = {"source": str(path)}
    if raw.get("format") == CHECKPOINT_FORMAT:
        arch, sd = raw.get("arch"), raw.get("state_dict")
        meta.update({k: raw[k] for k in ("untrained", "base", "label") if k in raw})
        untrained = bool(raw.get("untrained"))
    else:
        arch, sd = detect(raw, path).key, raw
        untrained = False
    bb = _build(arch, sd, path, sha, device, meta)
    bb.meta["untrained"] = untrained or architecture(arch).load_module().looks_untrained(bb.net)
    return bb


def _refuse_untrained(path: Path, untrained: bool, allow_untrained: bool | None) -> None:
    allow = allow_untrained_default() if allow_untrained is None else allow_untrained
    if untrained and not allow:
        raise WeightsError(
            f"{path}: these weights are untrained (random initialisation); refusing to authenticate with them. "
            "Use pretrained weights (faceunlock models list)."
        )


def load_weights_file(path: Path, device: str = "cpu", allow_untrained: bool | None = None) -> Backbone:
    """Our checkpoint, a fine-tune output folder, or a raw facenet-pytorch state dict."""
    path = _weights_file(path)
    data = read_weights_bytes(path)
    bb = _from_bytes(data, hashlib.sha256(data).hexdigest(), path, device)
    _refuse_untrained(path, bb.meta["untrained"], allow_untrained)
    return bb


def _weights_path(spec: str) -> Path:
    """The file `spec` names: a released InceptionResnetV1 found on disk, or a path."""
    from faceunlock.backbones.inception_recipe import PRETRAINED

    if spec in PRETRAINED:
        found = find_pretrained(spec)
        if found is None:
            raise WeightsError(missing_pretrained_message(spec))
        return found
    return _weights_file(Path(spec))


def resolve_backbone(spec: str = "auto", device: str = "cpu", allow_untrained: bool | None = None,
                     compiled: bool = False, threads: int | None = None) -> Backbone:  # fmt: skip
    """The backbone named by `spec` (see module docstring). Missing files → WeightsError saying what to do.

    `compiled`: for unlocking — the network runs as an ONNX graph (faceunlock/runtime.py; exported once per weights
    file, the only time torch is imported) and the backbone has no torch module; `threads`: its session's count
    (default: the unlock policy, faceunlock/cpu.py). Training leaves it False: it needs the module."""
    spec = spec or "auto"
    if spec == "auto":
        spec = auto_choice().spec
    if compiled and runtime.onnx_runtime(device):
        return _compiled(spec, allow_untrained, threads)
    if spec == "dlib-resnet34":
        from faceunlock.backbones import dlib_resnet

        return dlib_resnet.load_bundled(device=device)
    from faceunlock.backbones.inception_recipe import PRETRAINED

    bb = load_weights_file(_weights_path(spec), device=device, allow_untrained=allow_untrained)
    if spec in PRETRAINED:
        bb.meta["pretrained"] = spec
    return bb


def _compiled(spec: str, allow_untrained: bool | None, threads: int | None = None) -> Backbone:
    """`resolve_backbone(..., compiled=True)` on the CPU: the same files read and hashed the same way, the network
    from the graph cache. What the network module would have said (architecture, stamps, untrained) is stored in
    the graph when it is exported and read back from it."""
    from faceunlock.backbones.inception_recipe import PRETRAINED

    if spec == "dlib-resnet34":
        from faceunlock.backbones import dlib_recipe as d

        path = d.BUNDLED_DIR / d.BIN_NAME
        bin_bytes, manifest = read_weights_bytes(path), read_weights_bytes(d.BUNDLED_DIR / d.MANIFEST_NAME)
        sha = hashlib.sha256(bin_bytes + manifest).hexdigest()

        def load() -> Backbone:
            from faceunlock.backbones import dlib_resnet

            bb = dlib_resnet.bundled_from_bytes(bin_bytes, manifest)
            bb.meta["untrained"] = False
            return bb
    else:
        path = _weights_path(spec)
        data = read_weights_bytes(path)
        sha = hashlib.sha256(data).hexdigest()

        def load() -> Backbone:
            return _from_bytes(data, sha, path, "cpu")

    def build() -> runtime.Export:
        bb = load()
        info = {"arch": bb.arch, "meta": bb.meta}
        return runtime.Export(bb.net, (1, 3, bb.input_size, bb.input_size), {0: "n"},
                              {"faceunlock.backbone": json.dumps(info, default=str)})  # fmt: skip

    graph = runtime.compiled("backbone", sha, build, threads)
    info = runtime.metadata_json(graph, "faceunlock.backbone")
    if not isinstance(info, dict) or "arch" not in info:
        raise WeightsError(f"{runtime.cache_path('backbone', sha)}: compiled graph without its backbone record "
                           "(delete it; it is exported again)")  # fmt: skip
    meta = dict(info.get("meta") or {})
    _refuse_untrained(path, bool(meta.get("untrained")), allow_untrained)
    if spec != "dlib-resnet34":
        meta["source"] = str(path)  # where it is now (the graph may have been exported from a copy elsewhere)
    if spec in PRETRAINED:
        meta["pretrained"] = spec
    cls = architecture(info["arch"]).backbone_class()
    return cls(net=None, weights_path=path, sha256=sha, device="cpu", meta=meta, graph=graph)


def random_backbone(arch: str = "inception", seed: int = 0, device: str = "cpu") -> Backbone:
    """A seeded, untrained backbone: for tests and `fine-tune --base random` only (never authenticates)."""
    import torch

    torch.manual_seed(seed)
    bb = _build(arch, None, None, f"random-{arch}-seed{seed}", device, {"untrained": True})
    return bb


def save_backbone(backbone: Backbone, path: Path, untrained: bool | None = None, **extra) -> str:
    """Write our checkpoint format atomically; returns the file's sha256 (what calibrations bind to)."""
    import torch

    if untrained is None:
        untrained = bool(backbone.meta.get("untrained", False))
    state = {k: v.detach().cpu().contiguous() for k, v in backbone.net.state_dict().items()}
    buf = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, "arch": backbone.arch, "state_dict": state,
                "untrained": untrained, **extra}, buf)  # fmt: skip
    data = buf.getvalue()
    write_atomic(Path(path), data, mode=0o644)
    return hashlib.sha256(data).hexdigest()


def download_pretrained(name: str, dest_dir: Path | None = None, progress: bool = True) -> Path:
    """Explicit, user-requested download of a facenet-pytorch release file (never called while authenticating)."""
    from faceunlock.backbones.inception_recipe import PRETRAINED

    if name not in PRETRAINED:
        raise WeightsError(f"unknown model '{name}' (downloadable: {', '.join(PRETRAINED)})")
    info = PRETRAINED[name]
    dest_dir = dest_dir or paths.user_models_dir()
    dest = dest_dir / info["file"]
    try:
        with urllib.request.urlopen(info["url"], timeout=30) as r:
            total = int(r.headers.get("Content-Length") or 0)
            from tqdm import tqdm

            chunks = []
            with tqdm(total=total, unit="B", unit_scale=True, disable=not progress, desc=info["file"]) as bar:
                for chunk in iter(lambda: r.read(1 << 20), b""):
                    chunks.append(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, OSError) as e:
        raise WeightsError(
            f"could not download {info['url']}: {e}. This machine may be offline: download the file elsewhere "
            f"and copy it to {dest}"
        ) from e
    write_atomic(dest, b"".join(chunks), mode=0o644)
    return dest
