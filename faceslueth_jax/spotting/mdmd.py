"""The training-free spotter (MEGC2020's MDMD family) on ``motion_features``.

Two passes read the displacement from neutral (``motion_features``: the frame against
the frame k before and the frame k after, no echo after an expression) at two spans:
k_micro (0.5 s, the longest micro-expression) and k_macro (2 s). In a pass, the
strength F (smoothed over w = max(1, k_micro // 4) frames at both spans, so that a
micro-expression keeps its duration at the macro span) is contrasted with its
neighbourhood m = k - 1 frames away,

    C(i) = F(i) - (F(i - m) + F(i + m)) / 2      (edges: the nearest frame),

and every run of frames with C(i) > T is one movement, T = median(C) + z sigma: z noise
units above the video's own floor, sigma = 1.4826 MAD(C) (the median absolute
deviation, the noise's standard deviation where most frames are still) at each span.
(MDMD's T = mean(C) + p (max(C) - mean(C)) follows the video's largest movement: a nod
or a blink lowers it for every expression, and a video of a few expressions has its
noise spotted.) Its interval follows the movement's rise and fall: around the run's peak
a = argmax C, the frames l..r with C above half of C(a); a bump that rises and falls
as a raised cosine over L frames is above half its height over L / 2 of them, so the
interval is l..r widened by half its length on each side, scored by C(a).

An interval's kind is its duration: a micro-expression lasts at most 0.5 s (MEGC), a
macro-expression longer, up to ``macro_max``; intervals under ``min_length`` are left
out. The passes overlap in what they find: where a micro pass interval and a macro
pass interval overlap, the macro pass's is kept when it is a macro-expression (the
micro span sees its rise or fall as a short movement) and the micro pass's otherwise
(the same short movement, measured at the span that resolves it). Within a pass, of
overlapping intervals the higher scored is kept.

z is chosen on training videos only (``choose_z``: the value of ``Z_GRID`` with the
best overall F1 over their videos; ties: the smaller z), the same z for both passes.
"""

from __future__ import annotations

import numpy as np

from faceslueth_jax.evaluation.spotting_metrics import Interval, spotting_scores
from faceslueth_jax.preprocess.video_features import Windows  # noqa: F401 (the spotter's spans)

Z_GRID = (2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0)


def contrast(strength: np.ndarray, k: int, width: int) -> np.ndarray:
    """C(i) of the strength smoothed over ``width`` frames (the module doc)."""
    width = max(1, int(width))
    smooth = np.convolve(np.pad(np.asarray(strength, np.float64), (width // 2, width - 1 - width // 2),
                                mode="edge"), np.ones(width) / width, mode="valid")
    m = max(1, k - 1)
    padded = np.pad(smooth, m, mode="edge")
    return padded[m:-m] - 0.5 * (padded[:-2 * m] + padded[2 * m:])


def movements(c: np.ndarray, threshold: float) -> list:
    """[(onset, offset, score)] of the runs of ``c`` above ``threshold``: each widened
    from its peak's half-height frames to the bump's base (the module doc)."""
    above = np.concatenate([[False], c > threshold, [False]])
    starts = np.flatnonzero(~above[:-1] & above[1:])
    ends = np.flatnonzero(above[:-1] & ~above[1:]) - 1
    out = []
    for s, e in zip(starts, ends):
        a = s + int(np.argmax(c[s:e + 1]))
        level = 0.5 * c[a]
        left, right = a, a
        while left > 0 and c[left - 1] > level:
            left -= 1
        while right < len(c) - 1 and c[right + 1] > level:
            right += 1
        pad = (right - left + 1) // 2
        out.append((max(0, left - pad), min(len(c) - 1, right + pad), float(c[a])))
    return out


def _kind(length: int, windows: Windows) -> str | None:
    if length < windows.min_length or length > windows.macro_max:
        return None
    return "micro" if length <= windows.micro_max else "macro"


def _overlaps(a: Interval, b: Interval) -> bool:
    return a.onset <= b.offset and b.onset <= a.offset


def _best_apart(intervals: list) -> list:
    """Of overlapping intervals the higher scored (then the earlier)."""
    kept = []
    for it in sorted(intervals, key=lambda i: (-i.score, i.onset)):
        if not any(_overlaps(it, k) for k in kept):
            kept.append(it)
    return kept


def threshold(c: np.ndarray, z: float) -> float:
    """T = median(C) + z 1.4826 MAD(C) (the module doc)."""
    median = float(np.median(c))
    sigma = 1.4826 * float(np.median(np.abs(c - median)))
    return median + z * max(sigma, 1e-9)


def spot_pass(strength: np.ndarray, k: int, z: float, windows: Windows) -> list:
    """One pass's intervals, each of the kind its duration gives (the module doc)."""
    c = contrast(strength, k, windows.k_micro // 4)
    out = []
    for onset, offset, score in movements(c, threshold(c, z)):
        kind = _kind(offset - onset + 1, windows)
        if kind is not None:
            out.append(Interval(int(onset), int(offset), kind, score))
    return _best_apart(out)


def spot(strengths: dict, windows: Windows, z: float) -> list:
    """Both passes' intervals, their overlaps resolved (the module doc); ``strengths``:
    span k -> (T,) motion strength."""
    short = spot_pass(strengths[windows.k_micro], windows.k_micro, z, windows)
    long = spot_pass(strengths[windows.k_macro], windows.k_macro, z, windows)
    macros = [i for i in long if i.kind == "macro"]
    kept = [i for i in short if not any(_overlaps(i, m) for m in macros)]
    kept += [i for i in long if i.kind == "macro"
             or not any(_overlaps(i, s) for s in short)]
    return sorted(kept, key=lambda i: i.onset)


def choose_z(training: dict, windows: Windows, grid=Z_GRID) -> tuple[float, float]:
    """(z, its overall F1) best on ``training``: video -> (strengths, true intervals)."""
    best_f1, best_z = -1.0, grid[0]
    for z in grid:
        videos = {v: (spot(s, windows, z), t) for v, (s, t) in training.items()}
        f1 = spotting_scores(videos)["overall"]["f1"] or 0.0
        if f1 > best_f1:
            best_f1, best_z = f1, float(z)
    return best_z, best_f1
