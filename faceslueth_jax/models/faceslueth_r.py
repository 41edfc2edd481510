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
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from faceslueth_jax.models.layers import batch_norm
from faceslueth_jax.models.motion_stream import MotionStream
from faceslueth_jax.models.swin import SwinTransformer


MOTION_INPUTS = ("flow", "frame_difference")


class FaceSleuthR(nn.Module):
    num_classes: int
    motion: dict
    appearance: dict
    head_widths: Sequence[int] = (512, 128)
    motion_input: str = "flow"
    au_dim: int = 0  # > 0: concatenate views["au"] (B, au_dim) after fc_1, as the reference
    batch_axis: str | None = None  # mapped axis a batch is split over (layers.batch_norm)

    @nn.compact
    def __call__(self, views: dict, *, train: bool):
        if self.motion_input == "flow":
            motion_x = views["flow"]
        elif self.motion_input == "frame_difference":
            if "onset" not in views:
                raise ValueError("motion_input='frame_difference' needs onset frames in the data")
            motion_x = views["apex"] - views["onset"]
        else:
            raise ValueError(f"model.motion_input must be 'flow' or 'frame_difference', "
                             f"got {self.motion_input!r}")
        m = MotionStream(**self.motion, batch_axis=self.batch_axis, name="motion")(motion_x, train=train)

        swin = SwinTransformer(**self.appearance, name="appearance")
        faces = [views["apex"]] + ([views["onset"]] if "onset" in views else [])
        p = swin(jnp.concatenate(faces, axis=0), train=train)
        p = sum(jnp.split(p, len(faces), axis=0))
        if m.shape[1:] != p.shape[1:]:
            raise ValueError(f"motion stream output {m.shape[1:]} and appearance output "
                             f"{p.shape[1:]} must match for additive fusion: adjust the "
                             "input sizes, strides or widths in the config")
        z = (m + p).reshape(m.shape[0], -1)
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
