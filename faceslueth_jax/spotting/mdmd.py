"""The training-free spotter (MEGC2020's MDMD family) on ``motion_features``.

Two passes read the displacement from neutral d_j(i) of every block j
(``motion_features``: the frame against the frame k before and the frame k after, no
echo after an expression) at two spans: k_micro (0.5 s, the longest micro-expression)
and k_macro (2 s). In a pass, each block's displacement (smoothed over
w = max(1, k_micro // 4) frames at both spans, so that a micro-expression keeps its
duration at the macro span) is contrasted with its neighbourhood m = k - 1 frames away,

    C_j(i) = d_j(i) - (d_j(i - m) + d_j(i + m)) / 2      (edges: the nearest frame),

and put in the block's own noise units, n_j = (C_j - median C_j) / (1.4826 MAD C_j) (a
block of hair or of a lid that blinks is noisier than one of cheek). A frame's score S(i)
is the mean of its ``TOP`` largest n_j over the blocks on the face (``face_blocks``: an
ellipse placed by the eyes; the border blocks, hair and background, where a head moving
against a still background leaves its motion, do not count; all blocks where the eyes are
not known). Every run of frames with S(i) > T is one movement, T = median(S) + z sigma,
sigma = 1.4826 MAD(S): z noise units above the video's own floor. (MDMD's
T = mean(C) + p (max(C) - mean(C)) follows the video's largest movement: a nod or a blink
lowers it for every expression, and a video of a few expressions has its noise
spotted.) Its interval follows the movement's rise and fall: around the run's peak
a = argmax S, the frames l..r with S above half of S(a); a bump that rises and falls as
a raised cosine over L frames is above half its height over L / 2 of them, so the
interval is l..r widened by half its length on each side, scored by S(a).

An interval's kind is its duration: a micro-expression lasts at most 0.5 s (MEGC), a
macro-expression longer, up to ``macro_max``; intervals under ``min_length`` are left
out. The passes overlap in what they find: where a micro pass interval and a macro
pass interval overlap, the macro pass's is kept when it is a macro-expression (the
micro span sees its rise or fall as a short movement) and the micro pass's otherwise
(the same short movement, measured at the span that resolves it). Within a pass, of
overlapping intervals the higher scored is kept.

Not expressions, left out:
  head movements  an interval during which the head's displacement (the fitted motion
                  less its mean shift: turning, nodding, tilting; ``motion_features``)
                  rises ``HEAD_Z`` noise units above its floor, by the same contrast;
                  an expression does not move the robust fit, a nod or a turn does;
  blinks          a micro interval whose largest block on the face is an eye's
                  (``eye_blocks``) and whose eye blocks move by at least ``BLINK_IOD``
                  inter-ocular distances (a blink's lid travels a large part of the
                  eye's height; a lid tightening at micro intensity much less).

z is chosen on training videos only (``choose_z``: the value of ``Z_GRID`` with the
best overall F1 over their videos; ties: the smaller z), the same z for both passes.
HEAD_Z, BLINK_IOD, BROW_IOD, TOP and the face ellipse were set on development videos
of the real-photograph generator (seeds 100-111), none of them in a reported study.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from faceslueth_jax.evaluation.spotting_metrics import Interval, spotting_scores
from faceslueth_jax.preprocess.video_features import FLOW_SIZE, Windows

FACE_ELLIPSE = (0.45, 0.95, 1.2)  # centre below the eyes, half-width, half-height (IOD)
EYE_REACH = 0.2  # IOD: the blocks an eye's lids move
BLINK_IOD = 0.04  # a blink's lid travel at the micro span is above this (IOD)
BROW_IOD = 0.45  # the brows' blocks: the eyes' moved up by this (IOD)
HEAD_Z = 2.5  # noise units of the head's displacement contrast: the head moved
TOP = 2  # blocks whose contrasts make a frame's score
Z_GRID = (2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0)


def contrast(values: np.ndarray, k: int, width: int) -> np.ndarray:
    """C(i) of ``values`` (T,) or (T, J) smoothed over ``width`` frames, per column
    (the module doc)."""
    values = np.asarray(values, np.float64)
    width = max(1, int(width))
    pad = [(width // 2, width - 1 - width // 2)] + [(0, 0)] * (values.ndim - 1)
    kernel = np.ones(width) / width
    smooth = np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="valid"), 0,
                                 np.pad(values, pad, mode="edge"))
    m = max(1, k - 1)
    padded = np.pad(smooth, [(m, m)] + [(0, 0)] * (values.ndim - 1), mode="edge")
    return padded[m:-m] - 0.5 * (padded[:-2 * m] + padded[2 * m:])


def noise_units(c: np.ndarray) -> np.ndarray:
    """(T, J) contrasts in each column's own noise units: (C - median) / (1.4826 MAD),
    the MAD floored at a thousandth of the columns' median MAD."""
    median = np.median(c, 0)
    mad = np.median(np.abs(c - median), 0)
    sigma = 1.4826 * np.maximum(mad, 1e-3 * float(np.median(mad)) + 1e-12)
    return (c - median) / sigma


