"""FaceSleuth-R: a motion stream with SOA and a Swin appearance stream (FPF).

    m = MotionStream(motion input)                       (B, h, w, C)
    p = Swin(apex) + Swin(onset)   (shared weights; apex only without onset)
    z = flatten(m + p)
    h = fc_1(z)            (concatenated with the sample's AU vector when au_dim > 0)
    logits = fc_K(BN(fc_2(relu(BN(h)))))

The motion input is the onset->apex optical flow (u, v, strain) or, as in the
PyTorch reference, the apex-minus-onset frame difference. The reference also
concatenates a 21-dim multi-hot vector of the sample's FACS action units, read
from the database's coding sheet at training *and* test time: ground-truth
codes at test time leak the label, so ``au_dim`` defaults to 0 (off).

Ablations (config switches): ``use_motion`` / ``use_appearance`` drop a stream
(z = flatten(p) or flatten(m)); ``motion.soa_mode='none'`` makes every SOA stage
a plain residual stage of the same width (``soa.SOABlock``).

Variants (``VARIANTS``, a config's ``model.preset``):
``compact``: trains on a 2-core CPU in minutes. Flow 28x28, faces 56x56;
  motion stem 16, SOA stages 24/32/48/48 (strides 2/1/2/1) -> 7x7x48;
  Swin patch 8, embed 48, one stage of depth 2, 3 heads, window 7 -> 7x7x48;
  head 128 -> 64. (Chosen over stages 32/32/64/64 with a two-stage patch-4 Swin,
  several times slower per step, so that a LOSO sweep fits a laptop's CPU.)
``paper``: the reference sizes. 224x224 inputs; motion stem 180 (stride 2)
  then 128, SOA stages 128/128/256/512 (strides 1/2/2/2) -> 14x14x512;
  Swin patch 4, embed 128, depths 2/2/6, heads 4/8/16, window 7 -> 14x14x512;
  head 512 -> 128.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp
import ml_collections

from faceslueth_jax.models import soa
from faceslueth_jax.models.layers import batch_norm
from faceslueth_jax.models.motion_stream import MotionStream, soa_angles_deg
from faceslueth_jax.models.swin import SwinTransformer


MOTION_INPUTS = ("flow", "frame_difference")


class FaceSleuthR(nn.Module):
    num_classes: int
    motion: dict
    appearance: dict
    head_widths: Sequence[int] = (512, 128)
    motion_input: str = "flow"
    au_dim: int = 0  # > 0: concatenate views["au"] (B, au_dim) after fc_1, as the reference
    use_motion: bool = True       # False: the appearance stream alone (ablation)
    use_appearance: bool = True   # False: the motion stream alone (ablation)
    batch_axis: str | None = None  # mapped axis a batch is split over (layers.batch_norm)

    @nn.compact
    def __call__(self, views: dict, *, train: bool):
        if not (self.use_motion or self.use_appearance):
            raise ValueError("model.faceslueth_r: use_motion and use_appearance are both False")
        streams = []
        if self.use_motion:
            streams.append(self._motion(views, train))
        if self.use_appearance:
            streams.append(self._appearance(views, train))
        if len(streams) == 2 and streams[0].shape[1:] != streams[1].shape[1:]:
            raise ValueError(f"motion stream output {streams[0].shape[1:]} and appearance output "
                             f"{streams[1].shape[1:]} must match for additive fusion: adjust the "
                             "input sizes, strides or widths in the config")
        z = sum(streams)
        z = z.reshape(z.shape[0], -1)
        z = nn.Dense(self.head_widths[0], name="fc1")(z)
        if self.au_dim:
            if "au" not in views or views["au"].shape[1:] != (self.au_dim,):
                raise ValueError(f"model.au_dim={self.au_dim} needs views['au'] of shape "
                                 f"(batch, {self.au_dim}), got "
                                 f"{views['au'].shape if 'au' in views else 'none'}")
            z = jnp.concatenate([z, views["au"].astype(z.dtype)], axis=-1)
        z = nn.relu(batch_norm(train, "bn1", self.batch_axis)(z))
        z = batch_norm(train, "bn2", self.batch_axis)(nn.Dense(self.head_widths[1], name="fc2")(z))
        return nn.Dense(self.num_classes, name="classifier")(z)

    def _motion(self, views: dict, train: bool):
        """m = MotionStream(flow or apex - onset)."""
        if self.motion_input == "flow":
            motion_x = views["flow"]
        elif self.motion_input == "frame_difference":
            if "onset" not in views:
                raise ValueError("motion_input='frame_difference' needs onset frames in the data")
            motion_x = views["apex"] - views["onset"]
        else:
            raise ValueError(f"model.motion_input must be 'flow' or 'frame_difference', "
                             f"got {self.motion_input!r}")
        return MotionStream(**self.motion, batch_axis=self.batch_axis, name="motion")(
            motion_x, train=train)

    def _appearance(self, views: dict, train: bool):
        """p = Swin(apex) + Swin(onset), one shared Swin (FPF)."""
        swin = SwinTransformer(**self.appearance, name="appearance")
        faces = [views["apex"]] + ([views["onset"]] if "onset" in views else [])
        # one batch of every face, sample-major (apex_0, onset_0, apex_1, ...)
        p = swin(jnp.stack(faces, axis=1).reshape((-1,) + faces[0].shape[1:]), train=train)
        return p.reshape((-1, len(faces)) + p.shape[1:]).sum(axis=1)


# What the rest of the project asks of a model (models/registry.py).
PROBES = {"theta_deg": soa_angles_deg}   # per fold and epoch: each SOA layer's angle
SLOW_PARAMS = (soa.ORIENTATION,)          # trained with train.optimizer.theta_lr
AU_DIM_FIELD = "au_dim"


VARIANTS = {
    "compact": dict(
        flow_size=28, face_size=56,
        motion=dict(stem_widths=(16,), stem_stride=1, widths=(24, 32, 48, 48),
                    strides=(2, 1, 2, 1)),
        appearance=dict(patch_size=8, embed_dim=48, depths=(2,), num_heads=(3,),
                        window_size=7),
        head_widths=(128, 64)),
    "paper": dict(
        flow_size=224, face_size=224,
        motion=dict(stem_widths=(180, 128), stem_stride=2, widths=(128, 128, 256, 512),
                    strides=(1, 2, 2, 2)),
        appearance=dict(patch_size=4, embed_dim=128, depths=(2, 2, 6), num_heads=(4, 8, 16),
                        window_size=7),
        head_widths=(512, 128)),
}


def variant_config(variant: str) -> ml_collections.ConfigDict:
    """``model.faceslueth_r`` of a variant: the honest defaults (flow input, steerable
    SOA from THETA_INIT_DEG, no AU vector, no stochastic depth)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown FaceSleuth-R preset {variant!r}; choose from {sorted(VARIANTS)}")
    v = VARIANTS[variant]
    return ml_collections.ConfigDict(dict(
        motion_input="flow",  # or 'frame_difference' (apex - onset), as the reference
        motion=dict(v["motion"], soa_mode="steerable", theta_init_deg=soa.THETA_INIT_DEG,
                    soa_reduction=16, conv_impl="auto"),
        appearance=dict(v["appearance"], mlp_ratio=4.0, drop_path_rate=0.0, conv_impl="auto"),
        head_widths=v["head_widths"],
        use_motion=True, use_appearance=True,  # ablation switches (soa_mode='none': no SOA)
        # > 0 (21 in the reference): concatenate the sample's multi-hot FACS AU vector
        # after fc_1. The codes come from the coding sheet, also at test time: a label leak.
        au_dim=0))


