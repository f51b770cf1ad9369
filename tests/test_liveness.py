"""liveness: the ported MiniFASNets tell a live webcam face from a phone replay, a poster and a tablet.

Real data only (../shared/data/liveness). Numbers behind the assertions: benchmarks/liveness_eval.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from faceunlock.capture import open_source
from faceunlock.detect import Face, FaceDetector, choose_primary
from faceunlock.errors import WeightsError
from faceunlock.images import load_image
from faceunlock.liveness import (
    DEFAULT_REQUIRED,
    DEFAULT_THRESHOLD,
    MODEL_DIR,
    MODEL_FILES,
    LivenessChecker,
    LivenessSession,
    context_box,
    network_input,
)
from faceunlock.runtime import OnnxGraph
from tests.shared_data import need

V2_FILE, V1SE_FILE = (m.filename for m in MODEL_FILES)
ATTACK_FRAMES = range(27, 95)
"""fake.mp4 frames whose primary face is the replay on the phone (before 27 it is the presenter's own live face,
held beside the phone; after 94 MTCNN loses the turned phone). See benchmarks/liveness_eval.py."""


@pytest.fixture(scope="module")
def checker() -> LivenessChecker:
    torch.set_num_threads(1)
    return LivenessChecker.load()


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


def faces_in(path: Path, detector: FaceDetector, frames: range) -> list[tuple[int, np.ndarray, Face]]:
    """(frame number, RGB frame, primary face) for the listed frames of a video that have a face."""
    out = []
    with open_source(str(path)) as src:
        for i, frame in enumerate(src):
            if i > frames[-1]:
                break
            if i in frames and (face := choose_primary(detector.detect(frame), frame.shape)) is not None:
                out.append((i, frame, face))
    return out


# -- loading ------------------------------------------------------------------------------------------------
def test_bundled_weights_load_strictly(checker):
    from faceunlock.minifasnet import load_minifasnet

    assert [scale for scale, _ in checker.models] == [2.7, 4.0]
    v2, v1se = (load_minifasnet(MODEL_DIR / m.filename, m.spec) for m in MODEL_FILES)
    assert v1se.conv_4.model[5].se_module is not None and v2.conv_4.model[5].se_module is None
    assert v2(torch.zeros(2, 3, 80, 80)).shape == (2, 3)


def test_the_checker_runs_the_exported_networks_with_the_modules_results(checker):
    """The unlock path runs the ONNX export (decision 023); on real patches it scores what the torch modules score."""
    from faceunlock.minifasnet import load_minifasnet

    assert all(isinstance(net, OnnxGraph) for _, net in checker.models)
    image = load_image(need("liveness", "still-images", "image_F2.jpg"))
    face = choose_primary(FaceDetector().detect(image), image.shape)
    patches = checker.patches(image, face)
    for (_, graph), m, patch in zip(checker.models, MODEL_FILES, patches, strict=True):
        x = np.ascontiguousarray(patch.transpose(2, 0, 1)[None], dtype=np.float32)
        with torch.inference_mode():
            want = load_minifasnet(MODEL_DIR / m.filename, m.spec)(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(graph(x)[0], want, atol=1e-4)


def test_missing_weights_name_the_file(tmp_path):
    with pytest.raises(WeightsError, match=V2_FILE):
        LivenessChecker.load(model_dir=tmp_path)
    shutil.copy(MODEL_DIR / V2_FILE, tmp_path / V2_FILE)
    with pytest.raises(WeightsError, match=V1SE_FILE):
        LivenessChecker.load(model_dir=tmp_path)


def test_corrupt_weights_name_the_file(tmp_path):
    shutil.copy(MODEL_DIR / V2_FILE, tmp_path / V2_FILE)
    (tmp_path / V1SE_FILE).write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match=V1SE_FILE):
        LivenessChecker.load(model_dir=tmp_path)


def test_weights_for_another_architecture_name_the_file(tmp_path):
    shutil.copy(MODEL_DIR / V2_FILE, tmp_path / V2_FILE)
    shutil.copy(MODEL_DIR / V2_FILE, tmp_path / V1SE_FILE)  # V2 weights where the SE network is expected
    with pytest.raises(WeightsError, match=f"{V1SE_FILE}.*does not fit"):
        LivenessChecker.load(model_dir=tmp_path)


# -- input geometry -----------------------------------------------------------------------------------------
def test_context_box_inside_the_frame_is_the_scaled_box():
    assert context_box([100, 100, 200, 220], 2.0, 1000, 1000) == (50, 40, 250, 280)
    assert context_box([100, 100, 200, 220], 2.0, 1000, 1000, fit="shift") == (50, 40, 250, 280)


def test_context_box_at_the_edge_clips_or_shifts():
    # a 160×210 webcam face in a 960×540 frame: 4.0× does not fit
    box = [400, 235, 560, 445]
    assert context_box(box, 4.0, 960, 540) == (160, 0, 800, 539)  # full 4.0× width, cut at top and bottom
    x1, y1, x2, y2 = context_box(box, 4.0, 960, 540, fit="shift")  # scale shrunk to fit, slid inside
    assert (y1, y2) == (0, 539) and x2 - x1 == pytest.approx(160 * 539 / 210, abs=1)


def test_network_input_is_80x80_bgr():
    image = np.zeros((100, 100, 3), np.uint8)
    image[..., 0] = 255  # pure red in RGB
    patch = network_input(image, [30, 30, 70, 70], 2.7)
    assert patch.shape == (80, 80, 3) and patch.dtype == np.uint8
    assert (patch[..., 2] == 255).all() and (patch[..., 0] == 0).all()  # red is the last channel in BGR


def test_box_outside_the_frame_is_an_error(checker):
    with pytest.raises(ValueError, match="outside"):
        checker.score(np.zeros((100, 100, 3), np.uint8), [300, 300, 350, 350])


# -- session logic ------------------------------------------------------------------------------------------
class _Scripted:
    """A checker whose scores are given, to test the session's bookkeeping alone."""

    def __init__(self, scores: list[float]) -> None:
        self.scores = list(scores)

    def score(self, image, face) -> float:
        return self.scores.pop(0)