def frame_score(blocks: np.ndarray, k: int, width: int, mask=None) -> np.ndarray:
    """(T,) a frame's movement score from (T, G^2) block displacements: the mean of the
    ``TOP`` largest block contrasts, each in its block's noise units, over the blocks
    of ``mask`` (all by default; the module doc)."""
    n = noise_units(contrast(blocks, k, width))
    if mask is not None:
        n = n[:, np.asarray(mask, bool)]
    return np.sort(n, axis=1)[:, -TOP:].mean(1)


def face_blocks(eyes, grid: int) -> np.ndarray:
    """(grid^2,) bool: the blocks whose centres lie on the face, an ellipse placed by
    the eyes' centres ``eyes`` (fractions of the crop's side; the module doc)."""
    (x0, y0), (x1, y1) = eyes
    iod = float(np.hypot(x1 - x0, y1 - y0))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 + FACE_ELLIPSE[0] * iod
    centres = (np.arange(grid) + 0.5) / grid
    y, x = np.meshgrid(centres, centres, indexing="ij")
    inside = ((x - cx) / (FACE_ELLIPSE[1] * iod)) ** 2 + ((y - cy) / (FACE_ELLIPSE[2] * iod)) ** 2
    return (inside <= 1.0).ravel()


def eye_blocks(eyes, grid: int) -> np.ndarray:
    """(grid^2,) bool: the blocks within ``EYE_REACH`` IOD of an eye's centre."""
    (x0, y0), (x1, y1) = eyes
    iod = float(np.hypot(x1 - x0, y1 - y0))
    centres = (np.arange(grid) + 0.5) / grid
    y, x = np.meshgrid(centres, centres, indexing="ij")
    near = np.zeros_like(x, bool)
    half = 0.5 / grid  # a block's half side
    for ex, ey in eyes:
        near |= (np.abs(x - ex) <= half + EYE_REACH * iod) & (np.abs(y - ey) <= half + 0.5 * EYE_REACH * iod)
    return near.ravel()


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


