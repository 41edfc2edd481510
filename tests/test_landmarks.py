"""68-point landmarks and the similarity alignment (faceslueth_jax/preprocess/landmarks.py):
positions on synthetic faces whose eyes and mouth corners are known, the alignment of a
rotated and scaled copy, the builders with and without dlib, HTNet's patches from them."""

from __future__ import annotations


import cv2
import numpy as np
import pytest

from faceslueth_jax.data import htnet_patches as hp
from faceslueth_jax.preprocess import clip_record, landmarks
from tests import database_fixtures as fx
from tests.conftest import unavailable
from tests.test_database_builders import build, by_id
from tfds_builders import registry
from tfds_builders.casme2 import Casme2
from tfds_builders.synthetic_me import synthetic_faces

try:
    import dlib  # noqa: F401
except ImportError:  # requirements.txt installs it: CI must run these
    unavailable(f"68-point landmarks need dlib: {landmarks.INSTALL}")

SEEDS = range(12)


def synthetic_face(seed: int, size: int = 128):
    """(the Face with its known geometry, its rendered uint8 frame)."""
    face = synthetic_faces.make_subject(np.random.default_rng(seed), size)
    return face, np.clip(np.rint(synthetic_faces.render(face)), 0, 255).astype(np.uint8)


def test_landmarks_on_synthetic_faces_within_1p5_px_median():
    """128 px faces: every face is found; median error of the eyes and mouth corners
    <= 1.5 px (measured 1.13), eyes within 3 px on at least 10 of 12 faces."""
    errors = []
    for seed in SEEDS:
        face, frame = synthetic_face(seed)
        points, whole = landmarks.landmarks68(frame, "dlib_hog")
        assert not whole and points.shape == (68, 2)
        errors.append(np.linalg.norm(landmarks.eyes_and_mouth(points) - face.eyes_and_mouth(), axis=1))
    errors = np.array(errors)
    assert np.median(errors) <= 1.5, errors
    assert (errors[:, :2].max(1) <= 3.0).sum() >= 10, errors


def test_alignment_undoes_a_rotation_and_scaling_within_1p5_px():
    """A face and its copy rotated 15 degrees, scaled 1.3x and shifted: after each is
    aligned from its own landmarks, the known eyes and mouth corners land on the same
    spots of the 64 px crop, median distance <= 1.5 px (measured 1.19) where the
    unaligned frames differ by about 8.7 px."""
    aligned, unaligned = [], []
    for seed in SEEDS:
        face, frame = synthetic_face(seed)
        big = cv2.copyMakeBorder(frame, 40, 40, 40, 40, cv2.BORDER_REPLICATE)
        moved_by = cv2.getRotationMatrix2D((104.0, 104.0), 15.0, 1.3)
        moved_by[:, 2] += (10.0, -6.0)
        moved = cv2.warpAffine(big, moved_by, (260, 260), borderMode=cv2.BORDER_REPLICATE)
        spots = face.eyes_and_mouth() + 40.0
        a0 = landmarks.alignment(landmarks.landmarks68(big, "dlib_hog")[0], margin=0.1)
        a1 = landmarks.alignment(landmarks.landmarks68(moved, "dlib_hog")[0], margin=0.1)
        q0 = landmarks.transform(a0.matrix, spots) * 64 / a0.side
        q1 = landmarks.transform(a1.matrix, landmarks.transform(moved_by, spots)) * 64 / a1.side
        aligned.append(np.linalg.norm(q0 - q1, axis=1))
        unaligned.append(np.linalg.norm(spots * 64 / 208
                                        - landmarks.transform(moved_by, spots) * 64 / 260, axis=1))
        assert a0.crop(big, 64).shape == (64, 64) and a1.crop(np.dstack([moved] * 3), 64).shape \
            == (64, 64, 3)
    assert np.median(aligned) <= 1.5, aligned
    assert np.median(unaligned) >= 7.0


def test_similarity_is_exact_on_two_points_and_keeps_angles():
    source = np.array([[10.0, 20.0], [30.0, 25.0]])
    target = np.array([[0.0, 0.0], [0.0, 40.0]])
    m = landmarks.similarity(source, target)
    np.testing.assert_allclose(landmarks.transform(m, source), target, atol=1e-9)
    np.testing.assert_allclose(m[:, :2] @ m[:, :2].T, np.eye(2) * np.linalg.det(m[:, :2]),
                               atol=1e-9)


