"""STSTNet (Liong et al., FG 2019), the shallow triple-stream network, as the
calibration point of the honest composite figures (tvaranka/meb publishes its
honest composite LOSO F1, 0.7127; notes in ``configs/ststnet_composite.py``).

On the 28x28 flow x = (u, v, strain), three streams of widths (3, 5, 8):

    s_i = dropout(maxpool_{3x3, stride 3, pad 1}(BN(relu(conv3x3_{pad 2}(x)))))
                                                  (30x30 -> 10x10, w_i channels)
    z = avgpool_{2x2, stride 2}(concat(s_1, s_2, s_3))      (5x5x16 = 400)
    logits = fc_K(flatten(z))

The published layer sizes: 3+5+8 = 16 channels, 400 features, K classes; with
biases (the convolutions and the classifier): 84 + 140 + 224 (convolutions)
+ 2 x 16 (BN scale and offset) + 401 K (classifier) parameters, 1683 for K = 3.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from faceslueth_jax.models.layers import Conv, Dropout, batch_norm


class STSTNet(nn.Module):
    num_classes: int
    widths: Sequence[int] = (3, 5, 8)
    dropout: float = 0.5
    conv_impl: str = "auto"        # layers.Conv
    batch_axis: str | None = None  # layers.batch_norm

    @nn.compact
    def __call__(self, views: dict, *, train: bool):
        x = views["flow"]
        streams = []
        for i, width in enumerate(self.widths):
            s = Conv(width, 3, padding=2, use_bias=True, impl=self.conv_impl,
                     name=f"conv{i}")(x)
            s = batch_norm(train, f"bn{i}", self.batch_axis)(nn.relu(s))
            s = nn.max_pool(s, (3, 3), strides=(3, 3), padding=((1, 1), (1, 1)))
            streams.append(Dropout(self.dropout, name=f"dropout{i}")(s, deterministic=not train))
        z = nn.avg_pool(jnp.concatenate(streams, axis=-1), (2, 2), strides=(2, 2))
        return nn.Dense(self.num_classes, name="classifier")(z.reshape(z.shape[0], -1))


def from_config(cfg, num_classes: int) -> STSTNet:
    """STSTNet from ``model.ststnet`` (widths, dropout, conv_impl)."""
    return STSTNet(num_classes=num_classes, widths=tuple(cfg.widths), dropout=cfg.dropout,
                   conv_impl=cfg.get("conv_impl", "auto"))
