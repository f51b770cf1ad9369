"""Fixtures for the training wing: small real face sets (symlinks into ../shared/data/orl) and one cache home.

All tests in tests/train share FACEUNLOCK_HOME, so MTCNN runs once per file per session (the detection cache),
which keeps the suite within a few minutes on two cores.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.shared_data import need

REPO = Path(__file__).resolve().parents[2]


def make_people(root: Path, source: Path, people: dict[str, int]) -> Path:
    """root/NAME/ with the first n images of source/NAME, as symlinks (the data stays in ../shared)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, n in people.items():
        d = root / name
        d.mkdir()
        for f in sorted((source / name).iterdir())[:n]:
            (d / f.name).symlink_to(f)
    return root


@pytest.fixture(scope="session")
def train_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("fu-train-home")
    mp = pytest.MonkeyPatch()
    mp.setenv("FACEUNLOCK_HOME", str(home))
    yield home
    mp.undo()


@pytest.fixture(scope="session")
def orl6(tmp_path_factory: pytest.TempPathFactory, train_home: Path) -> Path:
    """6 ORL people × 6 photos: 4 train, 2 held out by the default 25 % split (min 2)."""
    return make_people(
        tmp_path_factory.mktemp("orl6") / "people", need("orl"), {f"s{i}": 6 for i in range(1, 7)}
    )


def subprocess_env(home: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), FACEUNLOCK_HOME=str(home), OMP_NUM_THREADS="1")
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return env


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "faceunlock.cli.fine_tune", *args]
