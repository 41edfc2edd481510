"""The training-free spotter on hand-made motion: an expression's interval where the
expression is (no echo after its offset), its kind from its duration at any frame
rate, a macro-expression not split into micro ones, the head's affine motion taken
off, p chosen on training videos only; the streamed features of a short clip."""

from __future__ import annotations

import numpy as np
import pytest

from faceslueth_jax.evaluation.spotting_metrics import Interval, iou
from faceslueth_jax.preprocess import motion_features
from faceslueth_jax.spotting import mdmd

WINDOWS = mdmd.Windows.for_fps(30.0)


def _position(length: int, onset: int, offset: int, height: float = 1.0) -> np.ndarray:
    """A part of the face moving away from neutral and back: a raised cosine from
    ``onset`` to ``offset`` (frames, both neutral ends inclusive), 0 elsewhere."""
    t = np.arange(length, dtype=np.float64)
    phase = np.clip((t - onset) / max(offset - onset, 1), 0.0, 1.0)
    return height * 0.5 * (1.0 - np.cos(2.0 * np.pi * phase))


def _features(position: np.ndarray, k: int, noise: float = 0.01, seed: int = 0):
    """(forward, backward) block values of a 36-block face whose block 0 moves as
    ``position``: |x(i) - x(i - k)| and |x(i) - x(i + k)| (the first and the last frame
    where there is no such frame, as ``motion_features.stream``), the other blocks
    sensor noise."""
    rng = np.random.default_rng(seed)
    n = len(position)
    before = position[np.maximum(np.arange(n) - k, 0)]
    after = position[np.minimum(np.arange(n) + k, n - 1)]
    forward = np.abs(rng.normal(0, noise, (n, 36)))
    backward = np.abs(rng.normal(0, noise, (n, 36)))
    forward[:, 0] += np.abs(position - before)
    backward[:, 0] += np.abs(position - after)
    return forward, backward


def _blocks(position: np.ndarray, windows: mdmd.Windows, **kwargs) -> dict:
    return {k: motion_features.displacement(*_features(position, k, **kwargs))
            for k in windows.spans}


def test_windows_follow_the_frame_rate():
    assert WINDOWS == mdmd.Windows(k_micro=15, k_macro=60, micro_max=15, macro_max=120,
                                   min_length=4)
    fast = mdmd.Windows.for_fps(200.0)
    assert (fast.k_micro, fast.micro_max, fast.k_macro, fast.macro_max) == (100, 100, 400, 800)


@pytest.mark.parametrize("fps", [25.0, 30.0, 60.0, 200.0])
def test_a_micro_expression_is_spotted_where_it_is_with_no_echo(fps):
    """0.3 s of motion: one micro interval at IoU >= 0.7 with it; nothing after it,
    although a flow from k frames back stays raised for k frames past the offset."""
    windows = mdmd.Windows.for_fps(fps)
    n = int(6 * fps)
    onset, offset = int(2 * fps), int(2 * fps) + int(round(0.3 * fps)) - 1
    position = _position(n, onset, offset)
    spotted = mdmd.spot(_blocks(position, windows), windows, z=10.0)
    assert len(spotted) == 1 and spotted[0].kind == "micro", spotted
    assert iou(spotted[0], Interval(onset, offset)) >= 0.7, (spotted, onset, offset)
    # the forward flow alone (one flow per span) is raised long past the offset
    forward, _ = _features(position, windows.k_micro)
    echo = motion_features.strength(forward)
    assert echo[offset + 3:].max() > 0.5 * echo.max()


def test_a_macro_expression_is_one_macro_interval_not_micro_ones():
    """1.5 s of motion: the micro span sees its rise and its fall as short movements;
    they are the macro-expression's, which the macro pass spots whole."""
    n = 600
    position = _position(n, 200, 244, height=3.0)
    spotted = mdmd.spot(_blocks(position, WINDOWS), WINDOWS, z=10.0)
    assert [s.kind for s in spotted] == ["macro"], spotted
    assert iou(spotted[0], Interval(200, 244)) >= 0.6, spotted


def test_a_micro_and_a_macro_expression_of_one_video():
    position = _position(900, 150, 158) + _position(900, 500, 560, height=3.0)
    spotted = mdmd.spot(_blocks(position, WINDOWS), WINDOWS, z=10.0)
    assert [s.kind for s in spotted] == ["micro", "macro"], spotted
    assert iou(spotted[0], Interval(150, 158)) >= 0.5 and iou(spotted[1], Interval(500, 560)) >= 0.5


