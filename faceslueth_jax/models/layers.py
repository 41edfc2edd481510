"""Layers shared by the models."""

import flax.linen as nn


def batch_norm(train: bool, name: str, axis_name: str | None = None) -> nn.BatchNorm:
    """BatchNorm with PyTorch's defaults (momentum 0.1 there = 0.9 here, eps 1e-5),
    so converted reference weights and running statistics behave the same.

    ``axis_name``: a mapped axis over which one batch is split (data parallelism);
    the batch mean and variance are then averaged over it, as for the whole batch."""
    return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5,
                        axis_name=axis_name, name=name)
