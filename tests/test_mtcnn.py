"""faceunlock.mtcnn gives what facenet-pytorch's MTCNN.detect gives, on real photos and video frames, without
importing facenet_pytorch (and so torchvision) — the cold-start saving of decision 020."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from faceunlock.capture import open_source
from faceunlock.images import load_image
from faceunlock.mtcnn import MTCNN
from tests.shared_data import DATA, REAL_MOV, need


def _frames(path, every: int, limit: int) -> list[np.ndarray]:
    from faceunlock.capture import SlicedSource

    with SlicedSource(open_source(str(path)), limit=limit, step=every) as src:
        return list(src)


@pytest.fixture(scope="module")
def images() -> dict[str, np.ndarray]:
    """Real inputs of every kind the product sees: LFW and CFP photos, a group photo, greyscale ORL, 240p…1080p
    photos, webcam (960×540), 1080p street and 640×360 dark video frames."""
    need("lfw-dev")
    files = sorted((DATA / "lfw-dev").glob("A*/*_0001.jpg"))[:12] + sorted((DATA / "cfp-dev").glob("00[1-4]/01.jpg"))
    files += [DATA / "samples" / "facenet-pytorch" / "multiface.jpg", DATA / "orl" / "s1" / "1.pgm"]
    files += sorted((DATA / "samples" / "face_recognition").glob("obama-*.jpg")) + [
        DATA / "samples" / "face_recognition" / "two_people.jpg"]
    out = {str(f.relative_to(DATA)): load_image(f) for f in files}
    for name, path, every in (("real.mov", REAL_MOV, 40), ("video.mp4", DATA / "samples" / "facenet-pytorch" /
                              "video.mp4", 50), ("hamilton", DATA / "samples" / "face_recognition" /
                              "short_hamilton_clip.mp4", 60)):  # fmt: skip
        for i, f in enumerate(_frames(path, every, 5)):
            out[f"{name}#{i * every}"] = f
    return out


@pytest.mark.parametrize("min_face", [20, 60])
def test_same_faces_boxes_scores_and_landmarks_as_facenet_pytorch(images, min_face):
    from facenet_pytorch import MTCNN as Reference

    ours = MTCNN()
    ref = Reference(min_face_size=min_face, thresholds=[0.6, 0.7, 0.7], keep_all=True)
    faces = 0
    for name, img in images.items():
        b, p, pts = ours.detect(img, min_face)
        rb, rp, rpts = ref.detect(img, landmarks=True)
        if rb is None:
            assert len(b) == 0, name
            continue
        assert b.shape == (len(rb), 4), name
        rb, rp, rpts = (np.asarray(x, np.float32) for x in (rb, rp, rpts))
        mine, theirs = np.lexsort((b[:, 1], b[:, 0])), np.lexsort((rb[:, 1], rb[:, 0]))  # faces scoring 1.0 tie
        np.testing.assert_allclose(b[mine], rb[theirs], atol=2e-3, err_msg=name)
        np.testing.assert_allclose(p[mine], rp[theirs], atol=1e-5, err_msg=name)
        np.testing.assert_allclose(pts[mine], rpts[theirs], atol=2e-3, err_msg=name)
        faces += len(b)
    assert faces >= len(images) - 5  # the comparison covered real faces, not empty results


def test_no_face_and_tiny_images():
    m = MTCNN()
    b, p, pts = m.detect(np.full((240, 320, 3), 128, np.uint8))
    assert b.shape == (0, 4) and p.shape == (0,) and pts.shape == (0, 5, 2)
    assert m.detect(np.zeros((12, 12, 3), np.uint8), 20)[0].shape == (0, 4)


def test_anything_but_an_rgb_image_is_refused_not_misread():
    m = MTCNN()  # the resampling reads three channels per pixel: grey or RGBA would be read as the wrong pixels
    for shape in [(240, 320), (240, 320, 1), (240, 320, 4)]:
        with pytest.raises(ValueError, match="RGB"):
            m.detect(np.full(shape, 128, np.uint8))


def test_detecting_a_face_never_imports_torchvision():
    code = ("import sys; from faceunlock.detect import FaceDetector; from faceunlock.images import load_image; "
            f"assert FaceDetector().primary(load_image({str(REAL_MOV.parent.parent / 'still-images' / 'image_T1.jpg')!r})) "
            "is not None; print(sorted(m for m in sys.modules if m.startswith(('torchvision', 'facenet_pytorch', "
            "'torch._dynamo'))))")  # fmt: skip
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
