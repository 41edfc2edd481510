"""Per-frame motion features of a long video over spans of k frames, streamed (at
most max k + 1 frames held).

For frame i and span k, two TV-L1 flows on the face crop: the forward flow
w_f = flow(i - k -> i) and the backward flow w_b = flow(i + k -> i). From each the
head's motion is taken off (``without_head_motion``): the quadratic motion

    w(x) ~ A x + c + Q(x)   (A 2x2, c a 2-vector, Q a quadratic form per component:
                             a sway, a tilt and the in-plane part of a nod or a turn
                             are affine; the foreshortening of a face turning or
                             nodding away from the camera, and the roundness of the
                             face under it, add the second-order terms)

fitted to the flow by least squares, refitted on the ``KEEP`` share of pixels it fits
best (an expression moves a small part of the face, which the refit leaves out). Each
residual flow is cut into a G x G grid of blocks; a block's value is the mean of the
top third of |w| among the pixels of its most populated direction quadrant (its main
direction, as MEGC2020's MDMD). The frame's displacement from neutral in block j is

    d_k(i, j) = min(block_f(i, j), block_b(i, j)),

its movement against both the frame k before and the frame k after; the head's
displacement h_k(i) is the same minimum of the fitted motion's RMS over the crop, less
its mean shift (``split_head_motion``: turning, nodding, tilting; a sway's shift is not
counted). Where frames
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

import functools

import numpy as np

from faceslueth_jax.preprocess import tvl1

GRID = 6
KEEP = 0.8  # the share of pixels the head's motion is refitted on


@functools.lru_cache(maxsize=8)
def _design(shape) -> tuple[np.ndarray, np.ndarray]:
    """(H W, 6) rows (x, y, 1, x^2, x y, y^2) of the pixel grid, x and y centred and
    scaled to about -1..1, and the design's pseudo-inverse."""
    h, w = shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    x, y = (x - (w - 1) / 2) / (w / 2), (y - (h - 1) / 2) / (h / 2)
    design = np.stack([x, y, np.ones_like(x), x * x, x * y, y * y], -1).reshape(-1, 6)
    return design, np.linalg.pinv(design)


def without_head_motion(flow: np.ndarray, keep: float = KEEP) -> np.ndarray:
    """(S, S, 2) ``flow`` less its robust quadratic fit (the module doc)."""
    return split_head_motion(flow, keep)[0]


def split_head_motion(flow: np.ndarray, keep: float = KEEP) -> tuple[np.ndarray, float]:
    """(``flow`` less its robust quadratic fit, the RMS over the crop of the fit less its
    mean: how far the head turned, nodded, tilted or came closer, in pixels; a shift of
    the whole face, which a sway is, does not count)."""
    flow = np.asarray(flow, np.float64)
    design, pinv = _design(flow.shape[:2])
    target = flow.reshape(-1, 2)
    residual = np.hypot(*(target - design @ (pinv @ target)).T)
    cut = int(keep * (len(residual) - 1))
    best = residual <= np.partition(residual, cut)[cut]
    d = design[best]
    coef = np.linalg.solve(d.T @ d, d.T @ target[best])
    fitted = design @ coef
    turning = fitted - fitted.mean(0)  # a shift of the whole crop left out (a sway)
    return ((target - fitted).reshape(flow.shape).astype(np.float32),
            float(np.sqrt(np.mean(np.sum(turning ** 2, 1)))))


