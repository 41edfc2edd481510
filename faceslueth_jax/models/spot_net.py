"""The learned spotter's network: a frame's class (none, micro, macro) from a short
window of motion features around it.

Input ``window``: (W, C) per sample, frames t - W/2 .. t + W/2 - 1 of the log block
values log(1 + b / s) of the spans read (C = spans x 36 blocks, s a per-video scale;
``spotting.learned``). With per-frame width d and hidden width h:

    e_w = relu(A x_w + a)                  (the same A for every frame w; d)
    z   = dropout(relu(B [e_1 .. e_W] + b)) (h)
    logits = D z + c                       (K)

A frame-wise embedding, then one layer that sees the window's time course (a rise
and fall within about k frames is a micro-expression, a longer one a macro).
"""

from __future__ import annotations

import flax.linen as nn

from faceslueth_jax.models.layers import Dropout


class SpotNet(nn.Module):
    num_classes: int
    frame_width: int = 16
    hidden: int = 64
    dropout: float = 0.3

    @nn.compact
    def __call__(self, views: dict, *, train: bool):
        x = views["window"]  # (B, W, C)
        e = nn.relu(nn.Dense(self.frame_width, name="frame")(x))
        z = nn.relu(nn.Dense(self.hidden, name="window")(e.reshape(e.shape[0], -1)))
        z = Dropout(self.dropout, name="dropout")(z, deterministic=not train)
        return nn.Dense(self.num_classes, name="classifier")(z)


def from_config(cfg, num_classes: int) -> SpotNet:
    """SpotNet from ``model.spot_net`` (frame_width, hidden, dropout)."""
    return SpotNet(num_classes=num_classes, frame_width=cfg.frame_width, hidden=cfg.hidden,
                   dropout=cfg.dropout)
