"""OFF-ApexNet (Gan et al., Signal Processing: Image Communication 2019) at the sizes of
tvaranka/meb's baseline: the onset-to-apex flow's u and v at 28 x 28,

    h = maxpool_2(relu(conv3x3_{pad 1}(x, 6)))              (28 -> 14, 6 channels)
    h = maxpool_2(relu(conv3x3_{pad 1}(h, 16)))             (14 -> 7, 16 channels)
    f = relu(fc_1024(dropout(flatten(h))))                  (784 -> 1024)
    logits = fc_K(dropout(f))

Parameters (with biases): 114 + 880 (convolutions) + 803 840 (fc_1024) + 1025 K, that
is 807 909 for K = 3. The flow view's third channel (optical strain) is not read.
"""

from __future__ import annotations

import flax.linen as nn

from faceslueth_jax.models.layers import Conv, Dropout


class OffApexNet(nn.Module):
    num_classes: int
    widths: tuple = (6, 16)
    hidden: int = 1024
    dropout: float = 0.5
    conv_impl: str = "auto"  # layers.Conv

    @nn.compact
    def __call__(self, views: dict, *, train: bool):
        h = views["flow"][..., :2]  # u, v
        for i, width in enumerate(self.widths):
            h = nn.relu(Conv(width, 3, padding=1, use_bias=True, impl=self.conv_impl,
                             name=f"conv{i}")(h))
            h = nn.max_pool(h, (2, 2), strides=(2, 2))
        h = Dropout(self.dropout, name="dropout0")(h.reshape(h.shape[0], -1),
                                                   deterministic=not train)
        h = nn.relu(nn.Dense(self.hidden, name="fc")(h))
        h = Dropout(self.dropout, name="dropout1")(h, deterministic=not train)
        return nn.Dense(self.num_classes, name="classifier")(h)


def from_config(cfg, num_classes: int) -> OffApexNet:
    """OffApexNet from ``model.offapexnet`` (widths, hidden, dropout, conv_impl)."""
    return OffApexNet(num_classes=num_classes, widths=tuple(cfg.widths), hidden=cfg.hidden,
                      dropout=cfg.dropout, conv_impl=cfg.get("conv_impl", "auto"))
