"""What the spotter must not report: the head's motion (a nod's foreshortening taken
off by the quadratic fit; a nod on rendered frames spotted as nothing), a blink (an
eye's large, short movement), motion off the face (a border block); and what it must
still report: the same movement at the mouth, a small lid movement."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceslueth_jax.evaluation.spotting_metrics import Interval, iou
from faceslueth_jax.preprocess import motion_features
from faceslueth_jax.spotting import mdmd
from tfds_builders.photo_me import photo_videos

WINDOWS = mdmd.Windows.for_fps(30.0)
EYES = ((0.31, 0.4), (0.69, 0.4))  # 6 x 6 grid: the eyes in row 2, the mouth in row 4
SIZE = 64


def _bump(n: int, onset: int, offset: int, height: float) -> np.ndarray:
    t = np.arange(n, dtype=np.float64)
    phase = np.clip((t - onset) / max(offset - onset, 1), 0.0, 1.0)
    return height * 0.5 * (1.0 - np.cos(2.0 * np.pi * phase))


def _blocks(moving: dict, n: int = 300, seed: int = 0) -> dict:
    """span k -> (n, 36) displacements: block j moves as moving[j] (a position over
    time), every block has sensor noise."""
    rng = np.random.default_rng(seed)
    out = {}
    for k in WINDOWS.spans:
        forward = np.abs(rng.normal(0, 0.02, (n, 36)))
        backward = np.abs(rng.normal(0, 0.02, (n, 36)))
        for j, x in moving.items():
            forward[:, j] += np.abs(x - x[np.maximum(np.arange(n) - k, 0)])
            backward[:, j] += np.abs(x - x[np.minimum(np.arange(n) + k, n - 1)])
        out[k] = motion_features.displacement(forward, backward)
    return out


def test_the_eye_and_face_blocks_follow_the_eyes():
    eyes = mdmd.eye_blocks(EYES, 6).reshape(6, 6)
    face = mdmd.face_blocks(EYES, 6).reshape(6, 6)
    assert eyes[2, 1] and eyes[2, 4] and not eyes[1].any() and not eyes[4].any()
    assert face[2:5, 1:5].all() and not face[0].any() and not face[:, 0].any()
    shifted = mdmd.eye_blocks(((0.15, 0.6), (0.45, 0.6)), 6).reshape(6, 6)
    assert shifted[3, 0] and shifted[3, 2] and not shifted[2].any()


@pytest.mark.parametrize("block, height, reported", [
    (6 * 2 + 1, 2.0, False),   # a blink: the eye's block, 2 px (0.08 IOD at 64 px)
    (6 * 4 + 2, 2.0, True),    # the same movement at the mouth: a micro-expression
    (6 * 2 + 1, 0.4, True),    # a small lid movement (lid tightening): kept
])
def test_a_blink_is_not_a_micro_expression(block, height, reported):
    blocks = _blocks({block: _bump(300, 140, 147, height)})
    assert 0.4 < mdmd.BLINK_IOD * 0.38 * SIZE < 2.0  # the blink's size between the two
    spotted = mdmd.spot(blocks, WINDOWS, 6.0, EYES, SIZE)
    micro = [s for s in spotted if s.kind == "micro"]
    if reported:
        assert len(micro) == 1 and iou(micro[0], Interval(140, 147)) >= 0.5, spotted
    else:
        assert micro == [], spotted
    # where the eyes are not known every movement is reported
    assert [s.kind for s in mdmd.spot(blocks, WINDOWS, 6.0)] == ["micro"]


def test_motion_off_the_face_is_not_reported_when_the_eyes_are_known():
    blocks = _blocks({0: _bump(300, 140, 147, 2.0)})  # the top-left corner: background
    assert mdmd.spot(blocks, WINDOWS, 6.0, EYES, SIZE) == []
    assert len(mdmd.spot(blocks, WINDOWS, 6.0)) == 1


def test_a_nods_foreshortening_is_taken_off_and_measured():
    """A nod tilts the face away: vertical motion growing down the face (affine) and
    shrinking it towards the far edge (second order); both leave ~0, and the fitted
    motion, less its mean shift, is the head's displacement."""
    size = 48
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    x, y = (x - (size - 1) / 2) / (size / 2), (y - (size - 1) / 2) / (size / 2)
    nod = np.stack([0.6 * x * y, 1.0 + 1.5 * y + 0.8 * y * y], -1)
    residual, head = motion_features.split_head_motion(nod)
    assert np.abs(residual).max() < 1e-4 and head > 0.5
    # a shift of the whole face (a sway) is not the head turning or nodding
    residual, head = motion_features.split_head_motion(np.broadcast_to([2.0, -1.0], nod.shape))
    assert np.abs(residual).max() < 1e-4 and head < 1e-6