def test_no_face_is_an_error_unless_the_frame_is_a_crop():
    blank = np.full((96, 96), 128, np.uint8)
    with pytest.raises(landmarks.LandmarksNotFound, match="no face"):
        landmarks.landmarks68(blank, "dlib_hog")
    points, whole = landmarks.landmarks68(blank, "dlib_hog", cropped=True)
    assert whole and points.shape == (68, 2)
    with pytest.raises(ValueError, match="face_detector"):
        landmarks.resolve("mtcnn", "none")


def hide_dlib(monkeypatch):
    def missing():
        raise landmarks.DlibMissing("no module named 'dlib'")
    monkeypatch.setattr(landmarks, "_dlib", missing)


def test_without_dlib_the_chain_falls_back_to_haar_and_says_so(monkeypatch):
    hide_dlib(monkeypatch)
    detector, align, note = landmarks.resolve("dlib_hog", "landmarks68")
    assert (detector, align) == ("haar", "none") and "not installed" in note
    assert landmarks.dlib_version() is None
    _, frame = synthetic_face(0)
    settings = clip_record.ChainSettings(face_detector="dlib_hog", face_align="landmarks68")
    crop, whole = clip_record.framing(frame, settings, cropped=False)
    assert crop(frame, 32).shape == (32, 32) and not whole


@pytest.mark.parametrize("dlib_installed", [True, False])
def test_builder_aligns_with_landmarks_and_records_the_chain(tmp_path, monkeypatch,
                                                             dlib_installed):
    """CASME II's raw frames (face plus background) built with 68-point alignment; the
    metadata says which detector and alignment ran (Haar without dlib)."""
    if not dlib_installed:
        hide_dlib(monkeypatch)
    clips = fx.CASME2_CLIPS[:3]
    builder = build(Casme2, fx.write_casme2(tmp_path / "manual", clips, raw=True),
                    tmp_path / "tfds", face_detector="dlib_hog", face_align="landmarks68")
    chain = builder.info.metadata["face_chain"]
    assert chain["requested"] == {"face_detector": "dlib_hog", "face_align": "landmarks68"}
    used = ({"face_detector": "dlib_hog", "face_align": "landmarks68"} if dlib_installed
            else {"face_detector": "haar", "face_align": "none"})
    assert chain["used"] == used and bool(chain["note"]) != dlib_installed
    assert builder.builder_config.name.endswith("_dlib_hog_aligned68") == dlib_installed
    records = by_id(builder)
    assert len(records) == 3 and all(r["apex"].std() > 5 for r in records.values())


def test_htnet_patches_from_68_points_need_no_fallback():
    """Synthetic apex faces: the 68-point eyes and mouth corners, in 28 px coordinates,
    lie within 1 px (median) of the faces' own, and no sample falls back."""
    faces, want = [], []
    for seed in range(4):
        face, frame = synthetic_face(seed)
        faces.append(frame)
        want.append(face.eyes_and_mouth() * 28 / 128)
    apex = np.stack(faces)[..., None].astype(np.float32)
    whole: list = []
    points, fallback = hp.find_landmarks(apex, 4, "landmarks68", "dlib_hog", whole)
    assert not fallback.any() and whole == []
    errors = np.linalg.norm(points[:, list(hp.USED)] - np.stack(want), axis=-1)
    assert np.median(errors) <= 1.0, errors


@pytest.mark.parametrize("dlib_installed", [True, False])
def test_a_model_records_the_face_chain_that_ran(monkeypatch, dlib_installed):
    """The chain a model folder keeps for predict: the aligned chain, or Haar with a note."""
    if not dlib_installed:
        hide_dlib(monkeypatch)
    chain = registry.clip_chain("casme2", build={"face_detector": "dlib_hog",
                                                 "face_align": "landmarks68"})
    used = (chain["face_detector"], chain["face_align"])
    assert used == (("dlib_hog", "landmarks68") if dlib_installed else ("haar", "none"))
    assert bool(chain["note"]) != dlib_installed
