"""facesets: folder-per-person datasets, detections cached across runs, chips per backbone, problems reported."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from faceunlock.detect import FaceDetector
from faceunlock.errors import DatasetError
from faceunlock.facesets import (
    DetectionCache,
    detect_files,
    face_from_dict,
    face_to_dict,
    load_chips,
    scan_identities,
)
from faceunlock.weights import resolve_backbone
from tests.shared_data import need

YALE = [
    ("subject01", "subject01.normal.gif"),
    ("subject02", "subject02.happy.gif"),
    ("subject03", "subject03.sad.gif"),
]


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    torch.set_num_threads(min(torch.get_num_threads(), 2))
    return FaceDetector()


@pytest.fixture
def counting_factory(detector):
    """A detector factory that hands out the one real detector and counts how often it is asked."""
    calls = []

    def factory() -> FaceDetector:
        calls.append(1)
        return detector

    factory.calls = calls
    return factory


def _never() -> FaceDetector:
    raise AssertionError("the detector was built although every file is cached")


def _yale() -> list:
    return [need("yale", d, f) for d, f in YALE]


def test_scan_identities_orl():
    ids = scan_identities(need("orl"))
    assert len(ids) == 40
    assert set(ids) == {f"s{i}" for i in range(1, 41)}
    assert all(len(files) == 10 for files in ids.values())
    assert all(f.suffix == ".pgm" and f.parent.name == name for name, files in ids.items() for f in files)
    assert ids["s1"] == sorted(ids["s1"])


def test_scan_identities_skips_hidden_empty_and_non_images(tmp_path):
    for d in ("alice", "bob", ".hidden", "empty"):
        (tmp_path / d).mkdir()
    (tmp_path / "alice" / "1.jpg").write_bytes(b"x")
    (tmp_path / "alice" / "notes.txt").write_text("x")
    (tmp_path / "bob" / "2.PNG").write_bytes(b"x")
    (tmp_path / ".hidden" / "3.jpg").write_bytes(b"x")
    (tmp_path / "loose.jpg").write_bytes(b"x")
    ids = scan_identities(tmp_path)
    assert ids == {"alice": [tmp_path / "alice" / "1.jpg"], "bob": [tmp_path / "bob" / "2.PNG"]}
    with pytest.raises(DatasetError, match="loose.jpg"):
        scan_identities(tmp_path / "loose.jpg")


def test_face_dict_round_trip_is_exact(detector):
    face = detector.primary(np.ascontiguousarray(np.asarray(Image.open(_yale()[0]).convert("RGB"))))
    back = face_from_dict(face_to_dict(face))
    np.testing.assert_array_equal(back.box, face.box)
    np.testing.assert_array_equal(back.landmarks, face.landmarks)
    assert back.score == face.score


def test_detection_cache_second_run_never_builds_a_detector(fu_home, tmp_path, counting_factory):
    grey = tmp_path / "grey.png"
    Image.fromarray(np.full((120, 160), 128, np.uint8)).save(grey)
    files = [*_yale(), grey]

    cache = DetectionCache()
    assert cache.path == fu_home / "cache" / "detections.sqlite"
    first = detect_files(files, counting_factory, cache)
    cache.close()
    assert len(counting_factory.calls) == 1  # built once, for all files
    assert [d.path for d in first] == files
    assert all(d.face is not None and d.problem is None for d in first[:3])
    assert first[3].face is None and "no face" in first[3].problem

    cache = DetectionCache()  # a new process would open the same file
    second = detect_files(files, _never, cache)
    cache.close()
    for a, b in zip(first, second, strict=True):
        assert a.path == b.path and a.problem == b.problem
        if a.face is None:
            assert b.face is None
            continue
        np.testing.assert_array_equal(a.face.box, b.face.box)
        np.testing.assert_array_equal(a.face.landmarks, b.face.landmarks)
        assert a.face.score == b.face.score
    assert all(d.image is None for d in second)  # cached and not asked for: the image is not even decoded


def test_detection_cache_invalidated_when_file_changes(fu_home, tmp_path, counting_factory):
    p = tmp_path / "face.gif"
    shutil.copy(_yale()[0], p)
    cache = DetectionCache(tmp_path / "det.sqlite")
    detect_files([p], counting_factory, cache)
    detect_files([p], _never, cache)
    st = p.stat()
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # edited: same size, new mtime
    detect_files([p], counting_factory, cache)
    cache.close()
    assert len(counting_factory.calls) == 2


def test_detect_files_keep_images_and_corrupt_file(fu_home, tmp_path, counting_factory):
    bad = tmp_path / "corrupt.jpg"
    bad.write_bytes(np.random.default_rng(0).bytes(3000))
    cache = DetectionCache()
    files = [_yale()[0], bad]
    detect_files(files, counting_factory, cache)
    res = detect_files(files, _never, cache, keep_images=True)
    cache.close()
    assert res[0].image is not None and res[0].image.shape == (243, 320, 3)
    assert res[1].face is None and res[1].image is None and "corrupt.jpg" in res[1].problem


def test_missing_file_with_cache_is_a_problem_not_a_crash(fu_home, tmp_path):
    cache = DetectionCache()
    try:
        res = detect_files([tmp_path / "gone.jpg"], _never, cache)
    finally:
        cache.close()
    assert res[0].face is None and "gone.jpg" in res[0].problem


def test_load_chips_yale_with_a_corrupt_file(fu_home, tmp_path, counting_factory):
    bad = tmp_path / "broken.gif"
    bad.write_bytes(need("yale", "subject04", "subject04.normal.gif").read_bytes()[:300])  # truncated
    yale = _yale()
    files = [yale[0], bad, *yale[1:]]
    backbone = resolve_backbone("dlib-resnet34")
    chips, kept, problems = load_chips(files, backbone, counting_factory, DetectionCache())
    assert chips.shape == (3, 150, 150, 3) and chips.dtype == np.uint8
    assert kept == yale
    assert len(problems) == 1 and problems[0][0] == bad and "broken.gif" in problems[0][1]
    assert all(c.std() > 10 for c in chips)  # real face content, not a replicated border
    assert not np.array_equal(chips[0], chips[1])
    # the chip is what the backbone's own recipe cuts from the detection
    det = detect_files(yale[:1], _never, DetectionCache(), keep_images=True)[0]
    np.testing.assert_array_equal(chips[0], backbone.align(det.image, det.face))


def test_load_chips_nothing_usable(fu_home, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"")
    backbone = resolve_backbone("dlib-resnet34")
    chips, kept, problems = load_chips([bad], backbone, _never, None)
    assert chips.shape == (0, 150, 150, 3) and kept == [] and problems[0][0] == bad


def test_embed_files_embeds_each_photo_once_per_weights_file(fu_home, tmp_path, counting_factory, monkeypatch):
    """The first run detects, aligns and embeds in batches; the second (another pairs list, the same photos) reads
    every embedding from the cache — no photo decoded, nothing embedded — and gets the same numbers; other
    weights (another hash) embed again. A broken photo is reported, not fatal, both times."""
    import faceunlock.facesets as fs

    bad = tmp_path / "broken.gif"
    bad.write_bytes(need("yale", "subject04", "subject04.normal.gif").read_bytes()[:300])
    yale = _yale()
    files = [yale[0], bad, *yale[1:]]
    backbone = resolve_backbone("dlib-resnet34", compiled=True)
    calls = []
    embed = backbone.embed
    monkeypatch.setattr(backbone, "embed", lambda chips: calls.append(len(chips)) or embed(chips))
    first, kept, problems = fs.embed_files(files, backbone, counting_factory, DetectionCache(), batch=2)
    assert kept == yale and calls == [2, 1] and len(problems) == 1 and "broken.gif" in problems[0][1]
    chips, _, _ = load_chips(yale, backbone, _never, DetectionCache())
    np.testing.assert_array_equal(first, embed(chips))  # what embedding the chips gives
    decoded = []
    load = fs.load_image
    monkeypatch.setattr(fs, "load_image", lambda p: decoded.append(p) or load(p))
    again, kept2, problems2 = fs.embed_files(files, backbone, _never, DetectionCache())
    assert kept2 == yale and calls == [2, 1] and decoded == [bad] and len(problems2) == 1
    np.testing.assert_array_equal(again, first)
    monkeypatch.setattr(backbone, "sha256", "0" * 64)  # other weights file: nothing of theirs is cached
    fs.embed_files(yale, backbone, _never, DetectionCache())
    assert calls == [2, 1, 3]
