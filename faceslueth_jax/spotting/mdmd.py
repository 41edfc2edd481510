"""The training-free spotter of the MEGC2020 baseline (MDMD), on ``motion_features``.

Micro- and macro-expressions are spotted in two passes, each with its own span k (the
flow runs from frame i - k to frame i): k_micro for micro-expressions, k_macro for
macro-expressions (``Windows.for_fps``: 0.4 s and 1.3 s, MDMD's 12 and 39 frames at
30 fps). In a pass, the motion strength F (smoothed over max(1, k // 4) frames) is
contrasted with its neighbourhood m = k - 1 frames away,

    C(i) = F(i) - (F(i - m) + F(i + m)) / 2      (edges: the nearest frame),

and frames with C(i) > T, T = mean(C) + p (max(C) - mean(C)), form runs. A run is
taken as the top half of a bump and widened by half its length on each side (the base
of a triangle whose top half it is); that is a spotted interval, scored by its largest
C, and overlapping ones are merged. A pass keeps the intervals of its kind's length (micro: at most
``micro_max`` frames; macro: longer, up to ``macro_max``). p is chosen on the training
subjects only: the value of ``P_GRID`` with the best overall spotting F1 over their
videos (ties: the smaller p), the same p for both passes.
"""

from __future__ import annotations


import numpy as np

from faceslueth_jax.evaluation.spotting_metrics import Interval, spotting_scores
from faceslueth_jax.preprocess.video_features import Windows  # noqa: F401 (the spotter's spans)

P_GRID = (0.01, 0.02, 0.03, 0.05, 0.075) + tuple(float(p) for p in
                                             np.round(np.arange(0.1, 1.0, 0.05), 2))


def contrast(strength: np.ndarray, k: int) -> np.ndarray:
    """C(i) of the smoothed strength (the module doc)."""
    width = max(1, k // 4)
    smooth = np.convolve(np.pad(np.asarray(strength, np.float64), (width // 2, width - 1 - width // 2),
                                mode="edge"), np.ones(width) / width, mode="valid")
    m = max(1, k - 1)
    padded = np.pad(smooth, m, mode="edge")
    return padded[m:-m] - 0.5 * (padded[:-2 * m] + padded[2 * m:])


def _runs(c: np.ndarray, threshold: float) -> list:
    above = np.concatenate([[False], c > threshold, [False]])
    starts = np.flatnonzero(~above[:-1] & above[1:])
    ends = np.flatnonzero(above[:-1] & ~above[1:]) - 1
    merged = []
    for s, e in zip(starts, ends):
        pad = (e - s + 1) // 2
        onset, offset = max(0, s - pad), min(len(c) - 1, e + pad)
        score = float(c[s:e + 1].max())
        if merged and onset <= merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], offset), max(last[2], score))
        else:
            merged.append((onset, offset, score))
    return merged


def spot_pass(strength: np.ndarray, k: int, p: float, kind: str, windows: Windows) -> list:
    """One pass's intervals of ``kind`` (see the module doc)."""
    c = contrast(strength, k)
    threshold = c.mean() + p * (c.max() - c.mean())
    out = []
    for onset, offset, score in _runs(c, threshold):
        length = offset - onset + 1
        fits = (length <= windows.micro_max if kind == "micro"
                else windows.micro_max < length <= windows.macro_max)
        if fits and length >= windows.min_length:
            out.append(Interval(int(onset), int(offset), kind, score))
    return out


def spot(strengths: dict, windows: Windows, p: float) -> list:
    """Both passes' intervals; ``strengths``: span k -> (T,) motion strength."""
    return (spot_pass(strengths[windows.k_micro], windows.k_micro, p, "micro", windows)
            + spot_pass(strengths[windows.k_macro], windows.k_macro, p, "macro", windows))


def choose_p(training: dict, windows: Windows, grid=P_GRID) -> tuple[float, float]:
    """(p, its overall F1) best on ``training``: video -> (strengths, true intervals)."""
    best_f1, best_p = -1.0, grid[0]
    for p in grid:
        videos = {v: (spot(s, windows, p), t) for v, (s, t) in training.items()}
        f1 = spotting_scores(videos)["overall"]["f1"] or 0.0
        if f1 > best_f1:
            best_f1, best_p = f1, float(p)
    return best_p, best_f1
