"""Where the real face data lives: ../shared/data beside the checkout (CI lays it there), or FACEUNLOCK_SHARED."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def shared_data_dir() -> Path:
    env = os.environ.get("FACEUNLOCK_SHARED")
    if env:
        p = Path(env).expanduser()
        return p / "data" if (p / "data").is_dir() else p
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


DATA = shared_data_dir()
REAL_MOV = DATA / "liveness" / "webcam-replay" / "real.mov"


def need(*parts: str) -> Path:
    """A path under the shared data; fail (not skip) when it is absent: these tests are the point."""
    p = DATA.joinpath(*parts)
    if not p.exists():
        pytest.fail(f"shared test data missing: {p} (clone with ../shared beside the checkout or set FACEUNLOCK_SHARED)")
    return p