def test_a_movement_is_widened_from_its_half_height_to_its_base():
    c = np.zeros(60)
    c[20:31] = _position(60, 20, 30)[20:31]  # a raised cosine over frames 20..30
    (onset, offset, score), = mdmd.movements(c, 0.5)
    assert abs(onset - 20) <= 1 and abs(offset - 30) <= 1 and score == pytest.approx(c.max())
    assert mdmd.movements(np.zeros(5), 0.5) == []


def test_z_is_chosen_on_the_training_videos_and_ties_take_the_smaller():
    rng = np.random.default_rng(1)
    training = {}
    for v in range(3):
        position = _position(500, 100 + 50 * v, 108 + 50 * v) + _position(500, 350, 358, 0.1)
        blocks = _blocks(position, WINDOWS, seed=int(rng.integers(1 << 30)))
        training[f"v{v}"] = (blocks, [Interval(100 + 50 * v, 108 + 50 * v, "micro")])
    z, f1 = mdmd.choose_z(training, WINDOWS)
    perfect = [q for q in mdmd.Z_GRID if mdmd.choose_z(training, WINDOWS, grid=(q,))[1] == 1.0]
    assert f1 == 1.0 and z == min(perfect)
    assert mdmd.Z_GRID[0] not in perfect  # at the smallest z the weaker movement is spotted too


def _affine_flow(size: int, a, c) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    x, y = (x - (size - 1) / 2) / (size / 2), (y - (size - 1) / 2) / (size / 2)
    return np.stack([a[0][0] * x + a[0][1] * y + c[0], a[1][0] * x + a[1][1] * y + c[1]], -1)


def test_the_heads_affine_motion_is_taken_off_and_a_local_movement_kept():
    """A nod (vertical motion growing down the face), a turn (horizontal, growing
    across it) and a sway (a shift) leave ~0; a lip corner's movement stays whole."""
    for a, c in (([[0, 0], [0, 2.5]], [0, 1.5]), ([[1.8, 0], [0, 0]], [3, 0]),
                 ([[0.3, -0.4], [0.4, 0.3]], [-2, 1])):
        head = _affine_flow(48, a, c)
        assert np.abs(motion_features.without_head_motion(head)).max() < 1e-4
        flow = head.copy()
        flow[36:44, 8:16] += (0.0, 1.0)  # the lip corner moves 1 px down
        values = motion_features.block_values(motion_features.without_head_motion(flow), 6)
        assert values.argmax() == 6 * 4 + 1 and values[6 * 4 + 1] > 0.8, values.reshape(6, 6)
        assert np.median(values) < 0.05


def _warp(image: np.ndarray, dx: float, dy: float, bump=None) -> np.ndarray:
    """``image`` shifted by (dx, dy) px, plus ``bump`` = (x, y, radius, amplitude): a
    smooth local downward movement (a Gaussian displacement field)."""
    import cv2
    h, w = image.shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    map_x, map_y = x - np.float32(dx), y - np.float32(dy)
    if bump is not None:
        bx, by, radius, amplitude = bump
        map_y -= np.float32(amplitude) * np.exp(-((x - bx) ** 2 + (y - by) ** 2) / (2 * radius ** 2))
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def test_streamed_displacement_rises_where_a_part_moves_and_falls_after():
    """A part of a textured face moves 2 px down in frames 8..10 while the face sways
    (up to 1.5 px): the displacement (span 4) is raised there and nowhere else."""
    import cv2
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (64, 64)).astype(np.float32), (0, 0), 1.5)
    frames = []
    for t in range(20):
        sway = 1.5 * np.sin(2 * np.pi * t / 20)
        bump = (38, 42, 4.0, 2.0) if 8 <= t <= 10 else None
        frames.append(_warp(texture, sway, 0.5 * sway, bump)[8:56, 8:56])  # no border
    seen = []
    blocks, head = motion_features.stream(frames, (4,), size=48, on_frame=seen.append)
    blocks = blocks[4]
    assert blocks.shape == (20, motion_features.GRID ** 2) and seen == list(range(20))
    # a sway shifts the whole face: the head's displacement (turning, nodding) stays ~0
    assert head[4].shape == (20,) and head[4].max() < 0.2, head[4].round(3)
    s = motion_features.strength(blocks)
    assert s[8:11].min() > 2 * max(np.delete(s, [8, 9, 10]).max(), 1e-3), s.round(3)
    with pytest.raises(ValueError, match="shorter than k"):
        motion_features.stream(frames[:2], (4,), size=48)
