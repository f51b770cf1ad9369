"""Where things live: XDG dirs (platformdirs), or everything under one `--home`/FACEUNLOCK_HOME for tests."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_cache_dir, user_config_dir, user_data_dir

APP = "faceunlock"
REPO_MODELS = Path(__file__).resolve().parent.parent / "models"
"""The repository's `models/` folder: bundled weights, their calibrations, and where users drop downloads."""


def home() -> Path | None:
    """The single-folder override (`--home` sets FACEUNLOCK_HOME), or None for XDG."""
    value = os.environ.get("FACEUNLOCK_HOME")
    return Path(value).expanduser() if value else None


def data_dir() -> Path:
    """Templates live here (user data: losing it means re-enrolling)."""
    h = home()
    return h / "data" if h else Path(user_data_dir(APP))


def config_dir() -> Path:
    h = home()
    return h / "config" if h else Path(user_config_dir(APP))


def cache_dir() -> Path:
    """Aligned-crop and feature caches: safe to delete."""
    h = home()
    return h / "cache" if h else Path(user_cache_dir(APP))


def user_models_dir() -> Path:
    """Downloaded weights and user calibrations (`faceunlock models download`, `calibrate`)."""
    return data_dir() / "models"


def model_search_dirs() -> list[Path]:
    """Folders searched for weight files, in order: FACEUNLOCK_MODELS, the user's models dir, the repo's models/."""
    dirs = []
    if os.environ.get("FACEUNLOCK_MODELS"):
        dirs.append(Path(os.environ["FACEUNLOCK_MODELS"]).expanduser())
    dirs += [user_models_dir(), REPO_MODELS]
    return dirs


def torch_checkpoints_dir() -> Path:
    """facenet-pytorch's own download cache: $TORCH_HOME/checkpoints (default ~/.cache/torch/checkpoints)."""
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch"
    )
    return Path(torch_home) / "checkpoints"


def ensure_private_dir(path: Path) -> Path:
    """Create a 0700 folder (templates and keys never readable by other users)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        path.chmod(0o700)
    except OSError:
        pass
    return path
