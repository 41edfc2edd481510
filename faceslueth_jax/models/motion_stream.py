"""Motion stream: a convolutional stem, then one SOA block per stage.

    h_0 = stem(x)                                   (conv3x3-BN-ReLU per stem width)
    h_i, a_i = SOABlock_i(h_{i-1}, carry(a_{i-1}))   i = 1..S
    carry(a) = P(maxpool_{3x3, stride 2}(a))  when stage i+1 has stride 2, else P(a)
    P = 1x1 convolution (no bias) when the channel count changes, else identity

as in the reference, where the attention map of each stage is pooled to the next
stage's resolution and projected to its width before it scales that stage's map.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from faceslueth_jax.models.layers import Conv, batch_norm
from faceslueth_jax.models.soa import ORIENTATION, THETA_INIT_DEG, SOABlock, orientation_angle


def carry_attention(a: jax.Array, stride: int) -> jax.Array:
    if stride == 1:
        return a
    if stride != 2:
        raise ValueError(f"SOA stages support stride 1 or 2, got {stride}")
    return nn.max_pool(a, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))


class MotionStream(nn.Module):
    stem_widths: Sequence[int] = (180, 128)
    stem_stride: int = 2
    widths: Sequence[int] = (128, 128, 256, 512)
    strides: Sequence[int] = (1, 2, 2, 2)
    soa_mode: str = "steerable"
    theta_init_deg: float = THETA_INIT_DEG
    soa_reduction: int = 16
    batch_axis: str | None = None  # see layers.batch_norm
    conv_impl: str = "auto"        # layers.Conv: 'auto', 'xla' or 'matmul'

    @nn.compact
    def __call__(self, x, *, train: bool):
        if len(self.widths) != len(self.strides):
            raise ValueError(f"motion widths {self.widths} and strides {self.strides} differ in length")
        for i, width in enumerate(self.stem_widths):
            stride = self.stem_stride if i == 0 else 1
            x = Conv(width, 3, stride, impl=self.conv_impl, name=f"stem_conv{i}")(x)
            x = batch_norm(train, f"stem_bn{i}", self.batch_axis)(x)
            x = nn.relu(x)
        a = None
        for i, (width, stride) in enumerate(zip(self.widths, self.strides)):
            if a is not None:
                a = carry_attention(a, stride)
                if a.shape[-1] != width:
                    a = Conv(width, 1, impl=self.conv_impl, name=f"carry_proj{i}")(a)
            x, a = SOABlock(width, stride=stride, mode=self.soa_mode,
                            theta_init_deg=self.theta_init_deg, reduction=self.soa_reduction,
                            batch_axis=self.batch_axis, conv_impl=self.conv_impl,
                            name=f"stage{i}")(x, a, train=train)
        return x


def soa_angles_deg(params) -> jnp.ndarray:
    """Angle in degrees of every SOA layer, in stage order: (num_stages,); (0,) for a
    model without SOA layers (the baselines, the ablations)."""
    stream = params.get("motion", {})
    stages = sorted((k for k in stream if k.startswith("stage") and ORIENTATION in stream[k]),
                    key=lambda k: int(k[5:]))
    if not stages:  # no SOA layer: a baseline, or soa_mode='none'
        return jnp.zeros((0,), jnp.float32)
    return jnp.stack([jnp.degrees(orientation_angle(stream[k][ORIENTATION])) for k in stages])