def _offer_all(scores: list[float], required: int = 3) -> LivenessSession:
    session = LivenessSession(_Scripted(scores), threshold=0.5, required=required)  # type: ignore[arg-type]
    for _ in scores:
        session.offer(None, None)  # type: ignore[arg-type]
    return session


def test_session_undecided_until_the_window_is_full():
    s = _offer_all([0.9, 0.9])
    assert not s.live and not s.spoof and not s.decided
    assert "2/3" in s.message


def test_session_live_on_a_passing_window_and_one_bad_frame_does_not_sink_it():
    s = _offer_all([0.9, 0.2, 0.9])  # mean 0.67
    assert s.live and not s.spoof


def test_session_spoof_is_final():
    s = _offer_all([0.2, 0.3, 0.4, 0.99, 0.99, 0.99, 0.99])
    assert s.spoof and not s.live, "a later good window must not undo a failed one"


def test_session_live_follows_the_latest_frames():
    s = _offer_all([0.9, 0.9, 0.9])
    assert s.live
    s.add(0.0)
    s.add(0.1)  # window 0.9, 0.0, 0.1 → mean 0.33: the photo held up after a live face fails
    assert s.spoof and not s.live


# -- real data ----------------------------------------------------------------------------------------------
def test_still_images_poster_and_tablet_score_below_the_live_face(checker, detector):
    scores = {}
    for key in ("T1", "F1", "F2"):
        image = load_image(need("liveness", "still-images", f"image_{key}.jpg"))  # T1 is stored rotated
        face = choose_primary(detector.detect(image), image.shape)
        assert face is not None, key
        scores[key] = checker.score(image, face)
    assert scores["T1"] > 0.95  # measured 1.000
    assert scores["F1"] < DEFAULT_THRESHOLD  # printed poster, measured 0.28
    assert scores["F2"] < 0.05  # tablet replay, measured 0.003
    assert scores["T1"] > scores["F1"] and scores["T1"] > scores["F2"]


def test_the_networks_expect_bgr(checker, detector):
    """Fed RGB, the tablet replay F2 looks live (0.99): why network_input flips the channels."""
    image = load_image(need("liveness", "still-images", "image_F2.jpg"))
    face = choose_primary(detector.detect(image), image.shape)
    assert face is not None
    rgb = [p[:, :, ::-1] for p in checker.patches(image, face)]
    assert checker.probabilities_of(rgb)[:, 1].mean() > 0.5 > checker.score(image, face)


def test_session_says_live_on_the_live_webcam(checker, detector):
    frames = faces_in(need("liveness", "webcam-replay", "real.mov"), detector, range(0, 199, 3))
    assert len(frames) >= 60
    session = LivenessSession(checker, DEFAULT_THRESHOLD, DEFAULT_REQUIRED)
    for _, frame, face in frames:
        session.offer(frame, face)
        assert not session.spoof, f"live face rejected, window scores {list(session.scores)}"
    assert session.live
    assert np.median(session.history) > 0.9  # measured 0.97 over all 195 frames


def test_session_says_spoof_on_the_phone_replay(checker, detector):
    frames = faces_in(need("liveness", "webcam-replay", "fake.mp4"), detector, ATTACK_FRAMES[::2])
    assert len(frames) >= 20
    assert all(face.width < 130 for _, _, face in frames), "expected the small face on the phone screen"
    scores = []
    for start in range(0, len(frames) - DEFAULT_REQUIRED + 1, DEFAULT_REQUIRED):  # independent attempts
        session = LivenessSession(checker, DEFAULT_THRESHOLD, DEFAULT_REQUIRED)
        for _, frame, face in frames[start : start + DEFAULT_REQUIRED]:
            session.offer(frame, face)
            assert not session.live
        assert session.spoof, f"replay accepted, window scores {list(session.scores)}"
        scores += session.history
    assert max(scores) < DEFAULT_THRESHOLD  # measured max 0.34 over all 56 attack frames
