"""The learned spotter: each frame's class (0 none, 1 micro, 2 macro) from a window of
motion features, trained for every LOSO fold at once by the fold-parallel trainer, then
intervals from runs of the per-frame class.

Samples: frames t = 0, s, 2s, ... of every video, s = ``stride(fps)`` (about 15 a
second: 2 at 30 fps, 13 at 200 fps). Sample t's input is the window of W positions
t + s (w - W/2), w = 0..W-1 (edges: the nearest frame), of

    x = log(1 + b / m_k)   per span k of ``spans`` and block,

b the block values over span k (``preprocess.motion_features``) and m_k the median of
the video's own block values at span k (its noise floor): a per-video scale from its
frames alone, no label. Its label: 1 if t lies in a coded micro-expression, 2 in a macro-expression,
else 0 (the frame-level labels of SOFTNet's family, with the kind kept). Training is
class-balanced (every class weighs the same in the loss).

Intervals (fixed before any test subject is seen, no threshold tuned): the class of
each position is the argmax of p after a median filter over 3 positions; a run of
positions of class c in {micro, macro} from t_a to t_b is the interval
[t_a, t_b + s - 1] of that kind, scored by its largest p_c, kept when its length fits
the kind (micro: at most ``Windows.micro_max``; macro: above it, at most ``macro_max``;
both at least ``Windows.min_length``, 0.2 s).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from faceslueth_jax.evaluation.spotting_metrics import Interval
from faceslueth_jax.preprocess.video_features import Windows

CLASSES = ("none", "micro", "macro")


def stride(fps: float) -> int:
    return max(1, int(round(fps / 15.0)))


def span_of(name: str, fps: float) -> int:
    """'micro' | 'macro' -> frames at ``fps``."""
    w = Windows.for_fps(fps)
    return {"micro": w.k_micro, "macro": w.k_macro}[name]


@dataclasses.dataclass
class Samples:
    """Every video's sample positions and inputs, concatenated."""
    windows: np.ndarray   # (N, W, C) float32
    labels: np.ndarray    # (N,) int32
    video: np.ndarray     # (N,) index of the sample's video
    position: np.ndarray  # (N,) its frame


def video_inputs(blocks: dict, fps: float, spans: tuple, width: int) -> tuple:
    """(positions (n,), windows (n, W, C)) of one video's ``blocks`` (span -> (T, 36))."""
    s = stride(fps)
    ks = [span_of(name, fps) for name in spans]
    features = []
    for k in ks:
        b = blocks[k]
        scale = max(float(np.median(b)), 1e-6)
        features.append(np.log1p(b / scale))
    x = np.concatenate(features, axis=1).astype(np.float32)  # (T, C)
    t = np.arange(0, len(x), s)
    offsets = s * (np.arange(width) - width // 2)
    index = np.clip(t[:, None] + offsets[None, :], 0, len(x) - 1)
    return t, x[index]


def frame_labels(truth: list, num_frames: int) -> np.ndarray:
    """(T,) 0 none, 1 inside a micro-expression, 2 inside a macro-expression."""
    out = np.zeros(num_frames, np.int32)
    for e in truth:
        out[e.onset:e.offset + 1] = np.where(out[e.onset:e.offset + 1] == 1, 1,
                                             CLASSES.index(e.kind))
    return out


def samples(videos: list, spans: tuple, width: int) -> Samples:
    parts = []
    for i, v in enumerate(videos):
        t, windows = video_inputs(v.blocks, v.fps, spans, width)
        parts.append((windows, frame_labels(v.truth, v.num_frames)[t], np.full(len(t), i), t))
    return Samples(*(np.concatenate(p) for p in zip(*parts)))


def intervals(probabilities: np.ndarray, positions: np.ndarray, fps: float,
              num_frames: int) -> list:
    """Intervals of one video from (n, 3) class probabilities at ``positions``
    (the module doc's rule)."""
    s, windows = stride(fps), Windows.for_fps(fps)
    padded = np.pad(np.argmax(probabilities, 1), 1, mode="edge")
    classes = np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0).astype(int)
    out = []
    for c, kind in ((1, "micro"), (2, "macro")):
        on = np.concatenate([[False], classes == c, [False]])
        starts = np.flatnonzero(~on[:-1] & on[1:])
        ends = np.flatnonzero(on[:-1] & ~on[1:]) - 1
        for a, b in zip(starts, ends):
            onset, offset = int(positions[a]), int(min(positions[b] + s - 1, num_frames - 1))
            length = offset - onset + 1
            fits = (length <= windows.micro_max if kind == "micro"
                    else windows.micro_max < length <= windows.macro_max)
            if fits and length >= windows.min_length:
                out.append(Interval(onset, offset, kind, float(probabilities[a:b + 1, c].max())))
    return sorted(out, key=lambda i: i.onset)
