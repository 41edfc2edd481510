"""Compact Swin Transformer feature extractor (flax.linen, NHWC).

Follows Liu et al., "Swin Transformer: Hierarchical Vision Transformer using
Shifted Windows" (ICCV 2021). The module returns the final feature *map*
``(B, H', W', C')`` (no pooling, no classifier head) so the caller can fuse it
with a CNN feature map of the same shape.

Maths, per stage at resolution H x W with C channels:

* Patch embedding: a conv with kernel = stride = ``patch_size`` maps the image
  to ``(H/p, W/p, C)``, followed by LayerNorm.
* Window attention: the map is split into non-overlapping ``w x w`` windows of
  ``N = w*w`` tokens; inside each window and for each head (dim d = C/heads)

      Attn(X) = softmax(Q K^T / sqrt(d) + B + M) V,   Q, K, V = X W_qkv

  where ``B[i, j] = T[idx(i, j)]`` is read from a learned table ``T`` of shape
  ``((2w-1)^2, heads)`` via the relative offset of tokens i and j, and ``M``
  is the attention mask (0 or ``MASK_VALUE``; zero when absent).
* Shift: every second block cyclically rolls the map by ``-s`` (``s = w//2``)
  before windowing and by ``+s`` afterwards, so windows straddle the previous
  windows' borders. Tokens that only became neighbours through the cyclic
  wrap-around belong to different "regions"; ``M`` forbids attention between
  different regions. If ``min(H, W) <= w`` the window is shrunk to
  ``min(H, W)`` and the shift disabled (as in the official implementation).
* Block (pre-norm):  x = x + DropPath(Attn(LN(x)));  x = x + DropPath(MLP(LN(x)))
  with MLP = Linear(C, rC) -> GELU (exact) -> Linear(rC, C).
* Patch merging (after every stage but the last): the 2x2 neighbourhood
  ``[x(2i,2j), x(2i+1,2j), x(2i,2j+1), x(2i+1,2j+1)]`` is concatenated to 4C
  channels -> LayerNorm -> Linear(4C, 2C, no bias); resolution halves.
* A final LayerNorm over channels is applied to the last stage's output.

Padding: a feature map whose size is not a multiple of the window is padded
with zeros at the bottom/right *after* ``norm1``; padded tokens are masked out
as keys (their attention-mask entries are ``MASK_VALUE``) and the padded rows /
columns are cropped after attention, so real tokens never see them. Odd maps
are zero-padded before patch merging, and images not divisible by
``patch_size`` are zero-padded before the patch embedding (both as in the
official code).

Parameter names mirror the PyTorch Swin ``state_dict`` (``patch_embed.proj``,
``layers.i.blocks.j.norm1``, ``attn.qkv``, ``attn.proj``,
``attn.relative_position_bias_table``, ``norm2``, ``mlp.fc1``, ``mlp.fc2``,
``layers.i.downsample.reduction`` / ``.norm``, ``norm``) with ``.`` -> ``/``
and ``layers.i`` -> ``layers_i``, ``blocks.j`` -> ``blocks_j``. The relative
position index and the attention masks are numpy constants computed at trace
time from static shapes (they are buffers, not parameters, in PyTorch).
LayerNorm uses eps 1e-5 (the PyTorch default) for weight compatibility.

Initialisation (Swin convention): Linear weights and the bias table are
truncated-normal with std 0.02, Linear biases zero, LayerNorm scale 1 / bias 0.
The patch-embedding conv keeps flax's default initialiser.

All modules are pure (no Python-side state), so they work under ``jax.jit``
and under ``jax.vmap`` over a stacked leading axis of parameters.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from faceslueth_jax.models.layers import DropPath, FlatDense, matmul_2d, resolve_conv_impl

Dtype = Any

# Value added to forbidden attention logits (the official Swin uses -100).
MASK_VALUE = -100.0
LN_EPS = 1e-5

trunc_normal_init = nn.initializers.truncated_normal(stddev=0.02)
zeros_init = nn.initializers.zeros


def _dense(features: int, name: str, dtype: Dtype, use_bias: bool = True) -> nn.Dense:
    return FlatDense(features, use_bias=use_bias, dtype=dtype, param_dtype=jnp.float32,
                    kernel_init=trunc_normal_init, bias_init=zeros_init, name=name)


def _layer_norm(name: str, dtype: Dtype) -> nn.LayerNorm:
    return nn.LayerNorm(epsilon=LN_EPS, dtype=dtype, param_dtype=jnp.float32, name=name)


# --------------------------------------------------------------------------
# Static (numpy) helpers
# --------------------------------------------------------------------------

def window_partition(x, window_size: int):
    """(B, H, W, C) -> (B * nW, w*w, C); windows ordered row-major per image.

    Works on numpy and jax arrays; H and W must be multiples of ``window_size``.
    """
    B, H, W, C = x.shape
    w = window_size
    x = x.reshape(B, H // w, w, W // w, w, C)
    x = x.transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(B * (H // w) * (W // w), w * w, C)


def window_reverse(windows, window_size: int, H: int, W: int):
    """Inverse of :func:`window_partition`: (B * nW, w*w, C) -> (B, H, W, C)."""
    w = window_size
    C = windows.shape[-1]
    x = windows.reshape(-1, H // w, W // w, w, w, C)
    x = x.transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, H, W, C)


def relative_position_index(window_size: int) -> np.ndarray:
    """(N, N) int index into the ((2w-1)^2, heads) bias table, N = w*w.

    For tokens i=(hi, wi), j=(hj, wj): idx = (hi-hj+w-1)*(2w-1) + (wi-wj+w-1).
    """
    w = window_size
    coords = np.stack(np.meshgrid(np.arange(w), np.arange(w), indexing="ij"))  # (2, w, w)
    coords = coords.reshape(2, -1)  # (2, N)
    rel = coords[:, :, None] - coords[:, None, :] + (w - 1)  # (2, N, N) in [0, 2w-2]
    return (rel[0] * (2 * w - 1) + rel[1]).astype(np.int32)


def relative_position_bias(table, window_size: int):
    """(heads, N, N) bias B[:, i, j] = table[idx(i, j)], as one product with a constant
    one-hot matrix O (N*N, (2w-1)^2): B = O @ table. A gather would do the same
    forward, but its gradient is a scatter-add, whose float sums run in no fixed order
    on GPU; O^T @ dB is an ordinary (deterministic) product. 'highest' precision keeps
    the selection exact under any matmul precision."""
    n = window_size * window_size
    onehot = np.eye(table.shape[0], dtype=np.float32)[relative_position_index(window_size)
                                                       .reshape(-1)]
    bias = jnp.matmul(onehot, table, precision=jax.lax.Precision.HIGHEST)
    return bias.reshape(n, n, -1).transpose(2, 0, 1)


def compute_attention_mask(H: int, W: int, window_size: int, shift_size: int,
                           pad_h: int = 0, pad_w: int = 0) -> Optional[np.ndarray]:
    """Additive attention mask (nW, N, N) for a (possibly shifted, padded) map.

    ``H, W`` are the *padded* sizes (multiples of ``window_size``); the last
    ``pad_h`` rows / ``pad_w`` columns of the unshifted map are padding. The
    mask lives in the shifted frame (the one the windows are cut from). Entry
    (k, i, j) is ``MASK_VALUE`` when query i and key j of window k come from
    different shift regions, or key j is padding; otherwise 0. Returns None
    when nothing needs masking.
    """
    if shift_size == 0 and pad_h == 0 and pad_w == 0:
        return None
    w, s = window_size, shift_size
    region = np.zeros((1, H, W, 1), np.int32)
    if s > 0:
        cnt = 0
        for hs in (slice(0, H - w), slice(H - w, H - s), slice(H - s, H)):
            for ws in (slice(0, W - w), slice(W - w, W - s), slice(W - s, W)):
                region[:, hs, ws, :] = cnt
                cnt += 1
    valid = np.ones((H, W), bool)
    if pad_h:
        valid[H - pad_h:, :] = False
    if pad_w:
        valid[:, W - pad_w:] = False
    valid = np.roll(valid, (-s, -s), axis=(0, 1))[None, :, :, None]

    region_w = window_partition(region, w)[..., 0]  # (nW, N)
    valid_w = window_partition(valid, w)[..., 0]  # (nW, N)
    forbidden = (region_w[:, :, None] != region_w[:, None, :]) | ~valid_w[:, None, :]
    return np.where(forbidden, MASK_VALUE, 0.0).astype(np.float32)


# --------------------------------------------------------------------------
# Modules
# --------------------------------------------------------------------------

class PatchEmbed(nn.Module):
    """Conv(kernel=stride=patch) -> LayerNorm. (B, H, W, Cin) -> (B, H/p, W/p, C).

    ``conv_impl='matmul'``: the same projection as one matmul of each p x p patch
    (flattened in kernel order (row, column, channel)) with the kernel; 'auto' as
    ``layers.resolve_conv_impl``."""
    patch_size: int = 4
    embed_dim: int = 128
    dtype: Dtype = jnp.float32
    conv_impl: str = "auto"

    @nn.compact
    def __call__(self, x):
        p = self.patch_size
        _, H, W, _ = x.shape
        if H % p or W % p:
            x = jnp.pad(x, ((0, 0), (0, (-H) % p), (0, (-W) % p), (0, 0)))
        if resolve_conv_impl(self.conv_impl) == "matmul":
            x = _PatchMatmul(self.embed_dim, p, name="proj")(x)
        else:
            x = nn.Conv(self.embed_dim, (p, p), strides=(p, p), padding="VALID",
                        dtype=self.dtype, param_dtype=jnp.float32, name="proj")(x)
        return _layer_norm("norm", self.dtype)(x)


class _PatchMatmul(nn.Module):
    """nn.Conv(features, (p, p), strides=p, 'VALID')'s variables and result, as a matmul:
    y[b, i, j] = flatten(x[b, p i : p i + p, p j : p j + p]) @ kernel + bias."""
    features: int
    patch: int

    @nn.compact
    def __call__(self, x):
        b, h, w, c = x.shape
        p = self.patch
        kernel = self.param("kernel", nn.initializers.lecun_normal(), (p, p, c, self.features))
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        patches = x.reshape(b, h // p, p, w // p, p, c).transpose(0, 1, 3, 2, 4, 5)
        cols = patches.reshape(b, h // p, w // p, p * p * c)
        return matmul_2d(cols, kernel.reshape(-1, self.features)) + bias


class WindowAttention(nn.Module):
    """Multi-head self-attention inside windows with relative position bias.

    Input (B*nW, N, C) with N = window_size**2; ``mask`` is (nW, N, N) or None.
    """
    dim: int
    num_heads: int
    window_size: int
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x, mask: Optional[np.ndarray] = None):
        Bw, N, C = x.shape
        h, w = self.num_heads, self.window_size
        assert N == w * w and C == self.dim and C % h == 0, (x.shape, w, h)
        hd = C // h

        table = self.param("relative_position_bias_table", trunc_normal_init,
                           ((2 * w - 1) ** 2, h), jnp.float32)
        bias = relative_position_bias(table, w)  # (h, N, N)

        # (3, Bw, h, N, hd): batch dimensions leading, so both products are plain
        # batched matrix products (no transposes inside the dot on CPU)
        qkv = _dense(3 * C, "qkv", self.dtype)(x).reshape(Bw, N, 3, h, hd).transpose(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * (hd ** -0.5), qkv[1], qkv[2]
        logits = jnp.matmul(q, k.swapaxes(-1, -2)).astype(jnp.float32)
        logits = logits + bias[None]
        if mask is not None:
            nW = mask.shape[0]
            logits = logits.reshape(Bw // nW, nW, h, N, N) + jnp.asarray(mask)[None, :, None]
            logits = logits.reshape(Bw, h, N, N)
        attn = jax.nn.softmax(logits, axis=-1).astype(self.dtype)
        out = jnp.matmul(attn, v).transpose(0, 2, 1, 3).reshape(Bw, N, C)
        return _dense(C, "proj", self.dtype)(out)


class Mlp(nn.Module):
    hidden_dim: int
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x):
        C = x.shape[-1]
        x = _dense(self.hidden_dim, "fc1", self.dtype)(x)
        x = nn.gelu(x, approximate=False)
        return _dense(C, "fc2", self.dtype)(x)


class SwinBlock(nn.Module):
    """Pre-norm Swin block on a (B, H, W, C) map; ``shift`` selects SW-MSA."""
    dim: int
    num_heads: int
    window_size: int = 7
    shift: bool = False
    mlp_ratio: float = 4.0
    drop_path: float = 0.0
    dtype: Dtype = jnp.float32

    def effective_window(self, H: int, W: int):
        """(window, shift) actually used for an H x W map (static)."""
        w = self.window_size
        s = w // 2 if self.shift else 0
        if min(H, W) <= w:
            w, s = min(H, W), 0
        return w, s

    @nn.compact
    def __call__(self, x, train: bool):
        B, H, W, C = x.shape
        w, s = self.effective_window(H, W)
        drop = DropPath(self.drop_path)

        shortcut = x
        y = _layer_norm("norm1", self.dtype)(x)
        pad_h, pad_w = (-H) % w, (-W) % w
        if pad_h or pad_w:
            y = jnp.pad(y, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)))
        Hp, Wp = H + pad_h, W + pad_w
        if s:
            y = jnp.roll(y, (-s, -s), axis=(1, 2))
        mask = compute_attention_mask(Hp, Wp, w, s, pad_h, pad_w)
        y = window_partition(y, w)
        y = WindowAttention(C, self.num_heads, w, self.dtype, name="attn")(y, mask)
        y = window_reverse(y, w, Hp, Wp)
        if s:
            y = jnp.roll(y, (s, s), axis=(1, 2))
        y = y[:, :H, :W, :]
        x = shortcut + drop(y, deterministic=not train)

        y = _layer_norm("norm2", self.dtype)(x)
        y = Mlp(int(C * self.mlp_ratio), self.dtype, name="mlp")(y)
        return x + drop(y, deterministic=not train)


class PatchMerging(nn.Module):
    """2x2 concat -> LayerNorm -> Linear(4C, 2C, no bias). Halves H and W."""
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x):
        B, H, W, C = x.shape
        if H % 2 or W % 2:
            x = jnp.pad(x, ((0, 0), (0, H % 2), (0, W % 2), (0, 0)))
        x = jnp.concatenate([x[:, 0::2, 0::2], x[:, 1::2, 0::2],
                             x[:, 0::2, 1::2], x[:, 1::2, 1::2]], axis=-1)
        x = _layer_norm("norm", self.dtype)(x)
        return _dense(2 * C, "reduction", self.dtype, use_bias=False)(x)


class SwinStage(nn.Module):
    """``depth`` blocks (alternating W-MSA / SW-MSA), then optional merging."""
    dim: int
    depth: int
    num_heads: int
    window_size: int = 7
    mlp_ratio: float = 4.0
    drop_path: Sequence[float] = ()
    downsample: bool = False
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool):
        dp = tuple(self.drop_path) or (0.0,) * self.depth
        for j in range(self.depth):
            x = SwinBlock(self.dim, self.num_heads, self.window_size, shift=(j % 2 == 1),
                          mlp_ratio=self.mlp_ratio, drop_path=dp[j], dtype=self.dtype,
                          name=f"blocks_{j}")(x, train)
        if self.downsample:
            x = PatchMerging(self.dtype, name="downsample")(x)
        return x


class SwinTransformer(nn.Module):
    """Swin feature extractor: (B, H, W, Cin) -> (B, H', W', C') feature map.

    H' = H / (patch_size * 2**(len(depths)-1)), C' = embed_dim * 2**(len(depths)-1)
    (for sizes that divide evenly).
    """
    patch_size: int = 4
    embed_dim: int = 128
    depths: Sequence[int] = (2, 2, 6)
    num_heads: Sequence[int] = (4, 8, 16)
    window_size: int = 7
    mlp_ratio: float = 4.0
    drop_path_rate: float = 0.0
    dtype: Dtype = jnp.float32
    conv_impl: str = "auto"  # PatchEmbed's projection: 'auto', 'xla' convolution or 'matmul'

    @nn.compact
    def __call__(self, x, train: bool):
        assert len(self.depths) == len(self.num_heads), (self.depths, self.num_heads)
        x = PatchEmbed(self.patch_size, self.embed_dim, self.dtype, self.conv_impl,
                       name="patch_embed")(x.astype(self.dtype))
        total = sum(self.depths)
        dpr = [float(r) for r in np.linspace(0.0, self.drop_path_rate, total)] if total else []
        start = 0
        n = len(self.depths)
        for i, (depth, heads) in enumerate(zip(self.depths, self.num_heads)):
            x = SwinStage(self.embed_dim * 2 ** i, depth, heads, self.window_size,
                          self.mlp_ratio, tuple(dpr[start:start + depth]),
                          downsample=(i < n - 1), dtype=self.dtype,
                          name=f"layers_{i}")(x, train)
            start += depth
        return _layer_norm("norm", self.dtype)(x)
