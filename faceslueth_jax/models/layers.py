"""Layers shared by the models."""

from __future__ import annotations

import contextlib
import contextvars
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from faceslueth_jax import batch_context


class BatchNorm(nn.Module):
    """BatchNorm with PyTorch's defaults (momentum 0.1 there = 0.9 here, eps 1e-5) and
    the variables of ``flax.linen.BatchNorm`` (params scale, bias; batch_stats mean,
    var), so converted reference weights and running statistics behave the same.

    Training: moments over the real samples only (``batch_context``; the batch's
    fillers are left out) and, with ``axis_name`` (a mapped axis a batch is
    split over), over every device's share, weighted by its count:

        n = sum_dev sum_i m_i,  mu = sum m x / n,  var = max(sum m x^2 / n - mu^2, 0)

    running <- momentum * running + (1 - momentum) * (mu, var). Evaluation uses the
    running moments. Either way y = (x - mu) * scale / sqrt(var + eps) + bias.
    """

    use_running_average: bool
    axis_name: str | None = None
    momentum: float = 0.9
    epsilon: float = 1e-5

    @nn.compact
    def __call__(self, x):
        features = x.shape[-1]
        ra_mean = self.variable("batch_stats", "mean", jnp.zeros, (features,), jnp.float32)
        ra_var = self.variable("batch_stats", "var", jnp.ones, (features,), jnp.float32)
        scale = self.param("scale", nn.initializers.ones, (features,), jnp.float32)
        bias = self.param("bias", nn.initializers.zeros, (features,), jnp.float32)
        if self.use_running_average:
            mean, var = ra_mean.value, ra_var.value
        else:
            mean, var = self._batch_moments(x)
            if not self.is_initializing():
                ra_mean.value = self.momentum * ra_mean.value + (1 - self.momentum) * mean
                ra_var.value = self.momentum * ra_var.value + (1 - self.momentum) * var
        mul = jax.lax.rsqrt(var + self.epsilon) * scale
        return (x - mean) * mul + bias

    def _batch_moments(self, x):
        axes = tuple(range(x.ndim - 1))
        batch = batch_context.current()
        if batch is None:
            weight = jnp.ones(x.shape[:1], jnp.float32)
        else:
            rows = x.shape[0] // batch.mask.shape[0]  # rows per sample, sample-major
            weight = jnp.repeat(jnp.asarray(batch.mask, jnp.float32), rows)
        weight = weight.reshape((-1,) + (1,) * (x.ndim - 1))
        x32 = x.astype(jnp.float32)
        per_sample = x[0].size // x.shape[-1]  # positions per sample and feature
        count = jnp.sum(weight) * per_sample
        sums = (jnp.sum(jnp.where(weight > 0, x32, 0.0), axes),
                jnp.sum(jnp.where(weight > 0, x32 * x32, 0.0), axes))
        if self.axis_name is not None and not self.is_initializing():
            count, sums = jax.lax.psum((count, sums), self.axis_name)
        mean = sums[0] / jnp.maximum(count, 1.0)
        var = jnp.maximum(sums[1] / jnp.maximum(count, 1.0) - mean * mean, 0.0)
        return mean, var


def batch_norm(train: bool, name: str, axis_name: str | None = None) -> BatchNorm:
    """``BatchNorm`` in training (batch moments) or evaluation (running moments) mode.

    ``axis_name``: a mapped axis over which one batch is split (data parallelism);
    the batch moments are then those of the whole batch."""
    return BatchNorm(use_running_average=not train, axis_name=axis_name, name=name)


