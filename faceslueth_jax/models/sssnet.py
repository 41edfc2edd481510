"""SSSNet, the shallow single-stream network of tvaranka/meb ("Data Leakage and
Evaluation Issues in Micro-Expression Analysis", IEEE TAC 2024), on the flow
x = (u, v, strain) at 64 x 64:

    h = dropout2d(BN(maxpool_3(relu(conv5x5(x, 32)))))      (64 -> 60 -> 20)
    h = dropout2d(BN(maxpool_2(relu(conv3x3(h, 64)))))      (20 -> 18 -> 9)
    f = relu(fc_256(flatten(h)))                            (5184 -> 256)
    logits = fc_K(dropout(f))

dropout2d drops whole channels (one draw per map). ``softmax_output``: the network
returns softmax(logits), which the cross-entropy then reads as logits, as meb's
published SSSNet run does (``SSSNet(softmax=True)``): the class order is the same,
the gradients far smaller. Parameters (with biases; BN's scale
and offset): 2432 + 64 + 18 496 + 128 + 1 327 360 + 257 K, that is 1 349 251 for K = 3.
"""

from __future__ import annotations

import flax.linen as nn

from faceslueth_jax.models.layers import Conv, Dropout, batch_norm


class SSSNet(nn.Module):
    num_classes: int
    widths: tuple = (32, 64)
    hidden: int = 256
    dropout: float = 0.5
    softmax_output: bool = False
    conv_impl: str = "auto"        # layers.Conv
    batch_axis: str | None = None  # layers.batch_norm

    @nn.compact
    def __call__(self, views: dict, *, train: bool):
        h = views["flow"]
        for i, (width, kernel, pool) in enumerate(zip(self.widths, (5, 3), (3, 2))):
            h = nn.relu(Conv(width, kernel, padding=0, use_bias=True, impl=self.conv_impl,
                             name=f"conv{i}")(h))
            h = nn.max_pool(h, (pool, pool), strides=(pool, pool))
            h = batch_norm(train, f"bn{i}", self.batch_axis)(h)
            h = Dropout(self.dropout, per_channel=True, name=f"dropout{i}")(
                h, deterministic=not train)
        h = nn.relu(nn.Dense(self.hidden, name="fc")(h.reshape(h.shape[0], -1)))
        h = Dropout(self.dropout, name="dropout2")(h, deterministic=not train)
        logits = nn.Dense(self.num_classes, name="classifier")(h)
        return nn.softmax(logits) if self.softmax_output else logits


def from_config(cfg, num_classes: int) -> SSSNet:
    """SSSNet from ``model.sssnet`` (widths, hidden, dropout, softmax_output, conv_impl)."""
    return SSSNet(num_classes=num_classes, widths=tuple(cfg.widths), hidden=cfg.hidden,
                  dropout=cfg.dropout, softmax_output=cfg.get("softmax_output", False),
                  conv_impl=cfg.get("conv_impl", "auto"))
