"""TV-L1 optical flow in pure JAX (jit-compilable, vmap-batchable).

Method of Zach, Pock & Bischof (2007) in the form of Sánchez, Meinhardt-Llopis
& Facciolo, "TV-L1 Optical Flow Estimation", IPOL 2013 (the scheme followed by
OpenCV's DualTVL1).

Conventions: images are grey float32 (H, W) on a 0..255 scale; the flow
w = (u, v) is returned as (H, W, 2), u along x (columns, positive right), v
along y (rows, positive down), such that I1(x + w(x)) ≈ I0(x).

Energy. With I1 linearised around the current estimate w0,

    rho(w) = I1(x + w0) + grad I1(x + w0) . (w - w0) - I0(x),
    E(w)   = sum_x |grad u| + |grad v| + lambda |rho(w)|,

and, introducing an auxiliary field v_aux close to w,

    E(w, v_aux) = sum_x |grad u| + |grad v| + 1/(2 theta) |w - v_aux|^2
                  + lambda |rho(v_aux)|.

It is minimised by alternating three steps until the mean squared update of w
falls below epsilon^2 (or max_inner_iterations is reached):

1. Thresholding (pointwise minimisation over v_aux), with g = grad I1(x + w0):

       v_aux = w + lambda theta g               if rho(w) < -lambda theta |g|^2
       v_aux = w - lambda theta g               if rho(w) >  lambda theta |g|^2
       v_aux = w - rho(w) g / |g|^2             otherwise.

2. Primal update, per flow component d in {u, v} with dual field p_d:

       d = v_aux_d + theta div(p_d).

3. Dual update (Chambolle's fixed point, projected onto |p_d| <= 1):

       p_d <- (p_d + tau/theta grad d) / (1 + tau/theta |grad d|).

``grad`` is the forward difference and ``div`` its negative adjoint, both with
Neumann boundary conditions. The linearisation is refreshed ``num_warps``
times per scale, coarse to fine over a Gaussian pyramid of ratio ``zoom``;
the flow is upsampled bilinearly between scales and rescaled by the size
ratio (1/zoom for exactly divisible sizes). Dual variables restart at zero on
every scale, as in the IPOL implementation.
"""

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
from jax import lax

from faceslueth_jax.preprocess.strain import optical_strain

_MIN_PYRAMID_SIDE = 16
_GRAD_IS_ZERO = 1e-10


@dataclasses.dataclass(frozen=True)
class TVL1Params:
    """TV-L1 hyper-parameters. tau, lambda, theta, scales, warps and epsilon are
    OpenCV DualTVL1's defaults; the pyramid ratio (0.5), the inner-iteration cap
    and the pre-smoothing follow the IPOL implementation. Hashable, so usable as
    a static jit argument.

    Attributes:
      tau: dual time step (<= 0.25 for stability).
      lambda_: weight of the data term (for 0..255 images).
      theta: coupling weight between w and the auxiliary field.
      num_scales: maximum pyramid depth (the coarsest side stays >= 16 px).
      num_warps: re-linearisations of I1 per scale.
      epsilon: stop inner iterations when mean |w_new - w|^2 < epsilon^2.
      zoom: downsampling ratio between successive pyramid levels.
      max_inner_iterations: cap on inner iterations per warp.
      presmooth_sigma: Gaussian pre-smoothing of both inputs (0 disables).
    """

    tau: float = 0.25
    lambda_: float = 0.15
    theta: float = 0.3
    num_scales: int = 5
    num_warps: int = 5
    epsilon: float = 0.01
    zoom: float = 0.5
    max_inner_iterations: int = 50
    presmooth_sigma: float = 0.8


# --------------------------------------------------------------------------
# Sampling and filtering.
# --------------------------------------------------------------------------