def _texture(side: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    grey = cv2.GaussianBlur(rng.uniform(0, 255, (side, side)).astype(np.float32), (0, 0), 2.0)
    grey = cv2.normalize(grey, None, 20, 235, cv2.NORM_MINMAX)
    return np.repeat(grey[..., None], 3, -1).astype(np.uint8)


def _landmarks(side: int) -> np.ndarray:
    """68 points laid out as a frontal face in a ``side`` square (dlib's order)."""
    points = np.zeros((68, 2))
    s = side / 128
    points[0:17] = np.stack([np.linspace(20, 108, 17), 60 + 50 * np.sin(np.linspace(0, np.pi, 17))], 1)
    points[17:27] = np.stack([np.r_[np.linspace(30, 56, 5), np.linspace(72, 98, 5)], np.full(10, 38)], 1)
    points[27:36] = np.stack([np.full(9, 64), np.linspace(45, 75, 9)], 1)
    for first, cx in ((36, 43), (42, 85)):
        angle = np.linspace(0, 2 * np.pi, 7)[:6]
        points[first:first + 6] = np.stack([cx - 9 * np.cos(angle), 50 - 3 * np.sin(angle)], 1)
    angle = np.linspace(0, 2 * np.pi, 21)[:20]
    points[48:68] = np.stack([64 - 18 * np.cos(angle), 92 - 5 * np.sin(angle)], 1)
    return points * s


def test_a_nod_on_rendered_frames_is_not_spotted_and_an_expression_is():
    """A textured plane seen by the generator's camera: a nod (0.4..1.2 s, 4..10
    degrees) and a micro-expression; the spotter (eyes unknown: every block counts)
    reports the expression and nothing on the nod."""
    side = 128
    video = photo_videos.make_video(_texture(side, 3), _landmarks(side), seed=2, seconds=4.0,
                                    fps=30.0, counts={"micro": 1, "nod": 1}, size=(side, side))
    video = photo_videos.dataclasses.replace(
        video, noise_sigma=1.0, gain=np.ones_like(video.gain), base=np.eye(3),
        movements=[m if m.kind != "micro" else photo_videos.dataclasses.replace(m, peak=0.06)
                   for m in video.movements])
    frames = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in video.frames()]
    blocks, head = motion_features.stream(frames, WINDOWS.spans, size=48)
    (nod,) = [m for m in video.movements if m.kind == "nod"]
    # the nod moves the head: its fitted motion rises while the nod lasts
    assert head[WINDOWS.k_micro][nod.onset:nod.offset + 1].max() > 2 * np.median(head[WINDOWS.k_micro])
    spotted = mdmd.spot(blocks, WINDOWS, 4.0, size=48)
    (micro,) = [m for m in video.movements if m.kind == "micro"]
    assert not any(s.onset <= nod.offset and nod.onset <= s.offset and s.kind == "micro"
                   and iou(s, Interval(micro.onset, micro.offset)) < 0.5 for s in spotted), spotted
    assert any(s.kind == "micro" and iou(s, Interval(micro.onset, micro.offset)) >= 0.5
               for s in spotted), (spotted, micro)


def test_photo_videos_are_fixed_by_their_seed_and_list_every_movement():
    side = 96
    photo, points = _texture(side, 1), _landmarks(side)
    counts = {"micro": 2, "macro": 1, "nod": 1, "turn": 1, "blink": 2}
    a = photo_videos.make_video(photo, points, 5, 12.0, 30.0, counts, size=(side, side))
    b = photo_videos.make_video(photo, points, 5, 12.0, 30.0, counts, size=(side, side))
    assert a.movements == b.movements and np.array_equal(a.frame(100), b.frame(100))
    kinds = [m.kind for m in a.movements]
    assert sorted(kinds) == sorted(k for k, n in counts.items() for _ in range(n))
    assert all(x.offset < y.onset for x, y in zip(a.movements, a.movements[1:]))
    assert [m.kind for m in a.expressions] == [k for k in kinds if k in ("micro", "macro")]
    assert all(m.offset - m.onset + 1 <= 15 for m in a.movements if m.kind == "micro")
    with pytest.raises(ValueError, match="do not fit"):
        photo_videos.make_video(photo, points, 5, 1.0, 30.0, counts, size=(side, side))


def test_a_movement_while_the_head_turns_is_the_heads():
    """A short movement at the mouth while the head's displacement rises (a turn): the
    head's, not reported; the same movement while the head keeps still is."""
    rng = np.random.default_rng(4)
    blocks = _blocks({6 * 4 + 2: _bump(300, 140, 147, 2.0)})
    still = {k: np.abs(rng.normal(0.1, 0.01, 300)) for k in WINDOWS.spans}
    turning = {k: v + _bump(300, 132, 155, 1.5) for k, v in still.items()}
    assert mdmd.spot(blocks, WINDOWS, 6.0, EYES, SIZE, turning) == []
    (micro,) = mdmd.spot(blocks, WINDOWS, 6.0, EYES, SIZE, still)
    assert micro.kind == "micro" and iou(micro, Interval(140, 147)) >= 0.5


@pytest.mark.parametrize("eyes, plausible", [
    (((0.31, 0.4), (0.69, 0.4)), True),
    (((0.31, 0.4), (0.69, 0.5)), True),     # a tilted head
    (((5.0, 5.0), (6.0, 5.0)), False),      # off the box: every block would be off the face
    (((0.5, 0.4), (0.5, 0.4)), False),      # one point: no eye distance
    (((0.45, 0.4), (0.5, 0.4)), False),     # too close to be two eyes
    (((0.3, 0.2), (0.4, 0.8)), False),      # one above the other
    (((float("nan"), 0.4), (0.6, 0.4)), False),
])
def test_eyes_the_predictor_misplaces_fall_back_to_the_template(eyes, plausible):
    from faceslueth_jax.preprocess import face_track
    assert face_track.plausible_eyes(eyes) is plausible
    assert face_track.plausible_eyes(face_track.TEMPLATE_EYES)
