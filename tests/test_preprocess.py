"""Frames, face crops and onset->apex flow (faceslueth_jax.preprocess)."""

import glob

import cv2
import numpy as np
import pytest

from faceslueth_jax.preprocess import clip_flow, face, frames
from tests import database_fixtures as fx
from tests.conftest import shared_path


def test_frame_numbers_and_damaged_files(tmp_path):
    assert [frames.frame_number(n) for n in ("img46.jpg", "006_05562.jpg", "image000123.bmp",
                                              "reg_img7.jpg", "apex.jpg")] == [46, 5562, 123, 7, None]
    image = np.arange(64 * 48, dtype=np.uint8).reshape(48, 64)
    for suffix in (".jpg", ".png", ".bmp"):
        path = tmp_path / f"f{suffix}"
        cv2.imwrite(str(path), image)
        assert frames.read_grey(path).shape == (48, 64)
        path.write_bytes(path.read_bytes()[:-40])
        with pytest.raises(frames.FrameError, match=f"truncated .*{path.name}"):
            frames.read_grey(path)
    with pytest.raises(frames.FrameError, match="missing frame file"):
        frames.read_grey(tmp_path / "none.jpg")


def test_face_box_is_found_and_crops_replicate_edges():
    frame = fx.clip_frames(seed=1, apex_index=3, raw=True)[0]
    box = face.detect_face(frame)
    top, _, left, _ = fx.RAW_PAD  # the synthetic face occupies [left, left+64) x [top, top+64)
    assert abs(box.x + box.side / 2 - (left + fx.FACE_PX / 2)) < 12
    assert abs(box.y + box.side / 2 - (top + fx.FACE_PX / 2)) < 12
    assert 0.8 * fx.FACE_PX < box.side < 1.6 * fx.FACE_PX
    crop = face.crop(frame, face.FaceBox(-5, -5, 20), 10)
    assert crop.shape == (10, 10) and crop[0, 0] == frame[0, 0]
    with pytest.raises(face.FaceNotFound):
        face.detect_face(np.full((90, 100), 128, np.uint8))


def test_real_apex_faces_are_detected():
    folder = shared_path("data", "htnet_composite", "datasets", "combined_datasets_whole")
    paths = sorted(glob.glob(str(folder / "*.jpg")))
    found = 0
    for path in paths:
        try:
            face.detect_face(cv2.imread(path, cv2.IMREAD_GRAYSCALE))
            found += 1
        except face.FaceNotFound:
            pass
    assert len(paths) == 442 and found >= 0.97 * len(paths)  # 433 of 442 when written


def test_flow_methods_agree_on_a_shift_and_resizing_keeps_pixel_units():
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (64, 64)).astype(np.float32), (0, 0), 2)
    onset = np.clip(texture * 3 - 255, 0, 255).astype(np.uint8)
    apex = np.roll(onset, 1, axis=0)  # content moves down 1 px: v = +1
    for method in clip_flow.FLOW_METHODS:
        w = clip_flow.flows(onset[None], apex[None], method)[0]
        inner = w[12:-12, 12:-12]
        assert abs(np.median(inner[..., 1]) - 1.0) < 0.15, method
        assert abs(np.median(inner[..., 0])) < 0.15, method
        half = clip_flow.resize_flow(w, 32)
        assert abs(np.median(half[6:-6, 6:-6, 1]) - 0.5) < 0.1
    scaled = clip_flow.normalise(w, "minmax")
    assert np.allclose(scaled.min((0, 1)), 0) and np.allclose(scaled.max((0, 1)), 1)


def test_apex_spotting():
    clip = fx.clip_frames(seed=3, apex_index=4, raw=False)
    assert clip_flow.spot_apex(clip, "flow") == 4
    assert clip_flow.spot_apex(clip, "middle") == fx.NUM_FRAMES // 2
    with pytest.raises(ValueError, match="at least one later frame"):
        clip_flow.spot_apex(clip[:1], "flow")
