"""Single-Orientation Attention (SOA): one learnable angle per layer.

The angle is stored as an unnormalised 2-vector ``orientation = (a, b)`` (as the
PyTorch reference does) and read as

    theta = atan2(b, a)  mapped into [0, pi)   (theta + pi when negative).

Two modes share the residual body, the squeeze/excite and the carried attention:

``steerable`` (default)
    A rotated first-derivative filter, built from theta inside the jitted program,

        k_theta = cos(theta) * G_x + sin(theta) * G_y,

    (G_x, G_y: 3x3 Sobel derivative kernels, so k_theta is exactly the derivative
    along the unit vector (cos theta, sin theta) and is differentiable in theta).
    It is applied depthwise; the orientation energy e = |x * k_theta| (B,H,W,C)
    drives w = sigmoid(W_2 relu(W_1 e)) with 1x1 convolutions W_1, W_2. The map
    keeps full spatial resolution: a (B,H,W,C).

``reference``
    The PyTorch reference's rotate-and-pool: the map is resampled on the grid
    rotated by theta (``affine_grid`` with [[cos, sin, 0], [-sin, cos, 0]],
    ``grid_sample`` bilinear, zero padding, align_corners=False) and averaged
    over width, giving (B,H,1,C); w = sigmoid(W_2 relu(W_1 pool(x))). The map is
    never rotated back (the reference applies it as a row profile).

In both modes the attention is multiplied with the map carried from the
previous stage, a = w * a_prev, and the block returns (features * a, a).

``none`` (the ablation): the residual body alone, no angle, no attention; the
block returns (features, None).
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from faceslueth_jax.models.layers import Conv, batch_norm, depthwise_3x3

# The parameter that holds each SOA block's angle as a 2-vector (cos t, sin t), and
# the angle it starts from.
ORIENTATION = "orientation"
THETA_INIT_DEG = 72.0
SOA_MODES = ("steerable", "reference", "none")
SOBEL_X = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], np.float32) / 8.0
SOBEL_Y = SOBEL_X.T


def orientation_angle(vec: jax.Array) -> jax.Array:
    """theta = atan2(b, a) of the 2-vector, shifted by +pi when negative: [0, pi)."""
    unit = vec / jnp.linalg.norm(vec)
    theta = jnp.arctan2(unit[1], unit[0])
    return theta + jnp.where(theta < 0, math.pi, 0.0)


def orientation_init(theta_deg: float):
    """Initialiser of the 2-vector parameter: (cos t0, sin t0)."""
    t0 = math.radians(theta_deg)

    def init(_key, shape=(2,), dtype=jnp.float32):
        del shape
        return jnp.array([math.cos(t0), math.sin(t0)], dtype)

    return init


def steerable_derivative(x: jax.Array, vec: jax.Array) -> jax.Array:
    """Depthwise derivative of NHWC ``x`` along the unit vector of ``vec``:
    k = (a G_x + b G_y) / |(a, b)|, zero padding ('SAME'), as nine multiply-adds
    (``layers.depthwise_3x3``)."""
    unit = vec / jnp.linalg.norm(vec)
    kernel = unit[0] * SOBEL_X + unit[1] * SOBEL_Y  # (3, 3)
    return depthwise_3x3(x, kernel.astype(x.dtype))


def _reference_base_coords(n: int) -> np.ndarray:
    """(2k+1)/n - 1 for k < n, rounded exactly as PyTorch's ``affine_grid`` rounds it.

    PyTorch forms linspace(-1, 1, n) with fused multiply-adds (-1 + k*step for
    the first half, 1 - (n-1-k)*step for the second, step = 2/(n-1) in float32),
    then multiplies by (n - 1) and divides by n in float32. Where rotated
    samples land exactly on pixel centres (theta = 0, pi/2) the bilinear
    derivative is one-sided, so matching the reference's d/dtheta needs the
    same last-bit rounding (checked against torch 2.13 for n = 2..399).
    """
    if n == 1:
        return np.zeros(1, np.float32)
    k = np.arange(n)
    step = np.float64(np.float32(2.0) / np.float32(n - 1))
    lin = np.where(k < n // 2, -1.0 + step * k, 1.0 - step * (n - 1 - k)).astype(np.float32)
    return (lin * np.float32(n - 1)).astype(np.float32) / np.float32(n)


def reference_orientation_pool(x: jax.Array, theta: jax.Array) -> jax.Array:
    """The reference rotate-and-pool on NHWC ``x``: (B,H,W,C) -> (B,H,1,C).

    Output pixel (i, j) has normalised coordinates x_n = (2j+1)/W - 1,
    y_n = (2i+1)/H - 1 and samples the input at

        g_x = cos(t) x_n + sin(t) y_n,   g_y = -sin(t) x_n + cos(t) y_n,

    i.e. pixel position p_x = (g_x + 1) W/2 - 1/2, p_y = (g_y + 1) H/2 - 1/2,
    with bilinear weights and zeros outside the map; the result is averaged
    over j (the width).
    """
    _, h, w, _ = x.shape
    dtype = x.dtype
    yn, xn = np.meshgrid(_reference_base_coords(h), _reference_base_coords(w), indexing="ij")
    xn, yn = jnp.asarray(xn, dtype), jnp.asarray(yn, dtype)  # (H, W)
    cos_t, sin_t = jnp.cos(theta).astype(dtype), jnp.sin(theta).astype(dtype)
    # Un-normalised as PyTorch's CPU grid sampler does: (g + 1) * (n / 2) - 0.5.
    px = (cos_t * xn + sin_t * yn + 1.0) * (w / 2.0) - 0.5
    py = (-sin_t * xn + cos_t * yn + 1.0) * (h / 2.0) - 0.5

    x0, y0 = jnp.floor(px), jnp.floor(py)
    fx, fy = px - x0, py - y0
    x0, y0 = x0.astype(jnp.int32), y0.astype(jnp.int32)
    sampled = jnp.zeros(x.shape, dtype)
    for dy, wy in ((0, 1.0 - fy), (1, fy)):
        for dx, wx in ((0, 1.0 - fx), (1, fx)):
            xi, yi = x0 + dx, y0 + dy
            inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
            gathered = x[:, jnp.clip(yi, 0, h - 1), jnp.clip(xi, 0, w - 1), :]
            weight = jnp.where(inside, wx * wy, 0.0)
            sampled = sampled + gathered * weight[None, :, :, None]
    return jnp.mean(sampled, axis=2, keepdims=True)


class SOABlock(nn.Module):
    """Residual block followed by single-orientation attention (none with mode 'none').

    body:  y = relu(BN(conv1x1(relu(BN(conv3x3_s(x))))) + shortcut(x)),
           shortcut = BN(conv1x1_s(x)) when stride or width change, else x.
    attention (see module docstring): a = w(y; theta) * a_prev;  out = y * a.
    """

    features: int
    stride: int = 1
    mode: str = "steerable"
    theta_init_deg: float = THETA_INIT_DEG
    reduction: int = 16
    batch_axis: str | None = None  # see layers.batch_norm
    conv_impl: str = "auto"        # see layers.Conv

    @nn.compact
    def __call__(self, x, a_prev=None, *, train: bool):
        norm = lambda name: batch_norm(train, name, self.batch_axis)
        conv = lambda k, s, name, features=self.features: Conv(
            features, k, s, impl=self.conv_impl, name=name)
        y = nn.relu(norm("bn1")(conv(3, self.stride, "conv3x3")(x)))
        y = norm("bn2")(conv(1, 1, "conv1x1")(y))
        shortcut = x
        if self.stride != 1 or x.shape[-1] != self.features:
            shortcut = norm("shortcut_bn")(conv(1, self.stride, "shortcut_conv")(x))
        y = nn.relu(y + shortcut)
        if self.mode == "none":  # the ablation: a plain residual stage
            return y, None

        vec = self.param(ORIENTATION, orientation_init(self.theta_init_deg), (2,))
        if self.mode == "steerable":
            response = jnp.abs(steerable_derivative(y, vec))
        elif self.mode == "reference":
            response = reference_orientation_pool(y, orientation_angle(vec))
        else:
            raise ValueError(f"soa.mode must be one of {SOA_MODES}, got {self.mode!r}")
        hidden = max(8, self.features // self.reduction)
        w = conv(1, 1, "squeeze", hidden)(response)
        w = conv(1, 1, "excite")(nn.relu(w))
        a = nn.sigmoid(w)
        if a_prev is not None:
            a = a * a_prev
        self.sow("intermediates", "attention", a)  # kept only when asked (pictures)
        return y * a, a
