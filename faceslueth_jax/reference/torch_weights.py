"""Map PyTorch reference tensors onto Flax parameter trees.

Layouts: PyTorch convolutions are OIHW and feature maps NCHW; Flax convolutions
are HWIO and maps NHWC. BatchNorm (weight, bias, running_mean, running_var)
becomes params (scale, bias) and batch_stats (mean, var).
"""

from __future__ import annotations

import numpy as np

from faceslueth_jax.models import soa


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
    params[soa.ORIENTATION] = s["pool.vec"]
    params["squeeze"] = {"kernel": conv_kernel(s["squeeze.weight"])}
    params["excite"] = {"kernel": conv_kernel(s["excitate.weight"])}
    return params, stats


def linear(state: dict, prefix: str, bias: bool = True) -> dict:
    """nn.Linear (out, in) -> nn.Dense kernel (in, out)."""
    out = {"kernel": np.asarray(state[f"{prefix}.weight"]).T}
    if bias:
        out["bias"] = np.asarray(state[f"{prefix}.bias"])
    return out


def layer_norm(state: dict, prefix: str) -> dict:
    return {"scale": np.asarray(state[f"{prefix}.weight"]), "bias": np.asarray(state[f"{prefix}.bias"])}


def swin(state: dict, prefix: str, depths) -> dict:
    """Params of ``models.swin.SwinTransformer`` from a PyTorch Swin state_dict
    (``patch_embed.proj``, ``layers.i.blocks.j.{norm1, attn.qkv, attn.proj,
    attn.relative_position_bias_table, norm2, mlp.fc1, mlp.fc2}``,
    ``layers.i.downsample.{norm, reduction}``, ``norm``)."""
    s = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    params = {"patch_embed": {
        "proj": {"kernel": conv_kernel(s["patch_embed.proj.weight"]),
                 "bias": np.asarray(s["patch_embed.proj.bias"])},
        "norm": layer_norm(s, "patch_embed.norm")}}
    for i, depth in enumerate(depths):
        stage = {}
        for j in range(depth):
            b = f"layers.{i}.blocks.{j}"
            stage[f"blocks_{j}"] = {
                "norm1": layer_norm(s, f"{b}.norm1"),
                "attn": {"qkv": linear(s, f"{b}.attn.qkv"), "proj": linear(s, f"{b}.attn.proj"),
                         "relative_position_bias_table":
                             np.asarray(s[f"{b}.attn.relative_position_bias_table"])},
                "norm2": layer_norm(s, f"{b}.norm2"),
                "mlp": {"fc1": linear(s, f"{b}.mlp.fc1"), "fc2": linear(s, f"{b}.mlp.fc2")}}
        if i < len(depths) - 1:
            stage["downsample"] = {
                "norm": layer_norm(s, f"layers.{i}.downsample.norm"),
                "reduction": linear(s, f"layers.{i}.downsample.reduction", bias=False)}
        params[f"layers_{i}"] = stage
    params["norm"] = layer_norm(s, "norm")
    return params


# Entries of the reference MMNet state_dict that its forward pass never reads: a
# time embedding, a 1x1 "pos" branch, the Swin classifier head, three MLPs and a
# 38-way AU head, all left over from MMNet; buffers PyTorch recomputes.
REFERENCE_UNUSED = ("timeembed", "pos.", "swin_pos_224.head.", "main_branch.MLP", "head.")
REFERENCE_BUFFERS = (".num_batches_tracked", ".relative_position_index")


def reference_state_dict(state: dict) -> dict:
    """The tensors the reference forward uses, as numpy (``module.`` prefixes of
    DataParallel checkpoints removed)."""
    state = {k: np.asarray(v.detach().cpu().numpy() if hasattr(v, "detach") else v)
             for k, v in state.items()}
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return {k: v for k, v in state.items()
            if not k.startswith(REFERENCE_UNUSED) and not k.endswith(REFERENCE_BUFFERS)}


def faceslueth_r(state: dict, swin_depths=(2, 2, 6), num_stages: int = 4) -> dict:
    """Variables {params, batch_stats} of ``FaceSleuthR`` (paper preset, reference
    SOA) from the reference MMNet ``state_dict`` (see ``reference_state_dict``).

    Name map: conv_act -> motion/stem_{conv,bn}0, main_branch.{conv1, bn1} ->
    motion/stem_{conv,bn}1, main_branch.layer{i+1}.0 -> motion/stage{i},
    main_branch.conv{2,3} (the attention's channel matching) -> motion/carry_proj{2,3},
    swin_pos_224 -> appearance, main_branch.{fc1, bn2, fc2, bn3, fc3} ->
    {fc1, bn1, fc2, bn2, classifier}. fc1's input is the fused map flattened in
    PyTorch's (C, H, W) order; here it is (H, W, C), so its rows are permuted.
    """
    s = reference_state_dict(state)
    motion, motion_stats = {}, {}
    motion["stem_conv0"] = {"kernel": conv_kernel(s["conv_act.0.weight"])}
    motion["stem_bn0"], motion_stats["stem_bn0"] = batch_norm(s, "conv_act.1")
    motion["stem_conv1"] = {"kernel": conv_kernel(s["main_branch.conv1.weight"])}
    motion["stem_bn1"], motion_stats["stem_bn1"] = batch_norm(s, "main_branch.bn1")
    for i in range(num_stages):
        motion[f"stage{i}"], motion_stats[f"stage{i}"] = soa_block(s, f"main_branch.layer{i + 1}.0.")
    for i, name in ((2, "conv2"), (3, "conv3")):
        motion[f"carry_proj{i}"] = {"kernel": conv_kernel(s[f"main_branch.{name}.weight"])}

    fc1 = np.asarray(s["main_branch.fc1.weight"])  # (out, C*H*W)
    channels = motion[f"stage{num_stages - 1}"]["conv1x1"]["kernel"].shape[-1]
    side = int(round((fc1.shape[1] // channels) ** 0.5))
    if channels * side * side != fc1.shape[1]:
        raise ValueError(f"main_branch.fc1 takes {fc1.shape[1]} inputs, not a square "
                         f"{channels}-channel map")
    fc1 = fc1.reshape(-1, channels, side, side).transpose(2, 3, 1, 0).reshape(fc1.shape[1], -1)

    params = {"motion": motion, "appearance": swin(s, "swin_pos_224.", swin_depths),
              "fc1": {"kernel": fc1, "bias": s["main_branch.fc1.bias"]},
              "fc2": linear(s, "main_branch.fc2"), "classifier": linear(s, "main_branch.fc3")}
    stats = {"motion": motion_stats}
    params["bn1"], stats["bn1"] = batch_norm(s, "main_branch.bn2")
    params["bn2"], stats["bn2"] = batch_norm(s, "main_branch.bn3")

    used = sum(np.size(v) for v in s.values())
    converted = sum(np.size(v) for tree in (params, stats) for v in _leaves(tree))
    if used != converted:
        raise ValueError(f"the state_dict holds {used} numbers the reference forward uses, "
                         f"but {converted} were converted: it is not a FaceSleuth MMNet of "
                         f"this layout (stages {num_stages}, Swin depths {tuple(swin_depths)})")
    return {"params": params, "batch_stats": stats}


def _leaves(tree):
    for v in tree.values():
        yield from (_leaves(v) if isinstance(v, dict) else (v,))
