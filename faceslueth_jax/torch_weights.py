"""Map PyTorch reference tensors onto Flax parameter trees.

Layouts: PyTorch convolutions are OIHW and feature maps NCHW; Flax convolutions
are HWIO and maps NHWC. BatchNorm (weight, bias, running_mean, running_var)
becomes params (scale, bias) and batch_stats (mean, var).
"""

from __future__ import annotations

import numpy as np


def conv_kernel(weight: np.ndarray) -> np.ndarray:
    """OIHW -> HWIO."""
    return np.transpose(np.asarray(weight), (2, 3, 1, 0))


def nchw_to_nhwc(x: np.ndarray) -> np.ndarray:
    return np.transpose(np.asarray(x), (0, 2, 3, 1))


def batch_norm(state: dict, prefix: str) -> tuple[dict, dict]:
    """(params, batch_stats) of the BatchNorm stored under ``prefix``."""
    params = {"scale": state[f"{prefix}.weight"], "bias": state[f"{prefix}.bias"]}
    stats = {"mean": state[f"{prefix}.running_mean"], "var": state[f"{prefix}.running_var"]}
    return params, stats


def soa_block(state: dict, prefix: str = "") -> tuple[dict, dict]:
    """(params, batch_stats) of a ``SOABlock`` from the reference ``SOA`` module.

    Reference names: preprocess.{0: conv3x3, 1: BN, 3: conv1x1, 4: BN},
    downsample.{0: conv1x1, 1: BN}, pool.vec, squeeze, excite(=excitate).
    """
    s = {k[len(prefix):]: np.asarray(v) for k, v in state.items() if k.startswith(prefix)}
    params, stats = {}, {}
    params["conv3x3"] = {"kernel": conv_kernel(s["preprocess.0.weight"])}
    params["bn1"], stats["bn1"] = batch_norm(s, "preprocess.1")
    params["conv1x1"] = {"kernel": conv_kernel(s["preprocess.3.weight"])}
    params["bn2"], stats["bn2"] = batch_norm(s, "preprocess.4")
    if "downsample.0.weight" in s:
        params["shortcut_conv"] = {"kernel": conv_kernel(s["downsample.0.weight"])}
        params["shortcut_bn"], stats["shortcut_bn"] = batch_norm(s, "downsample.1")
    params["orientation"] = s["pool.vec"]
    params["squeeze"] = {"kernel": conv_kernel(s["squeeze.weight"])}
    params["excite"] = {"kernel": conv_kernel(s["excitate.weight"])}
    return params, stats
