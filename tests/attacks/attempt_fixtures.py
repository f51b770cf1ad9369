"""Fixtures for the attacks on one attempt (liveness per frame, looped still, full disk, parallel attempts,
deleted lock-out state): the owner enrolled by the real CLI, one engine, real frames.

The owner is `enrolled` from tests/cli/test_enroll_verify.py (alice from real.mov's first 100 frames, through the
CLI and the real keyring); the engine is loaded once per module in this process.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest
import torch

from faceunlock.capture import open_source
from faceunlock.images import load_image
from tests.cli.test_enroll_verify import enrolled  # noqa: F401 - the owner's enrolment, reused as a fixture
from tests.shared_data import REAL_MOV, need

OWNER_LATER = range(100, 199)
"""real.mov frames after the enrolment part: the owner coming back."""
REPLAY_FRAMES = (36, 37, 38)
"""fake.mp4 frames of alice on a phone screen, each scored ≈ 0.2 live (0.220, 0.198, 0.216 measured)."""
STRANGER = ("Adam_Sandler/Adam_Sandler_0001.jpg", "Adam_Sandler/Adam_Sandler_0003.jpg")
"""Two LFW photos of one stranger that the liveness networks score live (1.000 and 0.995 measured)."""


def video_frames(path: Path, wanted: Iterable[int]) -> list[np.ndarray]:
    """The listed frames of a video, decoded for real, in the order listed."""
    wanted = list(wanted)
    got: dict[int, np.ndarray] = {}
    with open_source(str(path)) as src:
        for i, frame in enumerate(src):
            if i > max(wanted):
                break
            if i in wanted:
                got[i] = frame
    return [got[i] for i in wanted]


@pytest.fixture(scope="module")
def engine():
    from faceunlock.auth import Engine

    torch.set_num_threads(1)
    return Engine.load()


@pytest.fixture
def owner(enrolled, engine, monkeypatch):  # noqa: F811 - pytest injects the imported fixture
    """alice's templates for this engine, with FACEUNLOCK_HOME on her enrolled home (shared by the module:
    tests give their Lockout a path of their own)."""
    from faceunlock.auth import user_templates
    from faceunlock.store import TemplateStore

    monkeypatch.setenv("FACEUNLOCK_HOME", str(enrolled))
    return user_templates(TemplateStore(), "alice", engine.backbone)


@pytest.fixture(scope="module")
def owner_later() -> list[np.ndarray]:
    return video_frames(REAL_MOV, OWNER_LATER)


@pytest.fixture(scope="module")
def replay() -> list[np.ndarray]:
    return video_frames(need("liveness", "webcam-replay", "fake.mp4"), REPLAY_FRAMES)


@pytest.fixture(scope="module")
def stranger() -> list[np.ndarray]:
    return [load_image(need("lfw-dev", p)) for p in STRANGER]
