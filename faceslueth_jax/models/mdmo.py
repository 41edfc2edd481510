"""MDMO, the main directional mean optical flow (Liu et al., IEEE TAC 2016), and a
linear classifier on it.

The onset-to-apex flow (u, v) less its per-sample median (the face's common shift,
which also centres flow stored min-max normalised) is cut into a G x G grid of regions
(the records keep no landmarks, so the grid stands where the paper places 36 regions
from facial points). In region r every vector has a magnitude rho and an angle
theta = atan2(v, u), binned into 8 directions of 45 degrees; the main direction b_r is
the bin holding the most vectors (the first on a tie) and

    rho_r   = mean of rho over region r's vectors in bin b_r
    theta_r = mean of theta over the same vectors

MDMO = (rho_r / max_r' rho_r', theta_r) over the regions. The feature here writes the
pair as the vector rho_r / max rho * (cos theta_r, sin theta_r): the same information,
in a form a linear classifier can read without the angle's wrap at +-pi. A clip's
single onset-apex flow takes the place of the paper's mean over frames.

``MDMO`` is that fixed feature and one dense layer (trained like any model in the
project, so it predicts through the model folder); the classifier the field reports,
a logistic regression whose L2 an inner CV chooses, is ``baseline.features='mdmo'``.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from faceslueth_jax.models import field_checks

BINS = 8
GRID = 6  # 36 regions, as many as the paper's


def region_index(height: int, width: int, grid: int) -> np.ndarray:
    """(H, W) region number r = grid * row + column of a grid x grid cut of the image."""
    rows = np.arange(height) * grid // height
    cols = np.arange(width) * grid // width
    return rows[:, None] * grid + cols[None, :]


def histograms(index, length: int, weights=None):
    """(B, P) bin numbers in 0..length-1 -> (B, length) per-sample counts (or sums of
    ``weights``, (B, P))."""
    if weights is None:
        return jax.vmap(lambda i: jnp.bincount(i, length=length))(index).astype(jnp.float32)
    return jax.vmap(lambda i, w: jnp.bincount(i, w, length=length))(index, weights)


def features(flow, grid: int = GRID):
    """(B, H, W, >=2) flow (u, v first) -> (B, 2 grid^2) MDMO vectors (module docs)."""
    u, v = flow[..., 0], flow[..., 1]
    u = u - jnp.median(u, axis=(1, 2), keepdims=True)
    v = v - jnp.median(v, axis=(1, 2), keepdims=True)
    rho, theta = jnp.hypot(u, v), jnp.arctan2(v, u)
    direction = jnp.clip(jnp.floor((theta + jnp.pi) / (2 * jnp.pi / BINS)), 0, BINS - 1)
    region = jnp.asarray(region_index(u.shape[1], u.shape[2], grid))
    cell = (region * BINS + direction.astype(jnp.int32)).reshape(u.shape[0], -1)  # (B, HW)
    cells = grid * grid * BINS
    count = histograms(cell, cells).reshape(-1, grid * grid, BINS)
    rho_sum = histograms(cell, cells, rho.reshape(u.shape[0], -1))
    theta_sum = histograms(cell, cells, theta.reshape(u.shape[0], -1))
    main = jnp.argmax(count, axis=-1)[..., None]  # (B, R, 1)
    n = jnp.maximum(jnp.take_along_axis(count, main, -1)[..., 0], 1)
    mean_rho = jnp.take_along_axis(rho_sum.reshape(count.shape), main, -1)[..., 0] / n
    mean_theta = jnp.take_along_axis(theta_sum.reshape(count.shape), main, -1)[..., 0] / n
    scale = jnp.maximum(mean_rho.max(axis=-1, keepdims=True), 1e-12)
    rho_hat = mean_rho / scale
    return jnp.concatenate([rho_hat * jnp.cos(mean_theta), rho_hat * jnp.sin(mean_theta)], -1)


class MDMO(nn.Module):
    num_classes: int
    grid: int = GRID

    @nn.compact
    def __call__(self, views: dict, *, train: bool):
        del train
        return nn.Dense(self.num_classes, name="classifier")(features(views["flow"], self.grid))


def from_config(cfg, num_classes: int) -> MDMO:
    """MDMO from ``model.mdmo`` (grid)."""
    return MDMO(num_classes=num_classes, grid=int(cfg.get("grid", GRID)))


def check_config(cfg) -> None:
    """``model.mdmo.grid``: an integer >= 1."""
    field_checks.positive_ints("model.mdmo", grid=cfg.get("grid", GRID))