def sample_keys(module: nn.Module, rows: int):
    """(rows, 2) keys, one per row of a batch: row r of sample i draws from
    fold_in(split(make_rng('dropout'), B)[offset + i], r mod k) with k rows per
    sample (``batch_context``), so no draw depends on how the batch is placed.
    Outside a training step: B = the local samples, offset 0."""
    base = module.make_rng("dropout")
    batch = batch_context.current()
    if batch is None:
        return jax.random.split(base, rows)
    local = batch.mask.shape[0]
    keys = jax.lax.dynamic_slice_in_dim(jax.random.split(base, batch.size), batch.offset, local)
    per_sample = rows // local
    return jax.vmap(lambda k: jax.vmap(lambda j: jax.random.fold_in(k, j))(
        jnp.arange(per_sample)))(keys).reshape(rows, -1)


class Dropout(nn.Module):
    """Element-wise dropout, x * m / (1 - rate) with m ~ Bernoulli(1 - rate); each
    row's mask from its own key (``sample_keys``). ``per_channel``: one draw per
    channel of an (B, H, W, C) map, the whole map kept or dropped (torch's Dropout2d)."""

    rate: float
    per_channel: bool = False

    @nn.compact
    def __call__(self, x, deterministic: bool):
        if deterministic or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        shape = (1,) * (x.ndim - 2) + x.shape[-1:] if self.per_channel else x.shape[1:]
        mask = jax.vmap(lambda k: jax.random.bernoulli(k, keep, shape))(
            sample_keys(self, x.shape[0]))
        return jnp.where(mask, x / keep, jnp.zeros_like(x))


class DropPath(nn.Module):
    """Stochastic depth: drop a row's whole residual branch, x / (1 - rate) or 0,
    each row from its own key (``sample_keys``)."""

    rate: float = 0.0

    @nn.compact
    def __call__(self, x, deterministic: bool):
        if deterministic or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        mask = jax.vmap(lambda k: jax.random.bernoulli(k, keep))(sample_keys(self, x.shape[0]))
        mask = mask.reshape((-1,) + (1,) * (x.ndim - 1))
        return jnp.where(mask, x / keep, jnp.zeros_like(x))


def matmul_2d(x, w):
    """x @ w over x's last axis, computed on x reshaped to (rows, features_in).

    The 2-D form makes the weight gradient w' = x^T dy one plain matmul; with the
    leading axes kept, XLA:CPU first copies x and dy into transposed layouts (what
    that cost the compact train step: ``bench/README.md``). ``Conv``'s matmul form,
    the Swin's patch embedding and ``FlatDense`` use it."""
    return (x.reshape(-1, x.shape[-1]) @ w).reshape(x.shape[:-1] + (w.shape[-1],))


class FlatDense(nn.Dense):
    """``nn.Dense`` (same variables) applied to x reshaped to (rows, features_in):
    y = x W + b over the last axis, 2-D for the reason given in ``matmul_2d``."""

    @nn.compact
    def __call__(self, x):
        y = super().__call__(x.reshape(-1, x.shape[-1]))
        return y.reshape(x.shape[:-1] + (y.shape[-1],))


CONV_IMPLS = ("auto", "xla", "matmul")
# What 'auto' means while a program is traced for a mesh: set by the trainer
# (``conv_formulation``) to the formulation it chose for the mesh's devices.
_FORMULATION: contextvars.ContextVar = contextvars.ContextVar("conv_formulation", default="")


@contextlib.contextmanager
def conv_formulation(impl: str):
    """While the block traces a model, a layer's ``impl='auto'`` means ``impl``."""
    if impl not in CONV_IMPLS[1:]:
        raise ValueError(f"conv formulation must be one of {CONV_IMPLS[1:]}, got {impl!r}")
    token = _FORMULATION.set(impl)
    try:
        yield
    finally:
        _FORMULATION.reset(token)


def platform_conv_impl(platform: str) -> str:
    """The rule without a measurement: 'matmul' on CPU, 'xla' elsewhere."""
    return "matmul" if platform == "cpu" else "xla"


