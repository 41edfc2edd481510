r"""Spotting micro- and macro-expressions in the built-in synthetic long videos, LOSO.

10 synthetic subjects, one 100 s video each at 30 fps (3000 frames, ~15 micro- and
~15 macro-expressions per video among head drift and shifts, blinks, lighting drift
and noise); the training-free spotter of the MDMD family (its threshold z chosen per
fold on the training subjects) and the learned spotter (SpotNet, every fold trained at
once, last epoch).

  python run.py --config=configs/spot_synthetic.py

Building the videos' features took about 10 minutes (620 s, beside other jobs) on a
2-core CPU on first use (30000 frames, four TV-L1 flows each); the run then took 49 s
with --config.protocol.seeds=3 (both spotters, every fold). Results: docs/spotting.md.
"""

import ml_collections


def spotting_config(name: str, data_name: str) -> ml_collections.ConfigDict:
    """The fields of every spotting run (``faceslueth_jax.spotting.experiment``)."""
    c = ml_collections.ConfigDict()
    c.name = name
    c.task = "spotting"
    c.seed = 0
    c.data = ml_collections.ConfigDict()
    c.data.name = data_name
    c.data.data_dir = "~/tensorflow_datasets"
    c.data.manual_dir = ""
    c.data.on_error = "raise"  # or 'skip': videos with a problem are left out, listed
    c.data.synthetic = ml_collections.ConfigDict(dict(
        num_subjects=10, num_frames=3000, fps=30.0, size=128, flow_size=64,
        micro_fraction=0.5, seed=0))
    # a database's long-video records (tfds_builders/long_video.py): class set, the face
    # crop's side for the flow, the face box's margin; overwrite rebuilds them
    c.data.build = ml_collections.ConfigDict(dict(classes="megc3", flow_size=64, margin=0.1,
                                                  overwrite=False))
    c.spotters = ("mdmd", "learned")
    # the training-free spotter's threshold z (noise units above the video's floor):
    # -1 = chosen per fold on the training subjects, else fixed for every fold
    c.mdmd = ml_collections.ConfigDict(dict(z=-1.0))
    # the learned spotter's input: W positions around a frame, of these spans' blocks
    c.learned = ml_collections.ConfigDict(dict(window=16, spans=("micro", "macro")))
    c.model = ml_collections.ConfigDict()
    c.model.name = "spot_net"
    c.model.preset = "spot"
    c.model.spot_net = ml_collections.ConfigDict(dict(frame_width=16, hidden=64, dropout=0.3))
    # seeds > 1: the learned spotter's seeds' probabilities averaged, each seed's F1 beside
    c.protocol = ml_collections.ConfigDict(dict(name="loso", seeds=1))
    c.train = ml_collections.ConfigDict()
    c.train.epochs = 15
    c.train.batch_size = 256
    c.train.augment = False
    c.train.class_balance = True
    c.train.label_smoothing = 0.0
    c.train.ema_decay = 0.0
    c.train.mixup_alpha = 0.0
    c.train.last_batch = "fill"
    c.train.scan_unroll = 0
    c.train.precision = "highest"
    c.train.compute_dtype = "float32"
    c.train.device_views = "float32"
    c.train.optimizer = ml_collections.ConfigDict(dict(
        lr=1e-3, weight_decay=1e-4, theta_lr=0.0, theta_weight_decay=0.0, gamma=0.9,
        decay_epochs=10, eps=1e-8))
    c.mesh = ml_collections.ConfigDict(dict(fold=0, data=0, num_devices=0))
    c.max_folds_per_chunk = 0
    c.device_memory_bytes = 0
    c.model_folder = True
    c.bootstrap_draws = 2000
    c.report = ml_collections.ConfigDict(dict(timelines=3))
    return c


def get_config(arg: str = ""):
    del arg
    return spotting_config("spot_synthetic", "synthetic_lv")
