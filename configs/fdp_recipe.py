"""FDP (arXiv 2509.06015) as a config: its model sizes and its data, shared by
configs/fdp_synthetic.py and configs/fdp_casme2.py.

``compact``: trains on a 2-core CPU. Stem 8/8/16, stages 16/32/64/64 of
  depths 1/2/2/1 with a global (self-attention) block ending stages 2-4,
  head_dim 32, sr 4/2/1/1 -> 2x2x64 per frame; 4 rank heads; MER head 64;
  decoder grid 8 with SegNet widths 16/32. (Grouped convolutions are slow on
  XLA's CPU backend: head_dim 32 keeps the convolutional attention at 1-2
  groups. Forward and backward of a batch of 32 clips of 8 frames: about 1 s
  on a shared 2-core CPU, against 6 s at stem 16/16/32, widths 32..128, head_dim 16.)
``paper``: the reference's Next-ViT-S-like encoder (stem 64/32/64, depths
  3/4/10/3, local widths 96/192/384/768, global widths -/256/512/1024, global
  blocks where Next-ViT-S has them,
  head_dim 8, sr 8/4/2/1 -> 2x2x1024 = 4096 per frame); 8 rank heads (the
  reference Conv3d's 8 output channels); MER head 256; decoder widths 64/128.

Model sizes: see faceslueth_jax/models/fdp.py; parameter counts in tests/test_fdp.py.
"""

from __future__ import annotations

import ml_collections

from configs.common import base_config

NUM_FRAMES = 8   # frames per clip, uniform over onset..offset
FACE_SIZE = 64   # grey aligned faces, 64x64

PRESETS = {
    "compact": dict(
        stem_widths=(8, 8, 16), depths=(1, 2, 2, 1), dims=(16, 32, 64, 64),
        global_dims=(16, 32, 64, 64),
        global_every=(0, 2, 2, 1), sr_ratios=(4, 2, 1, 1), head_dim=32, mlp_ratio=2.0,
        rank_heads=4, head_hidden=64, decoder_dims=(16, 32)),
    "paper": dict(
        stem_widths=(64, 32, 64), depths=(3, 4, 10, 3), dims=(96, 192, 384, 768),
        global_dims=(96, 256, 512, 1024),
        global_every=(0, 4, 5, 3), sr_ratios=(8, 4, 2, 1), head_dim=8, mlp_ratio=3.0,
        rank_heads=8, head_hidden=256, decoder_dims=(64, 128)),
}


def fdp_model(preset: str = "compact") -> ml_collections.ConfigDict:
    """``model.fdp``: the FDP's fields (faceslueth_jax.models.fdp.from_config)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown FDP preset {preset!r}; choose from {sorted(PRESETS)}")
    return ml_collections.ConfigDict(dict(
        PRESETS[preset],
        frames=NUM_FRAMES,
        score_kernel=3,      # the rank scorer's 3D kernel over frames (x 3 x 3)
        score_init="random",  # 'rank': the scorer starts as rank pooling (models/fdp.py)
        dropout=0.0,
        decoder_grid=8,      # side of the decoder's first grid
        mse_weight=100.0,    # loss = CE + 100 x MSE(decoded, dynamic image)
    ))


def fdp_config(name: str, database: str, preset: str = "compact") -> ml_collections.ConfigDict:
    """An FDP experiment on ``database``: the records carry NUM_FRAMES grey frames per
    clip (data.build.clip_frames; data.synthetic.clip_frames for synthetic_me)."""
    c = base_config(name)
    c.data.name = database
    c.data.build.clip_frames = NUM_FRAMES
    # the paper's faces: dlib 68-point alignment (Haar boxes where dlib is missing,
    # noted in the dataset's metadata), grey, 64x64 (data.face_size)
    c.data.build.face_detector = "dlib_hog"
    c.data.build.face_align = "landmarks68"
    c.data.synthetic.clip_frames = NUM_FRAMES
    c.data.face_size = FACE_SIZE
    c.data.flow_size = 28  # FDP reads no flow; small, for the logistic-regression baseline
    c.model = ml_collections.ConfigDict(dict(name="fdp", preset=preset, fdp=fdp_model(preset)))

    # The reference's recipe: torch Adam lr 1e-4 with weight_decay 1e-3, which adds
    # 1e-3 * w to the gradient (coupled L2: weight_decay_mode='l2'), batch 36, no
    # learning-rate decay.
    c.train.batch_size = 36
    c.train.last_batch = "short"  # the reference's DataLoader keeps a short last batch
    c.train.optimizer.update(lr=1e-4, weight_decay=1e-3, theta_lr=1e-4, theta_weight_decay=1e-3,
                             gamma=1.0, decay_epochs=0, eps=1e-8)
    c.train.optimizer.weight_decay_mode = "l2"
    # No augmentation: the reference's transforms (per the project's notes) are alignment,
    # grey, resizing and normalisation only. With train.augment=True the 'shift' recipe
    # mirrors and shifts all frames of a clip together (faceslueth_jax/data/augment.py).
    c.train.augment = False
    c.protocol.name = "loso"
    c.protocol.selection = "last_epoch"  # honest; the reference keeps the best test epoch
    return c