def block_values(flow: np.ndarray, grid: int = GRID) -> np.ndarray:
    """(grid * grid,) main-direction strength of each block of (S, S, 2) ``flow``
    (the head's motion already off): the mean of the top third of |w| among the
    block's pixels in its most populated direction quadrant."""
    side = flow.shape[0] // grid
    flow = np.asarray(flow[:grid * side, :grid * side], np.float64)

    def by_block(a):  # (grid * side, grid * side) -> (grid^2, side^2)
        return a.reshape(grid, side, grid, side).transpose(0, 2, 1, 3).reshape(grid * grid, -1)
    magnitude = by_block(np.hypot(flow[..., 0], flow[..., 1]))
    quadrant = by_block((np.arctan2(flow[..., 1], flow[..., 0]) // (np.pi / 2)).astype(int) % 4)
    counts = (quadrant[..., None] == np.arange(4)).sum(1)  # (grid^2, 4)
    main = counts.argmax(1)
    kept = np.where(quadrant == main[:, None], magnitude, -np.inf)
    ordered = -np.sort(-kept, axis=1)  # largest first, the other quadrants last
    top = np.maximum(1, counts[np.arange(len(main)), main] // 3)
    sums = np.cumsum(np.where(np.isfinite(ordered), ordered, 0.0), axis=1)
    return sums[np.arange(len(main)), top - 1] / top


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


def _dispatch(i0: list, i1: list, batch: int, params) -> list:
    """Start the flows i0[j] -> i1[j], ``batch`` pairs a call (the last batch padded, so
    that one compiled TV-L1 program serves a video); [(flows, how many are real)]. JAX
    computes them while the caller goes on."""
    calls = []
    for start in range(0, len(i0), batch):
        a, b = i0[start:start + batch], i1[start:start + batch]
        pad = batch - len(a)
        calls.append((tvl1.tvl1_batch(np.stack(a + [a[-1]] * pad), np.stack(b + [a[-1]] * pad),
                                      params), len(a)))
    return calls


def _blocks_of(calls: list, grid: int) -> list:
    """Block values, then the head's motion (G^2 + 1 values), of each dispatched flow."""
    out = []
    for flows, real in calls:
        for f in np.asarray(flows)[:real]:
            residual, head = split_head_motion(f)
            out.append(np.append(block_values(residual, grid), head))
    return out


def _pair_blocks(i0: list, i1: list, batch: int, params, grid: int) -> list:
    """``_blocks_of`` the flows i0[j] -> i1[j], waiting for them."""
    return _blocks_of(_dispatch(i0, i1, batch, params), grid)


def stream(frames, spans, size: int, params: tvl1.TVL1Params = tvl1.TVL1Params(),
           grid: int = GRID, on_frame=None) -> tuple[dict, dict]:
    """(span k -> (T, grid^2) displacements d_k, span k -> (T,) the head's displacement
    h_k = min(forward, backward) of ``split_head_motion``'s measure) over the (H, W) grey
    ``frames`` (any iterable, each resized to ``size`` x ``size``), for each k of
    ``spans``; at most max(spans) + 1 frames are held. A frame's flows are one batched
    TV-L1 call. ``on_frame(t)`` after each frame (a progress bar)."""
    import cv2

    spans = sorted(set(int(k) for k in spans))
    longest = spans[-1]
    batch = 2 * len(spans)  # a frame's flows: two per span (and, early on, one from frame 0)
    held, count, first = [], 0, None
    forward = {k: [] for k in spans}   # forward[k][i]: frame i's w_f blocks
    backward = {k: [] for k in spans}  # backward[k][i]: frame i's w_b blocks, i < T - k
    from_first = []                    # frame t's flow from frame 0, t < longest

    def collect(job):  # a frame's flows, once computed, into the lists above
        calls, ready, early = job
        blocks = _blocks_of(calls, grid)
        for j, k in enumerate(ready):
            forward[k].append(blocks[j])
            backward[k].append(blocks[len(ready) + j])
        if early:
            from_first.append(blocks[-1])

    waiting = None  # the previous frame's flows: read while this frame's are computed
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
        job = (_dispatch(i0, i1, batch, params), ready, t < longest)
        if waiting is not None:
            collect(waiting)
        waiting = job
        if on_frame is not None:
            on_frame(t)
    if waiting is not None:
        collect(waiting)
    if count < spans[0] + 1:
        raise ValueError(f"a video of {count} frames is shorter than k + 1 = {spans[0] + 1}")
    # the last frames' w_b: the flow from the last frame to each held frame before it
    last = len(held) - 1  # frames count-1-last .. count-2 are held before the last
    width = grid * grid + 1
    to_last = _pair_blocks([held[-1]] * last, held[:-1], batch, params, grid) + [
        np.zeros(width)]
    out, head = {}, {}
    for k in spans:
        f = np.concatenate([np.asarray(from_first[:min(k, count)]).reshape(-1, width),
                            np.asarray(forward[k]).reshape(-1, width)])
        b_tail = to_last[len(to_last) - min(k, count):]  # frames max(0, count-k)..count-1
        b = np.concatenate([np.asarray(backward[k]).reshape(-1, width),
                            np.asarray(b_tail).reshape(-1, width)])
        d = displacement(f, b)
        out[k], head[k] = d[:, :-1], d[:, -1]
    return out, head