def resolve_conv_impl(impl: str) -> str:
    """'auto' -> the trainer's ``conv_formulation`` while it traces, else 'matmul' on
    CPU and 'xla' elsewhere (``platform_conv_impl``); 'xla' and 'matmul' as given.

    On XLA:CPU a train step inside the epoch's rolled ``lax.scan`` is several times
    faster with matmuls than with lax convolutions, which there fall back from YNNPACK
    to a slow generic kernel (``bench/README.md``); cuDNN and the TPU run lax
    convolutions well."""
    if impl not in CONV_IMPLS:
        raise ValueError(f"conv impl must be one of {CONV_IMPLS}, got {impl!r}")
    if impl == "auto":
        return _FORMULATION.get() or platform_conv_impl(jax.default_backend())
    return impl


class Conv(nn.Module):
    """k x k convolution, stride s, zero padding p (default k // 2) on each side (NHWC), with
    ``nn.Conv``'s variables (kernel (k, k, C, O), optional bias (O,)) and initialiser.

    ``impl='xla'``: ``lax.conv_general_dilated``. ``impl='matmul'``: one matrix
    product over the k*k shifted (strided) copies of the input,

        y[b, i, j] = sum_{di, dj} xpad[b, s i + di, s j + dj] @ kernel[di, dj] (+ bias),

    the same sum in another order. XLA:CPU runs small-channel convolutions far below
    its matmul speed, and under ``vmap`` over folds (per-fold kernels) a convolution
    becomes a grouped convolution while this becomes one batched matmul.
    ``impl='auto'`` (``resolve_conv_impl``): 'matmul' on CPU, 'xla' elsewhere.
    """

    features: int
    kernel_size: int = 3
    stride: int = 1
    use_bias: bool = False
    impl: str = "auto"
    kernel_init: Callable = nn.initializers.lecun_normal()
    bias_init: Callable = nn.initializers.zeros
    padding: int | None = None  # None: k // 2 ('SAME' for odd k and stride 1)

    @nn.compact
    def __call__(self, x):
        k, s, c = self.kernel_size, self.stride, x.shape[-1]
        kernel = self.param("kernel", self.kernel_init, (k, k, c, self.features))
        pad = k // 2 if self.padding is None else self.padding
        impl = resolve_conv_impl(self.impl)
        if impl == "xla":
            y = jax.lax.conv_general_dilated(
                x, kernel, window_strides=(s, s), padding=((pad, pad), (pad, pad)),
                dimension_numbers=("NHWC", "HWIO", "NHWC"))
        else:
            y = matmul_2d(shifted_copies(x, k, s, pad), kernel.reshape(k * k * c, self.features))
        if self.use_bias:
            y = y + self.param("bias", self.bias_init, (self.features,))
        return y


def shifted_copies(x, k: int, stride: int = 1, pad: int | None = None):
    """(B, H, W, C) -> (B, H', W', k*k*C): the k*k shifted copies of x zero-padded by
    ``pad`` (default k // 2), sampled every ``stride`` pixels, in kernel order (di, dj, c)."""
    b, h, w, c = x.shape
    pad = k // 2 if pad is None else pad
    if k == 1 and stride == 1 and pad == 0:
        return x
    xp = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    ho, wo = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    copies = [xp[:, i:i + stride * (ho - 1) + 1:stride, j:j + stride * (wo - 1) + 1:stride]
              for i in range(k) for j in range(k)]
    return copies[0] if len(copies) == 1 else jnp.concatenate(copies, axis=-1)


def depthwise_3x3(x, kernel):
    """Depthwise 3x3 filtering of NHWC x by one (3, 3) kernel shared by every channel,
    zero padding 1: y = sum_{di, dj} kernel[di, dj] * xpad[:, i + di, j + dj, :], as
    nine multiply-adds, one fused element-wise pass everywhere. (As a depthwise
    convolution it was a large share of the compact train step on CPU:
    ``bench/README.md``, "The compact composite sweep".)"""
    _, h, w, _ = x.shape
    xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    y = None
    for i in range(3):
        for j in range(3):
            term = kernel[i, j] * xp[:, i:i + h, j:j + w]
            y = term if y is None else y + term
    return y
