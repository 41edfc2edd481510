"""Approximate rank pooling: the dynamic image of a clip (FDP's reconstruction target).

For T frames x_0 .. x_{T-1} (in chronological order) the weight of frame n is

    fw[n] = sum_{i = n+1}^{T} (2 i - T - 1) / i,        n = 0 .. T-1

(frame index n from 0, summation index i from 1: for T = 8 this gives
-8.46, -1.46, 1.04, 2.04, 2.29, 2.09, 1.59, 0.875, FDP's weights), and the
dynamic image is the weighted sum over frames, min-max normalised per sample
over all its pixels and channels:

    d  = sum_n fw[n] x_n
    DI = (d - min d) / max(max d - min d, eps)       in 0..1

An affine change of the frames' intensities, x -> a x + b with a > 0, leaves
DI unchanged (the min-max removes it), so DI is the same on 0..255 frames and on
frames normalised to -1..1. A still clip (all frames equal) has a constant d and
DI = 0 everywhere.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

EPS = 1e-6


def rank_pooling_weights(num_frames: int) -> np.ndarray:
    """fw[n] of the module docstring, (num_frames,) float32."""
    t = num_frames
    i = np.arange(1, t + 1, dtype=np.float64)
    terms = (2 * i - t - 1) / i                          # term of summation index i
    # fw[n] sums the terms of i = n+1 .. T: a reversed cumulative sum
    return np.cumsum(terms[::-1])[::-1].astype(np.float32)


def dynamic_image(frames: jnp.ndarray) -> jnp.ndarray:
    """(B, T, H, W, C) frames -> (B, H, W, C) dynamic images in 0..1 (docstring)."""
    weights = jnp.asarray(rank_pooling_weights(frames.shape[1]), frames.dtype)
    d = jnp.einsum("t,bthwc->bhwc", weights, frames)
    lo = d.min(axis=(1, 2, 3), keepdims=True)
    hi = d.max(axis=(1, 2, 3), keepdims=True)
    return (d - lo) / jnp.maximum(hi - lo, EPS)
