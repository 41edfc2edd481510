"""LBP-TOP, local binary patterns on three orthogonal planes (Zhao and Pietikainen,
IEEE TPAMI 2007), the field's first micro-expression baseline, and a linear classifier
on it.

A clip's grey frames I(t, y, x) (the records' ``frames`` view: T frames sampled over
onset..offset) give at every interior point three 8-bit codes, one per plane
(XY: space; XT and YT: space against time), from the 8 neighbours n_k of the 3 x 3
ring in that plane around the centre c:

    code = sum_k [n_k >= c] 2^k,      k = 0..7 around the ring

Codes with at most two 0/1 transitions around the ring (the 58 uniform patterns) keep
their own bin, all others share one: 59 bins. The frame is cut into a G x G grid of
blocks; each block's histogram on each plane is normalised to sum 1, and the feature is
their concatenation, 3 * 59 * G^2 values (G = 4: 2832).

``LBPTOP`` is that fixed feature and one dense layer; the classifier the field reports,
a logistic regression whose L2 an inner CV chooses, is ``baseline.features='lbp_top'``.
Records without frames (HTNet's composite release holds only flow) cannot feed it.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from faceslueth_jax.models import field_checks
from faceslueth_jax.models.mdmo import histograms, region_index

GRID = 4
BINS = 59
# the 3 x 3 ring, (first axis, second axis) offsets, k = 0..7
RING = ((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))


def uniform_bins() -> np.ndarray:
    """(256,) the bin of every 8-bit code: the 58 uniform patterns 0..57 in code order,
    every other code 58."""
    def transitions(code: int) -> int:
        bits = [(code >> k) & 1 for k in range(8)]
        return sum(bits[k] != bits[(k + 1) % 8] for k in range(8))
    out, uniform = np.full(256, BINS - 1, np.int32), 0
    for code in range(256):
        if transitions(code) <= 2:
            out[code], uniform = uniform, uniform + 1
    assert uniform == BINS - 1
    return out


def plane_codes(volume, axes: tuple) -> jnp.ndarray:
    """(B, T, H, W) volume -> the 8-bit codes of its interior points (B, T-2, H-2, W-2)
    on the plane of the two ``axes`` (1: t, 2: y, 3: x)."""
    interior = (slice(None),) + (slice(1, -1),) * 3
    centre = volume[interior]
    code = jnp.zeros(centre.shape, jnp.int32)
    for k, offsets in enumerate(RING):
        shift = [0, 0, 0, 0]
        for axis, d in zip(axes, offsets):
            shift[axis] = d
        index = (slice(None),) + tuple(slice(1 + s, volume.shape[a] - 1 + s)
                                       for a, s in zip((1, 2, 3), shift[1:]))
        code = code + (volume[index] >= centre).astype(jnp.int32) * (1 << k)
    return code


def features(frames, grid: int = GRID):
    """(B, T, H, W[, 1]) grey frames (T >= 3) -> (B, 3 * 59 * grid^2) LBP-TOP (module docs)."""
    volume = frames[..., 0] if frames.ndim == 5 else frames
    mapping = jnp.asarray(uniform_bins())
    _, t, h, w = volume.shape
    block = jnp.asarray(region_index(h - 2, w - 2, grid))  # of the interior points
    out = []
    for axes in ((2, 3), (1, 3), (1, 2)):  # XY, XT, YT
        bins = mapping[plane_codes(volume, axes)]  # (B, T-2, H-2, W-2)
        cell = (block[None, None] * BINS + bins).reshape(volume.shape[0], -1)
        hist = histograms(cell, grid * grid * BINS).reshape(-1, grid * grid, BINS)
        out.append((hist / hist.sum(-1, keepdims=True)).reshape(hist.shape[0], -1))
    return jnp.concatenate(out, -1)


class LBPTOP(nn.Module):
    num_classes: int
    grid: int = GRID

    @nn.compact
    def __call__(self, views: dict, *, train: bool):
        del train
        if "frames" not in views:
            raise ValueError("model.name='lbp_top' reads the records' frames: build them "
                             "with data.build.clip_frames (HTNet's release has none)")
        return nn.Dense(self.num_classes, name="classifier")(features(views["frames"],
                                                                      self.grid))


def from_config(cfg, num_classes: int) -> LBPTOP:
    """LBPTOP from ``model.lbp_top`` (grid)."""
    return LBPTOP(num_classes=num_classes, grid=int(cfg.get("grid", GRID)))


def check_config(cfg) -> None:
    """``model.lbp_top.grid``: an integer >= 1."""
    field_checks.positive_ints("model.lbp_top", grid=cfg.get("grid", GRID))
