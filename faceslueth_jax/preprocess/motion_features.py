"""Per-frame motion features of a long video over spans of k frames, streamed (at
most max k + 1 frames held).

For frame i >= k, the TV-L1 flow w = (u, v) from frame i - k to frame i, less its
median over the face (the head's rigid motion), is cut into a G x G grid of blocks.
In each block the pixels are binned by direction into four quadrants; the block's
value is the mean of the top third of |w| among the pixels of its most populated
quadrant (its main direction). The frame's value is the mean of the top third of its
G^2 block values, its motion strength (the MDMD baseline of MEGC2020, with TV-L1 flow
in place of RLOF and the median flow in place of landmark alignment; MDMD also takes
off the magnitude of the flow from i - k to i + k, which this one flow per span does
not, so a span-k strength stays raised up to k frames after an expression ends). ``stream``
keeps the block values, (T, G^2) per span: the learned spotter reads them, the
strength is ``strength(blocks)``. Frames 0..k-1 get frame k's values.
"""

from __future__ import annotations

import numpy as np

from faceslueth_jax.preprocess import tvl1

GRID = 6


def _top_third_mean(values: np.ndarray) -> float:
    """The mean of the largest third of ``values`` (at least one)."""
    top = np.sort(np.ravel(values))[::-1]
    return float(top[:max(1, len(top) // 3)].mean())


def block_values(flow: np.ndarray, grid: int = GRID) -> np.ndarray:
    """(grid * grid,) main-direction strength of each block of (S, S, 2) ``flow``."""
    flow = flow - np.median(flow.reshape(-1, 2), axis=0)
    magnitude = np.hypot(flow[..., 0], flow[..., 1])
    quadrant = (np.arctan2(flow[..., 1], flow[..., 0]) // (np.pi / 2)).astype(int) % 4
    side = flow.shape[0] // grid
    values = []
    for by in range(grid):
        for bx in range(grid):
            cut = (slice(by * side, (by + 1) * side), slice(bx * side, (bx + 1) * side))
            m, q = magnitude[cut].ravel(), quadrant[cut].ravel()
            main = np.bincount(q, minlength=4).argmax()
            values.append(_top_third_mean(m[q == main]))
    return np.asarray(values)


def frame_value(flow: np.ndarray, grid: int = GRID) -> float:
    """The mean of the top third of the frame's block values."""
    return _top_third_mean(block_values(flow, grid))


def strength(blocks: np.ndarray) -> np.ndarray:
    """(T,) motion strength of (T, G^2) block values: the top third's mean per frame."""
    blocks = np.asarray(blocks)
    top = np.sort(blocks, axis=-1)[..., ::-1][..., :max(1, blocks.shape[-1] // 3)]
    return top.mean(-1)


def strengths(blocks: dict) -> dict:
    """span k -> (T,) motion strength of ``blocks``: span k -> (T, G^2) block values."""
    return {k: strength(b) for k, b in blocks.items()}


def stream(frames, spans, size: int, params: tvl1.TVL1Params = tvl1.TVL1Params(),
           grid: int = GRID, on_frame=None) -> dict:
    """span k -> (T, grid^2) block values over k frames of the (H, W) grey ``frames``
    (any iterable, each resized to ``size`` x ``size``), for each k of ``spans``; at
    most max(spans) + 1 frames are held. ``on_frame(t)`` after each frame (a progress
    bar)."""
    import cv2

    spans = sorted(set(int(k) for k in spans))
    held, values, count = [], {k: [] for k in spans}, 0
    for t, frame in enumerate(frames):
        count = t + 1
        held.append(cv2.resize(np.asarray(frame, np.float32), (size, size),
                               interpolation=cv2.INTER_AREA))
        if len(held) > spans[-1] + 1:
            held.pop(0)
        for k in spans:
            if len(held) >= k + 1:
                flow = np.asarray(tvl1.tvl1(held[-1 - k], held[-1], params))
                values[k].append(block_values(flow, grid))
        if on_frame is not None:
            on_frame(t)
    if not values[spans[-1]]:
        raise ValueError(f"a video of {count} frames is shorter than k + 1 = {spans[-1] + 1}")
    return {k: np.concatenate([np.repeat(v[:1], k, 0), v]).astype(np.float32)
            for k, v in values.items()}
