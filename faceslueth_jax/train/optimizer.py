"""The reference recipe's optimiser: AdamW with a separate group for SOA angles.

Two parameter groups, chosen by name: every ``orientation`` vector is "theta",
everything else is "weights". Each group is AdamW with its own lr and weight
decay; both learning rates follow

    lr(step) = lr_0 * gamma ** min(floor(step / steps_per_epoch), decay_epochs)

(PyTorch's ExponentialLR stepped once per epoch for the first ``decay_epochs``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax


def epoch_decay(lr: float, gamma: float, decay_epochs: int, steps_per_epoch: int):
    def schedule(step):
        epoch = jnp.minimum(step // steps_per_epoch, decay_epochs)
        return lr * gamma ** epoch
    return schedule


def param_groups(params):
    """'theta' for SOA orientation vectors, 'weights' for everything else."""
    def label(path, _):
        return "theta" if any(getattr(k, "key", None) == "orientation" for k in path) else "weights"
    return jax.tree_util.tree_map_with_path(label, params)


def make_optimizer(cfg, steps_per_epoch: int) -> optax.GradientTransformation:
    """``cfg``: lr, weight_decay, theta_lr, theta_weight_decay, gamma, decay_epochs, eps."""
    def adamw(lr, wd):
        return optax.adamw(epoch_decay(lr, cfg.gamma, cfg.decay_epochs, steps_per_epoch),
                           b1=0.9, b2=0.999, eps=cfg.eps, weight_decay=wd)
    return optax.multi_transform(
        {"weights": adamw(cfg.lr, cfg.weight_decay),
         "theta": adamw(cfg.theta_lr, cfg.theta_weight_decay)},
        param_groups)