def _bilinear(img: jnp.ndarray, x: jnp.ndarray, y: jnp.ndarray) -> jnp.ndarray:
    """Bilinear samples of ``img`` (H, W, ...) at float pixel coordinates
    (x = column, y = row), coordinates clamped to the image (edge extension)."""
    h, w = img.shape[:2]
    x = jnp.clip(x, 0.0, w - 1.0)
    y = jnp.clip(y, 0.0, h - 1.0)
    x0 = jnp.clip(jnp.floor(x), 0, max(w - 2, 0)).astype(jnp.int32)
    y0 = jnp.clip(jnp.floor(y), 0, max(h - 2, 0)).astype(jnp.int32)
    x1 = jnp.minimum(x0 + 1, w - 1)
    y1 = jnp.minimum(y0 + 1, h - 1)
    channel_axes = (1,) * (img.ndim - 2)  # broadcast weights over channels
    fx = (x - x0).reshape(x.shape + channel_axes)
    fy = (y - y0).reshape(y.shape + channel_axes)
    top = img[y0, x0] * (1 - fx) + img[y0, x1] * fx
    bottom = img[y1, x0] * (1 - fx) + img[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def _resize(img: jnp.ndarray, shape: tuple[int, int]) -> jnp.ndarray:
    """Bilinear resize of (H, W, ...) to ``shape`` with pixel centres aligned:
    target pixel i samples source coordinate (i + 0.5) * H_src / H_dst - 0.5."""
    h, w = img.shape[:2]
    ys = (jnp.arange(shape[0], dtype=jnp.float32) + 0.5) * (h / shape[0]) - 0.5
    xs = (jnp.arange(shape[1], dtype=jnp.float32) + 0.5) * (w / shape[1]) - 0.5
    yy, xx = jnp.meshgrid(ys, xs, indexing="ij")
    return _bilinear(img, xx, yy)


def _gaussian_blur(img: jnp.ndarray, sigma: float) -> jnp.ndarray:
    """Separable Gaussian blur of (H, W), radius ceil(3 sigma), symmetric
    (mirror) boundary."""
    radius = max(1, math.ceil(3.0 * sigma))
    taps = [math.exp(-0.5 * (k / sigma) ** 2) for k in range(-radius, radius + 1)]
    taps = [t / sum(taps) for t in taps]
    for axis in (0, 1):
        n = img.shape[axis]
        pad = [(0, 0), (0, 0)]
        pad[axis] = (radius, radius)
        padded = jnp.pad(img, pad, mode="symmetric")
        img = sum(t * lax.slice_in_dim(padded, k, k + n, axis=axis) for k, t in enumerate(taps))
    return img


def _pyramid_shapes(shape: tuple[int, int], params: TVL1Params) -> list[tuple[int, int]]:
    """Level shapes, finest first; stops before a side would drop below 16 px."""
    shapes = [shape]
    while len(shapes) < params.num_scales:
        h, w = (int(s * params.zoom + 0.5) for s in shapes[-1])
        if min(h, w) < _MIN_PYRAMID_SIDE:
            break
        shapes.append((h, w))
    return shapes


def _pyramid(img: jnp.ndarray, shapes: list[tuple[int, int]], zoom: float) -> list[jnp.ndarray]:
    """Gaussian pyramid: each level is the previous one blurred with
    sigma = 0.6 sqrt(1/zoom^2 - 1) (anti-aliasing, as IPOL) and resized."""
    sigma = 0.6 * math.sqrt(1.0 / zoom**2 - 1.0)
    levels = [img]
    for shape in shapes[1:]:
        levels.append(_resize(_gaussian_blur(levels[-1], sigma), shape))
    return levels


def _upsample_flow(flow: jnp.ndarray, shape: tuple[int, int]) -> jnp.ndarray:
    """Resize a (2, h, w) flow to ``shape`` and scale each component by the
    size ratio along its axis (= 1/zoom when sizes divide exactly)."""
    _, h, w = flow.shape
    resized = _resize(jnp.moveaxis(flow, 0, -1), shape)
    scale = jnp.array([shape[1] / w, shape[0] / h], dtype=flow.dtype)
    return jnp.moveaxis(resized * scale, -1, 0)


# --------------------------------------------------------------------------
# Differential operators (on the last two axes: rows = y, columns = x).
# --------------------------------------------------------------------------


def _centered_gradient(img: jnp.ndarray) -> jnp.ndarray:
    """(2, H, W) = (dI/dx, dI/dy) by central differences (one-sided at borders)."""
    d_dy, d_dx = jnp.gradient(img)
    return jnp.stack([d_dx, d_dy])


def _forward_gradient(f: jnp.ndarray) -> jnp.ndarray:
    """Forward differences of (..., H, W) -> (..., 2, H, W) as (d/dx, d/dy);
    zero on the last column / row (Neumann)."""
    dx = jnp.diff(f, axis=-1, append=f[..., -1:])
    dy = jnp.diff(f, axis=-2, append=f[..., -1:, :])
    return jnp.stack([dx, dy], axis=-3)


def _divergence(p: jnp.ndarray) -> jnp.ndarray:
    """Divergence of (..., 2, H, W) -> (..., H, W), the negative adjoint of
    ``_forward_gradient``: backward differences with p treated as zero outside
    the image and on its last column (x part) / last row (y part)."""
    px = p[..., 0, :, :].at[..., :, -1].set(0.0)
    py = p[..., 1, :, :].at[..., -1, :].set(0.0)
    div_x = jnp.diff(px, axis=-1, prepend=jnp.zeros_like(px[..., :, :1]))
    div_y = jnp.diff(py, axis=-2, prepend=jnp.zeros_like(py[..., :1, :]))
    return div_x + div_y


# --------------------------------------------------------------------------
# Solver.
# --------------------------------------------------------------------------


def _threshold(w, rho, grad, grad_sq, lambda_theta):
    """Step 1: v_aux = w + c g with c = lambda theta, -lambda theta or
    -rho/|g|^2 according to rho vs. +-lambda theta |g|^2."""
    band = lambda_theta * grad_sq
    inside = jnp.where(grad_sq > _GRAD_IS_ZERO, -rho / jnp.maximum(grad_sq, _GRAD_IS_ZERO), 0.0)
    coeff = jnp.where(rho < -band, lambda_theta, jnp.where(rho > band, -lambda_theta, inside))
    return w + coeff * grad


def _dual_step(p, w, tau_theta):
    """Step 3: p <- (p + tau/theta grad w) / (1 + tau/theta |grad w|), per component."""
    g = _forward_gradient(w)  # (2 comps, 2 dirs, H, W)
    norm = jnp.sqrt(jnp.sum(g**2, axis=1, keepdims=True))
    return (p + tau_theta * g) / (1.0 + tau_theta * norm)


def _inner_iterations(w, p, i0, warped, params: TVL1Params):
    """Iterate thresholding / primal / dual updates for a fixed linearisation
    until the mean squared update < epsilon^2 or max_inner_iterations."""
    i1w, grad = warped[0], warped[1:]
    grad_sq = jnp.sum(grad**2, axis=0)
    rho_const = i1w - jnp.sum(grad * w, axis=0) - i0  # rho(w) = rho_const + g . w
    lambda_theta = params.lambda_ * params.theta
    tau_theta = params.tau / params.theta

    def cond(state):
        _, _, n, err = state
        return (n < params.max_inner_iterations) & (err > params.epsilon**2)

    def body(state):
        w, p, n, _ = state
        rho = rho_const + jnp.sum(grad * w, axis=0)
        v_aux = _threshold(w, rho, grad, grad_sq, lambda_theta)
        w_new = v_aux + params.theta * _divergence(p)
        err = jnp.mean(jnp.sum((w_new - w) ** 2, axis=0))
        return w_new, _dual_step(p, w_new, tau_theta), n + 1, err

    init = (w, p, jnp.int32(0), jnp.asarray(jnp.inf, w.dtype))
    w, p, _, _ = lax.while_loop(cond, body, init)
    return w, p


def _solve_scale(i0, i1, w, params: TVL1Params):
    """Refine the (2, H, W) flow ``w`` on one pyramid level with num_warps
    re-linearisations of I1 (and its gradient) around the current flow."""
    h, wd = i0.shape
    yy, xx = jnp.meshgrid(jnp.arange(h, dtype=jnp.float32), jnp.arange(wd, dtype=jnp.float32), indexing="ij")
    # I1 and its gradient as channels, warped together: (H, W, 3).
    i1_stack = jnp.concatenate([i1[None], _centered_gradient(i1)], axis=0).transpose(1, 2, 0)
    p = jnp.zeros((2, 2, h, wd), w.dtype)

    def warp_step(_, carry):
        w, p = carry
        warped = _bilinear(i1_stack, xx + w[0], yy + w[1]).transpose(2, 0, 1)
        return _inner_iterations(w, p, i0, warped, params)

    w, _ = lax.fori_loop(0, params.num_warps, warp_step, (w, p))
    return w


def _tvl1(i0: jnp.ndarray, i1: jnp.ndarray, params: TVL1Params) -> jnp.ndarray:
    """Coarse-to-fine TV-L1 flow (H, W, 2) for one pair (unjitted)."""
    i0 = jnp.asarray(i0, jnp.float32)
    i1 = jnp.asarray(i1, jnp.float32)
    if params.presmooth_sigma > 0:
        i0 = _gaussian_blur(i0, params.presmooth_sigma)
        i1 = _gaussian_blur(i1, params.presmooth_sigma)
    shapes = _pyramid_shapes(i0.shape, params)
    pyr0 = _pyramid(i0, shapes, params.zoom)
    pyr1 = _pyramid(i1, shapes, params.zoom)

    w = jnp.zeros((2, *shapes[-1]), jnp.float32)
    for level in reversed(range(len(shapes))):
        if w.shape[1:] != shapes[level]:
            w = _upsample_flow(w, shapes[level])
        w = _solve_scale(pyr0[level], pyr1[level], w, params)
    return jnp.moveaxis(w, 0, -1)


# --------------------------------------------------------------------------
# Public API.
# --------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames="params")
def tvl1(i0: jnp.ndarray, i1: jnp.ndarray, params: TVL1Params = TVL1Params()) -> jnp.ndarray:
    """TV-L1 flow from ``i0`` (H, W) to ``i1`` (H, W), 0..255 grey.

    Returns (H, W, 2) float32 flow (u, v) with I1(x + u, y + v) ≈ I0(x, y).
    """
    return _tvl1(i0, i1, params)


@functools.partial(jax.jit, static_argnames="params")
def tvl1_batch(i0s: jnp.ndarray, i1s: jnp.ndarray, params: TVL1Params = TVL1Params()) -> jnp.ndarray:
    """Batched ``tvl1``: (B, H, W) x (B, H, W) -> (B, H, W, 2). Under vmap the
    inner loops run until every pair has converged (finished pairs are frozen)."""
    return jax.vmap(lambda a, b: _tvl1(a, b, params))(i0s, i1s)


def _flow_uvs(i0, i1, params: TVL1Params) -> jnp.ndarray:
    flow = _tvl1(i0, i1, params)
    return jnp.concatenate([flow, optical_strain(flow)[..., None]], axis=-1)


@functools.partial(jax.jit, static_argnames="params")
def flow_uvs(i0: jnp.ndarray, i1: jnp.ndarray, params: TVL1Params = TVL1Params()) -> jnp.ndarray:
    """(H, W, 3) stack of TV-L1 u, v and their optical strain magnitude."""
    return _flow_uvs(i0, i1, params)


@functools.partial(jax.jit, static_argnames="params")
def flow_uvs_batch(i0s: jnp.ndarray, i1s: jnp.ndarray, params: TVL1Params = TVL1Params()) -> jnp.ndarray:
    """Batched ``flow_uvs``: (B, H, W) x (B, H, W) -> (B, H, W, 3)."""
    return jax.vmap(lambda a, b: _flow_uvs(a, b, params))(i0s, i1s)
