"""Per-frame motion features of a long video over spans of k frames, streamed (at
most max k + 1 frames held).

For frame i and span k, two TV-L1 flows on the face crop: the forward flow
w_f = flow(i - k -> i) and the backward flow w_b = flow(i + k -> i). From each the
head's motion is taken off (``without_head_motion``): the affine motion

    w(x) ~ A x + c      (A 2x2, c 2-vector: a sway, a nod, a turn, a tilt of a face
                         seen from the front are close to affine over the face)

fitted to the flow by least squares, refitted on the ``KEEP`` share of pixels it fits
best (an expression moves a small part of the face, which the refit leaves out). Each
residual flow is cut into a G x G grid of blocks; a block's value is the mean of the
top third of |w| among the pixels of its most populated direction quadrant (its main
direction, as MEGC2020's MDMD). The frame's displacement from neutral in block j is

    d_k(i, j) = min(block_f(i, j), block_b(i, j)),

its movement against both the frame k before and the frame k after. Where frames
i - k and i + k are neutral it is the expression's displacement at frame i; once an
expression has ended (i - k inside it, frames i and i + k neutral) w_b is ~0, so no
echo follows the offset, and before the onset w_f is ~0 likewise. An expression of at
most k frames is one bump from its onset to its offset. Frames 0..k-1 have no frame
k before them: their w_f is the flow from frame 0; frames T-k..T-1 likewise take
their w_b from frame T - 1. ``stream`` keeps d, (T, G^2) per span; a frame's strength
is ``strength(blocks)``: the top third's mean less the median block (motion of a part
of the face, above what moves everywhere).
"""

from __future__ import annotations

import numpy as np

from faceslueth_jax.preprocess import tvl1

GRID = 6
KEEP = 0.8  # the share of pixels the head's affine motion is refitted on


def _top_third_mean(values: np.ndarray) -> float:
    """The mean of the largest third of ``values`` (at least one)."""
    top = np.sort(np.ravel(values))[::-1]
    return float(top[:max(1, len(top) // 3)].mean())


def _design(shape) -> np.ndarray:
    """(H W, 3) rows (x, y, 1) of the pixel grid, centred and scaled to about -1..1."""
    h, w = shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    return np.stack([(x - (w - 1) / 2) / (w / 2), (y - (h - 1) / 2) / (h / 2),
                     np.ones_like(x)], -1).reshape(-1, 3)


def without_head_motion(flow: np.ndarray, keep: float = KEEP) -> np.ndarray:
    """(S, S, 2) ``flow`` less its robust affine fit (the module doc)."""
    flow = np.asarray(flow, np.float64)
    design, target = _design(flow.shape[:2]), flow.reshape(-1, 2)
    coef = np.linalg.lstsq(design, target, rcond=None)[0]
    residual = np.hypot(*(target - design @ coef).T)
    best = residual <= np.quantile(residual, keep)
    coef = np.linalg.lstsq(design[best], target[best], rcond=None)[0]
    return (target - design @ coef).reshape(flow.shape).astype(np.float32)


def block_values(flow: np.ndarray, grid: int = GRID) -> np.ndarray:
    """(grid * grid,) main-direction strength of each block of (S, S, 2) ``flow``
    (the head's motion already off)."""
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


def displacement(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """(T, G^2) d = min(forward, backward) per frame and block."""
    return np.minimum(forward, backward).astype(np.float32)


def strength(blocks: np.ndarray) -> np.ndarray:
    """(T,) motion strength of (T, G^2) block values: the top third's mean less the
    median block, per frame."""
    blocks = np.asarray(blocks)
    top = np.sort(blocks, axis=-1)[..., ::-1][..., :max(1, blocks.shape[-1] // 3)]
    return top.mean(-1) - np.median(blocks, axis=-1)


def strengths(blocks: dict) -> dict:
    """span k -> (T,) motion strength of ``blocks``: span k -> (T, G^2) block values."""
    return {k: strength(b) for k, b in blocks.items()}


def _pair_blocks(i0: list, i1: list, batch: int, params, grid: int) -> list:
    """Block values of the flows i0[j] -> i1[j], computed ``batch`` pairs at a time
    (the last batch padded), so that one compiled TV-L1 program serves a video."""
    out = []
    for start in range(0, len(i0), batch):
        a, b = i0[start:start + batch], i1[start:start + batch]
        pad = batch - len(a)
        flows = np.asarray(tvl1.tvl1_batch(np.stack(a + [a[-1]] * pad),
                                           np.stack(b + [a[-1]] * pad), params))
        out += [block_values(without_head_motion(f), grid) for f in flows[:len(a)]]
    return out


def stream(frames, spans, size: int, params: tvl1.TVL1Params = tvl1.TVL1Params(),
           grid: int = GRID, on_frame=None) -> dict:
    """span k -> (T, grid^2) displacements d_k over the (H, W) grey ``frames`` (any
    iterable, each resized to ``size`` x ``size``), for each k of ``spans``; at most
    max(spans) + 1 frames are held. A frame's flows are one batched TV-L1 call.
    ``on_frame(t)`` after each frame (a progress bar)."""
    import cv2

    spans = sorted(set(int(k) for k in spans))
    longest = spans[-1]
    batch = 2 * len(spans)  # a frame's flows: two per span (and, early on, one from frame 0)
    held, count, first = [], 0, None
    forward = {k: [] for k in spans}   # forward[k][i]: frame i's w_f blocks
    backward = {k: [] for k in spans}  # backward[k][i]: frame i's w_b blocks, i < T - k
    from_first = []                    # frame t's flow from frame 0, t < longest
    for t, frame in enumerate(frames):
        count = t + 1
        held.append(cv2.resize(np.asarray(frame, np.float32), (size, size),
                               interpolation=cv2.INTER_AREA))
        first = held[0] if first is None else first
        if len(held) > longest + 1:
            held.pop(0)
        ready = [k for k in spans if len(held) >= k + 1]
        # frame t - k -> t (t's w_f), frame t -> t - k (frame t - k's w_b), and
        # frame 0 -> t while t is within the longest span of the start
        i0 = [held[-1 - k] for k in ready] + [held[-1] for k in ready]
        i1 = [held[-1] for k in ready] + [held[-1 - k] for k in ready]
        if t < longest:
            i0, i1 = i0 + [first], i1 + [held[-1]]
        blocks = _pair_blocks(i0, i1, batch, params, grid)
        for j, k in enumerate(ready):
            forward[k].append(blocks[j])
            backward[k].append(blocks[len(ready) + j])
        if t < longest:
            from_first.append(blocks[-1])
        if on_frame is not None:
            on_frame(t)
    if count < spans[0] + 1:
        raise ValueError(f"a video of {count} frames is shorter than k + 1 = {spans[0] + 1}")
    # the last frames' w_b: the flow from the last frame to each held frame before it
    last = len(held) - 1  # frames count-1-last .. count-2 are held before the last
    to_last = _pair_blocks([held[-1]] * last, held[:-1], batch, params, grid) + [
        np.zeros(grid * grid)]
    out = {}
    for k in spans:
        f = np.concatenate([np.asarray(from_first[:min(k, count)]).reshape(-1, grid * grid),
                            np.asarray(forward[k]).reshape(-1, grid * grid)])
        b_tail = to_last[len(to_last) - min(k, count):]  # frames max(0, count-k)..count-1
        b = np.concatenate([np.asarray(backward[k]).reshape(-1, grid * grid),
                            np.asarray(b_tail).reshape(-1, grid * grid)])
        out[k] = displacement(f, b)
    return out
