"""Defaults every experiment config starts from, and the two model presets.

``compact``: trains on a 2-core CPU in minutes. Flow 28x28, faces 56x56;
  motion stem 16, SOA stages 24/32/48/48 (strides 2/1/2/1) -> 7x7x48;
  Swin patch 8, embed 48, one stage of depth 2, 3 heads, window 7 -> 7x7x48;
  head 128 -> 64. (Forward and backward of a batch of 32: 0.08 s on 2 cores,
  3.6x faster than stages 32/32/64/64 with a two-stage patch-4 Swin.)
``paper``: the reference sizes. 224x224 inputs; motion stem 180 (stride 2)
  then 128, SOA stages 128/128/256/512 (strides 1/2/2/2) -> 14x14x512;
  Swin patch 4, embed 128, depths 2/2/6, heads 4/8/16, window 7 -> 14x14x512;
  head 512 -> 128.
"""

from __future__ import annotations

import ml_collections

PRESETS = {
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


def base_config(name: str, preset: str = "compact") -> ml_collections.ConfigDict:
    if preset not in PRESETS:
        raise ValueError(f"unknown model preset {preset!r}; choose from {sorted(PRESETS)}")
    p = PRESETS[preset]
    c = ml_collections.ConfigDict()
    c.name = name
    c.seed = 0

    c.data = ml_collections.ConfigDict()
    c.data.name = "synthetic_me"
    c.data.data_dir = "~/tensorflow_datasets"
    c.data.manual_dir = ""
    c.data.synthetic = ml_collections.ConfigDict(dict(
        num_subjects=16, clips_per_subject=12, orientation_deg=90.0, seed=0, size=128,
        clip_frames=0))  # T > 0: also T frames uniform over each clip (FDP's input)
    # How a licensed database's builder makes its records (tfds_builders/me_database.py):
    # class set, stored flow and face sides, flow method, apex spotting where the sheet
    # has none. The model's inputs are then resized to flow_size/face_size below.
    c.data.build = ml_collections.ConfigDict(dict(
        classes="megc3", flow_size=max(112, p["flow_size"]), face_size=max(112, p["face_size"]),
        flow_method="tvl1", flow_norm="raw", apex="flow", margin=0.1,
        face_color=False,  # True: RGB face crops (the reference's input), else grey
        jitter_frames=0,  # K > 0: K-frame windows at onset and apex for temporal jitter
        clip_frames=0))  # T > 0: T grey frames uniform over onset..offset (FDP's input)
    c.data.on_error = "raise"  # or 'skip': leave out bad samples, listed in the metadata
    c.data.flow_size = p["flow_size"]
    c.data.face_size = p["face_size"]
    c.data.flow_norm = "minmax"  # per sample and channel to 0..1, as STSTNet/HTNet
    c.data.use_onset = True
    c.data.face_norm = "standardise"  # per sample; 'imagenet': x/255, ImageNet mean/std (RGB)

    c.model = ml_collections.ConfigDict()
    c.model.preset = preset
    c.model.name = "faceslueth_r"  # faceslueth_r | htnet | fdp
    c.model.motion_input = "flow"  # or 'frame_difference' (apex - onset), as the reference
    c.model.motion = ml_collections.ConfigDict(dict(
        p["motion"], soa_mode="steerable", theta_init_deg=72.0, soa_reduction=16))
    c.model.appearance = ml_collections.ConfigDict(dict(
        p["appearance"], mlp_ratio=4.0, drop_path_rate=0.0))
    c.model.head_widths = p["head_widths"]
    # > 0 (21 in the reference): concatenate the sample's multi-hot FACS AU vector after
    # fc_1. The codes come from the coding sheet, also at test time: that leaks labels.
    c.model.au_dim = 0

    c.protocol = ml_collections.ConfigDict()
    c.protocol.name = "loso"
    c.protocol.selection = "last_epoch"  # honest; 'best_test_epoch' is the optimistic rule

    c.train = ml_collections.ConfigDict()
    c.train.epochs = 30
    c.train.batch_size = 32
    c.train.augment = True
    c.train.max_shift_fraction = 0.06
    # 'shift': mirror + translation (max_shift_fraction); 'reference': the PyTorch
    # reference's flip 0.5, rotation +-rotation_deg, crop with crop_padding px of zeros,
    # after a temporal jitter of onset and apex (when the records hold jitter windows).
    c.train.augment_recipe = "shift"
    c.train.rotation_deg = 3.0
    c.train.crop_padding = 15
    c.train.scan_unroll = 0      # 0: the whole epoch unrolled on CPU, a rolled scan elsewhere
    c.train.optimizer = ml_collections.ConfigDict(dict(
        lr=8e-4, weight_decay=0.6, theta_lr=5e-3, theta_weight_decay=0.2,
        gamma=0.987, decay_epochs=50, eps=1e-8))

    # Placement (faceslueth_jax/train/placement.py): a (fold x data) device mesh;
    # 0 = fit the folds to the devices (data-parallel only with at least twice as many
    # devices as folds: then each fold gets a group of D devices, G >= folds).
    c.mesh = ml_collections.ConfigDict(dict(fold=0, data=0, num_devices=0))
    # Folds per compiled program: 0 = as many as fit in device memory (measured from
    # the compiled program), one per device on CPU unless device_memory_bytes is set.
    c.max_folds_per_chunk = 0
    c.device_memory_bytes = 0  # 0: the device's own limit
    # Interruption: orbax checkpoints in <workdir>/checkpoints; rerunning the same
    # command with the same --workdir resumes from the newest readable one.
    c.checkpoint = ml_collections.ConfigDict(dict(every_epochs=5, keep=3))
    # Multi-host (faceslueth_jax/distributed.py): automatic on TPU pods, SLURM, Open MPI;
    # elsewhere distributed=True with coordinator_address host:port, num_processes, process_id.
    c.distributed = False
    c.coordinator_address = ""
    c.num_processes = 1
    c.process_id = 0

    c.baseline = ml_collections.ConfigDict()
    c.baseline.logistic_regression = True
    return c


def reference_network(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The PyTorch reference's network (Svardfox/FaceSleuth; its sizes are the ``paper``
    preset's): motion stream on the apex-minus-onset frame difference, the rotate-and-pool SOA,
    stochastic depth 0.1 in the Swin (its default there). The AU vector stays as set
    (model.au_dim: 21 in the reference, 0 = honest)."""
    c.model.motion_input = "frame_difference"
    c.model.motion.soa_mode = "reference"
    c.model.appearance.drop_path_rate = 0.1
    return c