def as_reference(cfg: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """``cfg`` (``model.faceslueth_r``) made the PyTorch reference's network
    (Svardfox/FaceSleuth's MMNet, at the ``paper`` sizes): motion stream on the
    apex-minus-onset frame difference, the rotate-and-pool SOA, stochastic depth 0.1
    in the Swin (its default there). The AU vector stays as set."""
    cfg.motion_input = "frame_difference"
    cfg.motion.soa_mode = "reference"
    cfg.appearance.drop_path_rate = 0.1
    return cfg


def from_config(cfg, num_classes: int) -> FaceSleuthR:
    """FaceSleuth-R from ``model.faceslueth_r`` (configs/common.py defines its fields)."""
    return FaceSleuthR(num_classes=num_classes, motion=dict(cfg.motion),
                       appearance=dict(cfg.appearance), head_widths=tuple(cfg.head_widths),
                       motion_input=cfg.motion_input, au_dim=cfg.get("au_dim", 0),
                       use_motion=cfg.get("use_motion", True),
                       use_appearance=cfg.get("use_appearance", True))


def check_config(cfg) -> None:
    """Choices of ``model.faceslueth_r`` that cannot work together."""
    field = "model.faceslueth_r"
    for name, value, allowed in (("motion_input", cfg.motion_input, MOTION_INPUTS),
                                 ("motion.soa_mode", cfg.motion.soa_mode, soa.SOA_MODES)):
        if value not in allowed:
            raise ValueError(f"{field}.{name} must be one of {allowed}, got {value!r}")
    if not (cfg.get("use_motion", True) or cfg.get("use_appearance", True)):
        raise ValueError(f"{field}.use_motion and {field}.use_appearance cannot both be False")


def faces_only(cfg) -> str:
    """The field setting under which the motion stream reads faces, not flow (jitter
    windows and the reference's face-only augmentation need it), or '' when it does."""
    if cfg.motion_input == "frame_difference":
        return ""
    return "model.faceslueth_r.motion_input='frame_difference'"
