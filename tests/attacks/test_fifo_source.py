"""Issue 9.10: a FIFO (or any non-regular file) given as a source, or sitting in a folder, blocked forever in
open(): the command never returned. Now it is refused at once with an error naming the file (exit 2), a dataset
run reports it among the problem files and finishes, and the real files around it still work.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from faceunlock.capture import open_source
from faceunlock.errors import CameraError, ImageReadError, WeightsError
from faceunlock.images import load_image
from faceunlock.secrets import set_password
from faceunlock.weights import load_weights_file
from tests.shared_data import need

REPO = Path(__file__).resolve().parents[2]
HANG = 120  # seconds: far longer than any of these commands needs; a hang fails the test instead of blocking


def cli(*args: str | Path, home: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "faceunlock", "--home", str(home), *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=HANG, cwd=REPO, stdin=subprocess.DEVNULL,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip


@pytest.fixture
def photos(tmp_path) -> Path:
    """Three real LFW photos of one person and, among them, a FIFO named like a photo."""
    src = need("lfw-dev", "Abdullah_Gul")
    d = tmp_path / "photos" / "Abdullah_Gul"
    d.mkdir(parents=True)
    for p in sorted(src.iterdir())[:3]:
        shutil.copy(p, d / p.name)
    os.mkfifo(d / "Abdullah_Gul_9999.jpg")
    return d


def test_a_fifo_given_as_the_source_is_refused_naming_it(tmp_path, fu_home, keyring_session):
    set_password("correct horse")  # so the first enrolment goes straight to the source
    for name in ("camera.mp4", "face.jpg"):
        fifo = tmp_path / name
        os.mkfifo(fifo)
        r = cli("enroll", "alice", "--source", fifo, "--weights", "dlib-resnet34", home=fu_home)
        assert r.returncode == 2, r.stderr
        assert str(fifo) in r.stderr and "FIFO" in r.stderr, r.stderr


def test_a_fifo_inside_a_source_folder_is_refused_naming_it(photos, fu_home, keyring_session):
    set_password("correct horse")
    r = cli("enroll", "alice", "--source", photos, "--weights", "dlib-resnet34", home=fu_home)
    assert r.returncode == 2 and "Abdullah_Gul_9999.jpg" in r.stderr and "FIFO" in r.stderr, r.stderr
    with pytest.raises(CameraError, match="Abdullah_Gul_9999.jpg"):
        open_source(str(photos))
    # the real photos beside it are fine once it is gone
    (photos / "Abdullah_Gul_9999.jpg").unlink()
    with open_source(str(photos)) as src:
        frames = list(src)
    assert len(frames) == 3 and frames[0].shape == (250, 250, 3)


def test_a_dataset_run_reports_the_fifo_and_finishes(photos, tmp_path, fu_home):
    r = cli("align", photos.parent, tmp_path / "chips", "--json", home=fu_home)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["images"] == 4 and report["aligned"] == 3, report
    assert any("Abdullah_Gul_9999.jpg" in p and "FIFO" in p for p in report["problems"]), report["problems"]


def test_fifo_images_and_weights_fail_fast_in_the_library(tmp_path):
    fifo = tmp_path / "x.png"
    os.mkfifo(fifo)
    with pytest.raises(ImageReadError, match="FIFO"):
        load_image(fifo)
    weights = tmp_path / "weights.pt"
    os.mkfifo(weights)
    with pytest.raises(WeightsError, match="FIFO"):
        load_weights_file(weights)
