"""FDP's frame encoder: a local-global feature-aware transformer (Next-ViT-like).

One grey face (S, S, 1) -> a feature map (S/32, S/32, dims[-1]):

    stem:   conv3x3 stride 2 -> conv3x3 -> conv3x3 -> conv3x3 stride 2
            (widths stem_widths[0], [1], [2], [2]; each conv-BN-ReLU)      S/4
    stage k (k = 0..3, stride 1, 2, 2, 2; depths[k] blocks):
            block j is global, of width global_dims[k], when global_every[k] > 0
            and (j + 1) % global_every[k] == 0, else local, of width dims[k]
            (Next-ViT-S: local 96/192/384/768, global -/256/512/1024).

Patch embedding (the first block of a stage, or a change of width): stride 2
-> 2x2 average pool, then conv1x1-BN when the width changes.

Local relational aggregator (LRA, Next-ViT's NCB), width C, h = C / head_dim
heads:
    x = PE(x)
    x = x + conv1x1(ReLU(BN(grouped conv3x3 (groups h)(x))))   multi-head conv attention
    x = x + conv1x1(ReLU(conv1x1_{rC}(BN(x))))                 MLP, ratio r

Global relational aggregator (GRA, Next-ViT's NTB): the width C is split into
C_a = round(0.75 C / head_dim) head_dim channels of self-attention and C - C_a
of convolutional attention:
    a = PE_{C_a}(x)
    a = a + MHSA(BN(a))     keys and values from an sr x sr average pool of BN(a)
                            (then BN), sr = sr_ratios[k]; C_a / head_dim heads
    c = conv1x1-BN_{C - C_a}(a);  c = c + MHCA(c)
    x = concat(a, c)
    x = x + MLP(BN(x))

The encoder ends with BN. BatchNorm statistics are over every frame of every
clip in the batch (``layers.batch_norm``: PyTorch momentum and epsilon).
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from faceslueth_jax.models.layers import batch_norm

STAGE_STRIDES = (1, 2, 2, 2)


class ConvBN(nn.Module):
    features: int
    kernel: int = 1
    stride: int = 1
    groups: int = 1
    relu: bool = False
    batch_axis: str | None = None

    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.Conv(self.features, (self.kernel, self.kernel), (self.stride, self.stride),
                    padding=self.kernel // 2, feature_group_count=self.groups,
                    use_bias=False, name="conv")(x)
        x = batch_norm(train, "bn", self.batch_axis)(x)
        return nn.relu(x) if self.relu else x


class PatchEmbed(nn.Module):
    """Stride 2: 2x2 average pool; a width change: conv1x1-BN; else the identity."""
    features: int
    stride: int = 1
    batch_axis: str | None = None

    @nn.compact
    def __call__(self, x, train: bool):
        if self.stride == 2:
            x = nn.avg_pool(x, (2, 2), (2, 2))
        if x.shape[-1] != self.features:
            x = ConvBN(self.features, batch_axis=self.batch_axis, name="proj")(x, train)
        return x


class MLP(nn.Module):
    ratio: float
    batch_axis: str | None = None

    @nn.compact
    def __call__(self, x, train: bool):
        c = x.shape[-1]
        y = batch_norm(train, "norm", self.batch_axis)(x)
        y = nn.relu(nn.Conv(int(c * self.ratio), (1, 1), name="fc1")(y))
        return x + nn.Conv(c, (1, 1), name="fc2")(y)


class MHCA(nn.Module):
    """Multi-head convolutional attention: a grouped 3x3 conv, one group per head."""
    head_dim: int
    batch_axis: str | None = None

    @nn.compact
    def __call__(self, x, train: bool):
        c = x.shape[-1]
        y = ConvBN(c, 3, groups=max(1, c // self.head_dim), relu=True,
                   batch_axis=self.batch_axis, name="group_conv")(x, train)
        return x + nn.Conv(c, (1, 1), use_bias=False, name="proj")(y)


class LocalBlock(nn.Module):
    """Local relational aggregator (module docstring)."""
    features: int
    stride: int
    head_dim: int
    mlp_ratio: float
    batch_axis: str | None = None

    @nn.compact
    def __call__(self, x, train: bool):
        x = PatchEmbed(self.features, self.stride, self.batch_axis, name="patch_embed")(x, train)
        x = MHCA(self.head_dim, self.batch_axis, name="mhca")(x, train)
        return MLP(self.mlp_ratio, self.batch_axis, name="mlp")(x, train)


class EfficientMHSA(nn.Module):
    """Self-attention over all positions; keys/values from an sr x sr average pool."""
    head_dim: int
    sr_ratio: int
    batch_axis: str | None = None

    @nn.compact
    def __call__(self, x, train: bool):
        b, h, w, c = x.shape
        heads = c // self.head_dim
        q = nn.Dense(c, name="q")(x).reshape(b, h * w, heads, self.head_dim)
        kv = x
        if self.sr_ratio > 1 and h >= self.sr_ratio and w >= self.sr_ratio:
            kv = nn.avg_pool(kv, (self.sr_ratio,) * 2, (self.sr_ratio,) * 2)
            kv = batch_norm(train, "sr_norm", self.batch_axis)(kv)
        n = kv.shape[1] * kv.shape[2]
        k = nn.Dense(c, name="k")(kv).reshape(b, n, heads, self.head_dim)
        v = nn.Dense(c, name="v")(kv).reshape(b, n, heads, self.head_dim)
        y = nn.dot_product_attention(q, k, v).reshape(b, h, w, c)
        return nn.Dense(c, name="proj")(y)


class GlobalBlock(nn.Module):
    """Global relational aggregator (module docstring)."""
    features: int
    stride: int
    head_dim: int
    mlp_ratio: float
    sr_ratio: int
    attention_fraction: float = 0.75
    batch_axis: str | None = None

    @nn.compact
    def __call__(self, x, train: bool):
        attn = max(self.head_dim,
                   round(self.attention_fraction * self.features / self.head_dim) * self.head_dim)
        a = PatchEmbed(attn, self.stride, self.batch_axis, name="patch_embed")(x, train)
        a = a + EfficientMHSA(self.head_dim, self.sr_ratio, self.batch_axis, name="mhsa")(
            batch_norm(train, "attn_norm", self.batch_axis)(a), train)
        parts = [a]
        if self.features > attn:
            c = ConvBN(self.features - attn, batch_axis=self.batch_axis, name="conv_proj")(a, train)
            parts.append(MHCA(self.head_dim, self.batch_axis, name="mhca")(c, train))
        x = jnp.concatenate(parts, axis=-1)
        return MLP(self.mlp_ratio, self.batch_axis, name="mlp")(x, train)


class LocalGlobalTransformer(nn.Module):
    """(N, S, S, 1) -> (N, S/32, S/32, width of the last block) (module docstring)."""
    stem_widths: Sequence[int] = (16, 16, 32)
    depths: Sequence[int] = (1, 2, 2, 1)
    dims: Sequence[int] = (32, 64, 96, 128)
    global_dims: Sequence[int] | None = None  # None: dims
    global_every: Sequence[int] = (0, 2, 2, 1)
    sr_ratios: Sequence[int] = (4, 2, 1, 1)
    head_dim: int = 16
    mlp_ratio: float = 2.0
    batch_axis: str | None = None

    @nn.compact
    def __call__(self, x, train: bool):
        s0, s1, s2 = self.stem_widths
        for i, (width, stride) in enumerate([(s0, 2), (s1, 1), (s2, 1), (s2, 2)]):
            x = ConvBN(width, 3, stride, relu=True, batch_axis=self.batch_axis,
                       name=f"stem{i}")(x, train)
        global_dims = self.global_dims or self.dims
        for k, (depth, width) in enumerate(zip(self.depths, self.dims)):
            for j in range(depth):
                stride = STAGE_STRIDES[k] if j == 0 else 1
                period = self.global_every[k]
                if period and (j + 1) % period == 0:
                    x = GlobalBlock(global_dims[k], stride, self.head_dim, self.mlp_ratio,
                                    self.sr_ratios[k], batch_axis=self.batch_axis,
                                    name=f"stage{k}_block{j}_global")(x, train)
                else:
                    x = LocalBlock(width, stride, self.head_dim, self.mlp_ratio,
                                   batch_axis=self.batch_axis,
                                   name=f"stage{k}_block{j}_local")(x, train)
        return batch_norm(train, "norm", self.batch_axis)(x)
