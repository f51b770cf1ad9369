"""pipeline: one real frame → the user's face → quality gates → the backbone's chip, and nothing embedded when
the frame holds no usable face."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from faceunlock.embed import pairwise_distances
from faceunlock.images import load_image
from faceunlock.pipeline import FaceProcessor
from faceunlock.weights import resolve_backbone
from tests.shared_data import need


@pytest.fixture(scope="module")
def processor() -> FaceProcessor:
    torch.set_num_threads(min(torch.get_num_threads(), 2))
    return FaceProcessor(resolve_backbone("dlib-resnet34"))


def lfw(name: str, n: int) -> np.ndarray:
    return load_image(need("lfw-dev", name, f"{name}_{n:04d}.jpg"))


def _assert_unusable_without_face(result) -> None:
    assert not result.usable
    assert result.face is None and result.chip is None and result.quality is None
    assert result.n_faces == 0
    assert result.rejection  # the wording is being turned into an enum: only that there is one


def test_real_lfw_face_is_usable_and_cut_to_the_backbone_chip(processor):
    image = lfw("Serena_Williams", 1)
    r = processor.analyze(image)
    assert r.usable and r.rejection is None
    assert r.face is not None and r.n_faces >= 1
    assert r.quality is not None and r.quality.ok and r.quality.reasons == []
    s = processor.backbone.input_size
    assert r.chip.shape == (s, s, 3) and r.chip.dtype == np.uint8
    assert r.chip.std() > 20  # face content, not a replicated border
    # LFW's labelled face is centred in the 250×250 image
    np.testing.assert_allclose(r.face.centre, [125, 125], atol=25)
    # the chip is exactly what the backbone's own recipe cuts from that detection
    np.testing.assert_array_equal(r.chip, processor.backbone.align(image, r.face))


@pytest.mark.parametrize(
    ("name", "n", "other"),
    [("Abdullah_al-Attiyah", 2, 1), ("Alvaro_Silva_Calderon", 2, 1)],  # 3 faces each in the photo
)
def test_photo_with_several_faces_yields_the_centred_labelled_person(processor, name, n, other):
    image = lfw(name, n)
    r = processor.analyze(image)
    assert r.usable
    assert r.n_faces >= 2, "the photo holds bystanders: the test needs them detected"
    np.testing.assert_allclose(r.face.centre, [125, 125], atol=20)
    # it is the labelled person: their other photo is closer to the chosen chip than to every bystander's
    bb = processor.backbone
    ref = processor.analyze(lfw(name, other))
    assert ref.usable
    faces = processor.detector.detect(image, min_face_px=0.8 * processor.limits.min_face_px)
    bystanders = [f for f in faces if np.linalg.norm(f.centre - r.face.centre) > 20]
    assert len(bystanders) == r.n_faces - 1
    emb = bb.embed(np.stack([ref.chip, r.chip, *(bb.align(image, f) for f in bystanders)]))
    d = pairwise_distances(emb[:1], emb[1:])[0]
    assert d[0] < d[1:].min(), f"chosen {d[0]:.3f} vs bystanders {d[1:]}"


def test_large_face_mostly_outside_the_frame_does_not_beat_the_centred_face(processor):
    image = lfw("Akmal_Taher", 1)
    r = processor.analyze(image)
    assert r.face is not None and r.n_faces >= 2
    np.testing.assert_allclose(r.face.centre, [125, 125], atol=20)


def test_flat_and_noise_frames_have_no_face(processor):
    rng = np.random.default_rng(0)
    for frame in (np.full((480, 640, 3), 128, np.uint8), rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)):
        _assert_unusable_without_face(processor.analyze(frame))


def test_background_crop_of_a_real_photo_has_no_face(processor):
    image = load_image(need("samples", "facenet-pytorch", "multiface.jpg"))
    wall = np.ascontiguousarray(image[:150, :250])  # steps and wall above the group's heads
    _assert_unusable_without_face(processor.analyze(wall))


def test_face_darkened_to_near_black_is_found_but_rejected_and_not_cut(processor):
    image = lfw("Serena_Williams", 1)
    assert processor.analyze(image).usable  # the same photo passes at normal light
    dark = (image.astype(np.float32) * 0.2).round().astype(np.uint8)  # brightest pixel ≤ 51
    assert dark.max() <= 51
    r = processor.analyze(dark)
    assert r.face is not None, "MTCNN still finds the face: the quality gate must be what rejects it"
    assert not r.usable and r.chip is None  # never aligned, so never embedded
    assert r.rejection
    assert r.quality is not None and not r.quality.ok
    assert r.quality.brightness < processor.limits.min_brightness


def test_embed_one_is_backbone_embed_of_the_chip(processor):
    bb = processor.backbone
    a = processor.analyze(lfw("Serena_Williams", 1)).chip
    b = processor.analyze(lfw("Tony_Blair", 2)).chip
    assert a is not None and b is not None
    one = processor.embed_one(a)
    assert one.shape == (bb.embedding_dim,) and one.dtype == np.float32
    np.testing.assert_array_equal(one, bb.embed(a[None])[0])
    np.testing.assert_allclose(one, bb.embed(np.stack([a, b]))[0], atol=1e-5)
    assert np.linalg.norm(one - processor.embed_one(b)) > 0.6  # two people: far apart (dlib's 0.6)
