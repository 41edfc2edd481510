"""The reference recipe's optimiser: AdamW with a separate group for SOA angles
(or Adam with coupled L2 weight decay, ``weight_decay_mode='l2'``; or, with
``kind='sgd'``, torch's SGD with momentum mu and coupled L2: v = mu v + g + wd w,
w -= lr v, as meb trains its RCNs).

Two parameter groups, chosen by name: every parameter named in ``slow_params``
(the model's, e.g. SOA's ``orientation`` vector) is "theta", everything else is
"weights". Each group is AdamW with its own lr and weight
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


def param_groups(params, slow_params: tuple = ()):
    """'theta' for the parameters named in ``slow_params``, 'weights' for the rest."""
    def label(path, _):
        named = any(getattr(k, "key", None) in slow_params for k in path)
        return "theta" if named else "weights"
    return jax.tree_util.tree_map_with_path(label, params)


WEIGHT_DECAY_MODES = ("decoupled", "l2")
KINDS = ("adam", "sgd")


def make_optimizer(cfg, steps_per_epoch: int,
                   slow_params: tuple = ()) -> optax.GradientTransformation:
    """``cfg``: lr, weight_decay, theta_lr, theta_weight_decay, gamma, decay_epochs, eps,
    optionally kind ('adam', the default, or 'sgd' with ``momentum``) and weight_decay_mode: 'decoupled' (AdamW: w -= lr * wd * w besides the
    Adam step, the default) or 'l2' (torch's Adam(weight_decay=wd): g += wd * w before
    the Adam moments, as FDP's reference trains)."""
    mode = cfg.get("weight_decay_mode", "decoupled")
    if mode not in WEIGHT_DECAY_MODES:
        raise ValueError(f"train.optimizer.weight_decay_mode must be one of "
                         f"{WEIGHT_DECAY_MODES}, got {mode!r}")
    kind = cfg.get("kind", "adam")
    if kind not in KINDS:
        raise ValueError(f"train.optimizer.kind must be one of {KINDS}, got {kind!r}")

    def adamw(lr, wd):
        schedule = epoch_decay(lr, cfg.gamma, cfg.decay_epochs, steps_per_epoch)
        if kind == "sgd":
            return optax.chain(optax.add_decayed_weights(wd),
                               optax.sgd(schedule, momentum=cfg.get("momentum", 0.9) or None))
        if mode == "l2":
            return optax.chain(optax.add_decayed_weights(wd),
                               optax.adam(schedule, b1=0.9, b2=0.999, eps=cfg.eps))
        return optax.adamw(schedule, b1=0.9, b2=0.999, eps=cfg.eps, weight_decay=wd)
    return optax.multi_transform(
        {"weights": adamw(cfg.lr, cfg.weight_decay),
         "theta": adamw(cfg.theta_lr, cfg.theta_weight_decay)},
        lambda params: param_groups(params, slow_params))


def epoch_learning_rates(cfg, epoch: int) -> dict:
    """Each group's learning rate during 0-based ``epoch``: lr_0 * gamma ** min(epoch,
    decay_epochs) (the schedule above; a fold with fewer samples decays slightly late)."""
    factor = cfg.gamma ** min(epoch, cfg.decay_epochs)
    return {"weights": float(cfg.lr * factor), "theta": float(cfg.theta_lr * factor)}
