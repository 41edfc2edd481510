"""The training-free spotter: contrast of a hand-made strength signal, runs widened and
merged, intervals kept by kind and length, p chosen on training videos only; the motion
features of hand-made flows and of a short streamed clip."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from faceslueth_jax.evaluation.spotting_metrics import Interval, iou
from faceslueth_jax.preprocess import motion_features
from faceslueth_jax.spotting import mdmd

WINDOWS = mdmd.Windows.for_fps(30.0)  # k 12 and 39 frames, micro <= 15, macro <= 120


def _bump(length: int, centre: int, half_base: int, height: float = 1.0) -> np.ndarray:
    """A triangle of ``height`` on frames centre +- half_base, zero elsewhere."""
    t = np.arange(length)
    return height * np.clip(1.0 - np.abs(t - centre) / half_base, 0.0, None)


def test_windows_follow_the_frame_rate():
    assert WINDOWS == mdmd.Windows(k_micro=12, k_macro=39, micro_max=15, macro_max=120,
                                   min_length=6)
    fast = mdmd.Windows.for_fps(200.0)
    assert fast.k_micro == 80 and fast.micro_max == 100 and fast.macro_max == 800


def test_the_contrast_of_a_flat_signal_is_zero_and_a_bump_peaks_inside_it():
    assert not mdmd.contrast(np.full(100, 3.0), 12).any()
    c = mdmd.contrast(_bump(200, 100, 8), 12)
    assert c.argmax() == 100 and c.max() > 0.5 and c.min() >= -0.5 - 1e-9


def test_a_micro_and_a_macro_bump_are_spotted_in_their_passes():
    rng = np.random.default_rng(0)
    micro = _bump(600, 110, 8) + 0.01 * rng.normal(size=600)
    macro = _bump(600, 420, 25) + 0.01 * rng.normal(size=600)
    strengths = {WINDOWS.k_micro: micro, WINDOWS.k_macro: macro}
    spotted = mdmd.spot(strengths, WINDOWS, p=0.5)
    kinds = {s.kind: s for s in spotted}
    assert len(spotted) == 2 and set(kinds) == {"micro", "macro"}, spotted
    # the run above T is the bump's top half, widened to about its base
    assert iou(kinds["micro"], Interval(102, 118)) >= 0.7, kinds["micro"]
    assert iou(kinds["macro"], Interval(395, 445)) >= 0.9, kinds["macro"]
    # a threshold at the maximum keeps nothing; a long run is no micro-expression
    assert mdmd.spot(strengths, WINDOWS, p=1.0) == []
    assert mdmd.spot_pass(macro, WINDOWS.k_micro, 0.5, "micro", WINDOWS) == []


def test_overlapping_runs_merge_into_one_interval_with_the_larger_score():
    c = np.zeros(50)
    c[10:14], c[16:18] = 1.0, 2.0  # widened by half their lengths (2 and 1), they overlap
    assert mdmd._runs(c, 0.5) == [(8, 18, 2.0)]
    c[16:18] = 0.0
    c[30:32] = 3.0  # far enough: two intervals
    assert mdmd._runs(c, 0.5) == [(8, 15, 1.0), (29, 32, 3.0)]
    assert mdmd._runs(np.zeros(5), 0.5) == []


def test_p_is_chosen_on_the_training_videos_and_ties_take_the_smaller():
    rng = np.random.default_rng(1)
    training = {}
    for v in range(3):
        signal = _bump(500, 110 + 50 * v, 8) + _bump(500, 350, 8, 0.3)
        signal += 0.01 * rng.normal(size=500)
        truth = [Interval(102 + 50 * v, 118 + 50 * v, "micro")]
        training[f"v{v}"] = ({WINDOWS.k_micro: signal, WINDOWS.k_macro: np.zeros(500)}, truth)
    p, f1 = mdmd.choose_p(training, WINDOWS)
    assert f1 == 1.0 and 0.3 < p < 1.0  # below 0.3 the weaker bump is spotted too
    assert p == min(q for q in mdmd.P_GRID if q > 0.3
                    and mdmd.choose_p(training, WINDOWS, grid=(q,))[1] == 1.0)


def test_block_values_see_the_main_direction_less_the_heads_motion():
    flow = np.zeros((12, 12, 2))
    flow[..., 0] = 5.0  # the whole face moves: the median takes it away
    flow[0:2, 0:2, 1] = 3.0  # one block moves down as well
    values = motion_features.block_values(flow, grid=6)
    assert values[0] == pytest.approx(3.0) and np.allclose(values[1:], 0.0)
    assert motion_features.frame_value(flow, grid=6) == pytest.approx(3.0 / 12)


def test_streamed_strength_rises_where_a_patch_moves():
    frames = [np.zeros((32, 32), np.float32) for _ in range(10)]
    for t, frame in enumerate(frames):
        shift = 0 if t < 6 else 3
        frame[8 + shift:16 + shift, 8:16] = 1.0
        frame[20:28, 20:28] = 0.5
    seen = []
    blocks = motion_features.stream(frames, (2,), size=32, on_frame=seen.append)[2]
    assert blocks.shape == (10, motion_features.GRID ** 2) and seen == list(range(10))
    s = motion_features.strength(blocks)
    assert s[7] == pytest.approx(motion_features.frame_value(
        np.asarray(motion_features.tvl1.tvl1(
            cv2.resize(frames[5], (32, 32)), cv2.resize(frames[7], (32, 32))))), rel=1e-5)
    assert s[6:8].min() > 5 * max(s[:6].max(), 1e-3)  # frames 6, 7 see the move over 2
    with pytest.raises(ValueError, match="shorter than k"):
        motion_features.stream(frames[:2], (2,), size=32)
