"""ResNet-18 (He et al., CVPR 2016) on the onset-apex flow, trained from scratch.

tvaranka/meb trains timm's/torchvision's ResNet-18 with ImageNet weights on the
3-channel flow (u, v, strain read as RGB) at 64 x 64. No pretrained weights can be
fetched where this project is tested, so here the same network starts from random
weights (He-normal on fan-out convolutions, BN scale 1 and offset 0):

    stem:   relu(BN(conv7x7_{stride 2, pad 3}(x, 64))), maxpool_{3x3, stride 2, pad 1}
    stages: 2 basic blocks each of widths 64, 128, 256, 512, strides 1, 2, 2, 2;
            block(x) = relu(BN(conv3x3(relu(BN(conv3x3_s(x))))) + shortcut(x)),
            shortcut = BN(conv1x1_s(x)) where the stride or width changes, else x
    head:   global average pool, fc_K

Convolutions have no bias. Parameters: 11 176 512 (everything but the classifier,
as torchvision's 11 689 512 less its 1000-class layer) + 513 K, 11 178 051 for K = 3.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from faceslueth_jax.models import field_checks
from faceslueth_jax.models.layers import Conv, batch_norm

HE_FAN_OUT = nn.initializers.variance_scaling(2.0, "fan_out", "normal")


class BasicBlock(nn.Module):
    width: int
    stride: int = 1
    conv_impl: str = "auto"
    batch_axis: str | None = None

    @nn.compact
    def __call__(self, x, *, train: bool):
        def conv(y, k, stride, name):
            return Conv(self.width, k, stride, impl=self.conv_impl, kernel_init=HE_FAN_OUT,
                        name=name)(y)
        h = nn.relu(batch_norm(train, "bn1", self.batch_axis)(conv(x, 3, self.stride, "conv1")))
        h = batch_norm(train, "bn2", self.batch_axis)(conv(h, 3, 1, "conv2"))
        if self.stride != 1 or x.shape[-1] != self.width:
            x = batch_norm(train, "shortcut_bn", self.batch_axis)(
                conv(x, 1, self.stride, "shortcut_conv"))
        return nn.relu(h + x)


class ResNet(nn.Module):
    num_classes: int
    blocks: Sequence[int] = (2, 2, 2, 2)
    widths: Sequence[int] = (64, 128, 256, 512)
    conv_impl: str = "auto"
    batch_axis: str | None = None

    @nn.compact
    def __call__(self, views: dict, *, train: bool):
        x = Conv(self.widths[0], 7, 2, padding=3, impl=self.conv_impl, kernel_init=HE_FAN_OUT,
                 name="stem_conv")(views["flow"])
        x = nn.relu(batch_norm(train, "stem_bn", self.batch_axis)(x))
        x = nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
        for i, (count, width) in enumerate(zip(self.blocks, self.widths)):
            for j in range(count):
                stride = 2 if i > 0 and j == 0 else 1
                x = BasicBlock(width, stride, self.conv_impl, self.batch_axis,
                               name=f"stage{i}_block{j}")(x, train=train)
        return nn.Dense(self.num_classes, name="classifier")(jnp.mean(x, axis=(1, 2)))


def from_config(cfg, num_classes: int) -> ResNet:
    """ResNet from ``model.resnet18`` (blocks, widths, conv_impl)."""
    return ResNet(num_classes=num_classes, blocks=tuple(cfg.blocks), widths=tuple(cfg.widths),
                  conv_impl=cfg.get("conv_impl", "auto"))


def check_config(cfg) -> None:
    """``model.resnet18``: as many stages of blocks as widths, all positive."""
    field_checks.positive_ints("model.resnet18", blocks=tuple(cfg.blocks),
                               widths=tuple(cfg.widths))
    if len(cfg.blocks) != len(cfg.widths):
        raise ValueError(f"model.resnet18.blocks {tuple(cfg.blocks)} and widths "
                         f"{tuple(cfg.widths)} differ in length")
