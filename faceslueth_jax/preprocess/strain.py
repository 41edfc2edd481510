"""Optical strain: magnitude of the infinitesimal strain tensor of a flow field.

For a displacement field (u, v) the infinitesimal (small-deformation) strain
tensor is the symmetric part of its Jacobian,

    e = 1/2 (J + J^T),   e_xx = du/dx,   e_yy = dv/dy,   e_xy = (du/dy + dv/dx) / 2,

and the optical strain is its Frobenius norm

    |e| = sqrt(e_xx^2 + e_yy^2 + 2 e_xy^2).

Derivatives are central differences in the interior and one-sided first-order
differences at the borders (as ``np.gradient``), with unit pixel spacing.
"""

import jax.numpy as jnp


def optical_strain(flow: jnp.ndarray) -> jnp.ndarray:
    """Optical strain magnitude of ``flow``.

    Args:
      flow: (..., H, W, 2) displacement in pixels; channel 0 = u (along x,
        columns), channel 1 = v (along y, rows). Leading batch axes allowed.

    Returns:
      (..., H, W) array sqrt(e_xx^2 + e_yy^2 + 2 e_xy^2).
    """
    u, v = flow[..., 0], flow[..., 1]
    du_dy, du_dx = jnp.gradient(u, axis=(-2, -1))
    dv_dy, dv_dx = jnp.gradient(v, axis=(-2, -1))
    e_xy = 0.5 * (du_dy + dv_dx)
    return jnp.sqrt(du_dx**2 + dv_dy**2 + 2.0 * e_xy**2)
