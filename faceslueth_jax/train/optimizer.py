"""The reference recipe's optimiser: AdamW with a separate group for SOA angles.

Two parameter groups, chosen by name: every ``orientation`` vector is "theta",
everything else is "weights". Each group is AdamW with its own lr and weight
decay; both learning rates follow

    lr(step) = lr_0 * gamma ** min(floor(step / steps_per_epoch), decay_epochs)

(PyTorch's ExponentialLR stepped once per epoch for the first ``decay_epochs``).

``steps_per_epoch`` is that of the fold with the most training samples. Every
fold runs that many steps per epoch, but a step with no training sample left
does not update and does not advance optax's count. A fold with fewer samples
therefore decays slightly late: on the composite, 2 of 68 folds run 13 real
steps an epoch against 14.
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