def spot_pass(blocks: np.ndarray, k: int, z: float, windows: Windows, mask=None) -> list:
    """One pass's intervals, each of the kind its duration gives (the module doc)."""
    c = frame_score(blocks, k, windows.k_micro // 4, mask)
    out = []
    for onset, offset, score in movements(c, threshold(c, z)):
        kind = _kind(offset - onset + 1, windows)
        if kind is not None:
            out.append(Interval(int(onset), int(offset), kind, score))
    return _best_apart(out)


@dataclasses.dataclass(frozen=True)
class BlinkRule:
    """What tells a blink from the eyes' centres (fractions of a G x G crop of ``size``
    pixels): the eyes' blocks, the brows' blocks above them, and ``BLINK_IOD`` in pixels."""
    near: np.ndarray   # (G^2,) bool: the eyes' blocks (``eye_blocks``)
    above: np.ndarray  # (G^2,) bool: the brows' blocks, the eyes' moved up by BROW_IOD
    least: float       # a blink's eye blocks move at least this far (crop pixels)

    @classmethod
    def of(cls, eyes, grid: int, size: int) -> "BlinkRule":
        (x0, y0), (x1, y1) = eyes
        iod = float(np.hypot(x1 - x0, y1 - y0))
        near = eye_blocks(eyes, grid)
        above = eye_blocks(((x0, y0 - BROW_IOD * iod), (x1, y1 - BROW_IOD * iod)), grid) & ~near
        return cls(near, above, BLINK_IOD * iod * size)

    def is_blink(self, interval: Interval, blocks: np.ndarray, on_face: np.ndarray) -> bool:
        """Whether ``interval`` is a blink: at the micro span (``blocks`` (T, G^2)), its
        largest block displacement on the face is an eye's, the eyes' blocks move by at
        least ``least``, and the brows' by less than half as much (a brow raise lifts
        both)."""
        peak = blocks[interval.onset:interval.offset + 1].max(0)
        top = int(np.argmax(np.where(on_face, peak, -np.inf)))
        eye = peak[self.near].max()
        brow = peak[self.above].max() if self.above.any() else 0.0
        return bool(self.near[top] and eye >= self.least and brow < 0.5 * eye)


def head_moved(interval: Interval, head: np.ndarray, units: np.ndarray,
               face: np.ndarray) -> bool:
    """Whether the head turned, nodded or tilted during ``interval``: its displacement
    (``head`` (T,)) rises ``HEAD_Z`` noise units above its floor (``units``: the
    contrast of ``head`` in noise units) and reaches at least half the face's largest
    block displacement (``face`` (T, J): the blocks on the face at the same span; an
    expression that leans on the head's fit moves it much less than itself)."""
    during = slice(interval.onset, interval.offset + 1)
    return bool(units[during].max() >= HEAD_Z and head[during].max() >= 0.5 * face[during].max())


def spot(blocks: dict, windows: Windows, z: float, eyes=None, size: int = FLOW_SIZE,
         head: dict | None = None) -> list:
    """Both passes' intervals, their overlaps resolved, blinks and head movements left
    out (the module doc); ``blocks``: span k -> (T, G^2) block displacements (crop
    pixels at ``size``); ``eyes``: the eyes' centres in the crop
    (``VideoFeatures.eyes``), None where not known (then every block counts and no
    blink is recognised); ``head``: span k -> (T,) the head's displacement
    (``VideoFeatures.head``), None where not known."""
    grid = int(round(np.sqrt(blocks[windows.k_micro].shape[1])))
    mask = None if eyes is None else face_blocks(eyes, grid)
    on_face = np.ones(grid * grid, bool) if mask is None else mask
    width = windows.k_micro // 4
    passes = []
    for k in windows.spans:
        found = spot_pass(blocks[k], k, z, windows, mask)
        if head is not None:
            units = noise_units(contrast(head[k], k, width)[:, None])[:, 0]
            found = [i for i in found
                     if not head_moved(i, head[k], units, blocks[k][:, on_face])]
        passes.append(found)
    short, long = passes
    macros = [i for i in long if i.kind == "macro"]
    kept = [i for i in short if not any(_overlaps(i, m) for m in macros)]
    kept += [i for i in long if i.kind == "macro"
             or not any(_overlaps(i, s) for s in short)]
    if eyes is not None:
        rule = BlinkRule.of(eyes, grid, size)
        kept = [i for i in kept if i.kind != "micro"
                or not rule.is_blink(i, blocks[windows.k_micro], on_face)]
    return sorted(kept, key=lambda i: i.onset)


def choose_z(training: dict, windows: Windows, grid=Z_GRID) -> tuple[float, float]:
    """(z, its overall F1) best on ``training``: video -> (blocks, true intervals), or
    (blocks, true intervals, eyes, size, head) (``spot``'s arguments)."""
    best_f1, best_z = -1.0, grid[0]
    for z in grid:
        videos = {v: (spot(x[0], windows, z, *x[2:]), x[1]) for v, x in training.items()}
        f1 = spotting_scores(videos)["overall"]["f1"] or 0.0
        if f1 > best_f1:
            best_f1, best_z = f1, float(z)
    return best_z, best_f1
