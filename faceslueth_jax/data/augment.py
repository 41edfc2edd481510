"""Training augmentation in JAX, applied identically to a sample's views.

For each sample: with probability 1/2 a horizontal mirror, then a random
translation by (dy, dx) pixels (zero fill), the same fraction of each view's
size for every view. Mirroring a flow field negates its horizontal component:
(u, v, s)(x, y) -> (-u, v, s)(W-1-x, y).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _translate(image, shift_yx):
    """Shift (H,W,C) by integer (dy, dx) with zero fill."""
    h, w, _ = image.shape
    pad_y, pad_x = h, w
    padded = jnp.pad(image, ((pad_y, pad_y), (pad_x, pad_x), (0, 0)))
    start = (pad_y - shift_yx[0], pad_x - shift_yx[1], 0)
    return jax.lax.dynamic_slice(padded, start, image.shape)


def augment_sample(key, views: dict, max_shift_fraction: float, flow_key: str = "flow") -> dict:
    """Mirror and translate every view of one sample with the same draw."""
    k_flip, k_shift = jax.random.split(key)
    flip = jax.random.bernoulli(k_flip)
    fraction = jax.random.uniform(k_shift, (2,), minval=-max_shift_fraction,
                                  maxval=max_shift_fraction)
    out = {}
    for name, image in views.items():
        mirrored = image[:, ::-1, :]
        if name == flow_key:
            mirrored = mirrored.at[..., 0].multiply(-1.0)
        image = jnp.where(flip, mirrored, image)
        shift = jnp.round(fraction * jnp.array(image.shape[:2])).astype(jnp.int32)
        out[name] = _translate(image, shift)
    return out


def augment_batch(key, views: dict, max_shift_fraction: float) -> dict:
    keys = jax.random.split(key, next(iter(views.values())).shape[0])
    return jax.vmap(lambda k, v: augment_sample(k, v, max_shift_fraction))(keys, views)
