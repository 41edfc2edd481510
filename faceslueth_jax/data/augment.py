"""Training augmentation in JAX, applied identically to a sample's views.

For each sample: with probability 1/2 a horizontal mirror, then a random
translation by (dy, dx) pixels, the same fraction of each view's size for every
view, with the border pixels replicated into the uncovered margin.

Mirroring a flow field negates its horizontal component; on flow min-max
normalised per sample to 0..1 that is u -> 1 - u (the mirror of
(u - lo) / (hi - lo) is (hi - u) / (hi - lo)). In general u -> c - u with
c = ``u_mirror_offset`` (0 for raw flow, 1 for min-max flow):

    (u, v, s)(x, y) -> (c - u, v, s)(W-1-x, y).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp


def _translate(image, shift_yx, max_shift):
    """Shift (H,W,C) by integer (dy, dx), |dy|, |dx| <= max_shift, replicating edges."""
    padded = jnp.pad(image, ((max_shift, max_shift), (max_shift, max_shift), (0, 0)),
                     mode="edge")
    start = (max_shift - shift_yx[0], max_shift - shift_yx[1], 0)
    return jax.lax.dynamic_slice(padded, start, image.shape)


def augment_sample(key, views: dict, max_shift_fraction: float, u_mirror_offset: float,
                   flow_key: str = "flow") -> dict:
    """Mirror and translate every view of one sample with the same draw."""
    k_flip, k_shift = jax.random.split(key)
    flip = jax.random.bernoulli(k_flip)
    fraction = jax.random.uniform(k_shift, (2,), minval=-max_shift_fraction,
                                  maxval=max_shift_fraction)
    out = {}
    for name, image in views.items():
        mirrored = image[:, ::-1, :]
        if name == flow_key:
            mirrored = mirrored.at[..., 0].set(u_mirror_offset - mirrored[..., 0])
        image = jnp.where(flip, mirrored, image)
        max_shift = math.ceil(max_shift_fraction * max(image.shape[:2]))
        shift = jnp.round(fraction * jnp.array(image.shape[:2])).astype(jnp.int32)
        out[name] = _translate(image, shift, max_shift) if max_shift else image
    return out


def augment_batch(keys, views: dict, max_shift_fraction: float, u_mirror_offset: float) -> dict:
    """``keys``: one PRNG key per sample, (B, 2); a sample's draw depends on its key only."""
    return jax.vmap(lambda k, v: augment_sample(k, v, max_shift_fraction, u_mirror_offset))(
        keys, views)
