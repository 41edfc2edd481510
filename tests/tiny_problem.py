"""A tiny model and data set that train in seconds, shared by trainer tests."""

from __future__ import annotations

import ml_collections
import numpy as np

from configs.common import base_config
from faceslueth_jax.models import registry
from faceslueth_jax.train import fold_trainer, placement, protocols


def tiny_config() -> ml_collections.ConfigDict:
    c = base_config("tiny")
    c.data.flow_size, c.data.face_size = 16, 32
    model = c.model.faceslueth_r
    # two SOA stages (each stage adds seconds of compiling; the trainer's properties
    # need one angle per stage, not four) -> 4x4x8, as the Swin's patch-8 map of 32 px
    model.motion.update(stem_widths=(4,), widths=(4, 8), strides=(2, 2))
    model.appearance.update(patch_size=8, embed_dim=8, depths=(1,), num_heads=(1,),
                            window_size=4)
    model.head_widths = (16, 8)
    c.train.epochs = 2
    c.train.batch_size = 8
    c.train.scan_unroll = 1  # a rolled scan compiles fastest; the data is tiny
    return c


def motion_only(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """``config`` with FaceSleuth-R's motion stream alone (SOA, BatchNorm, convolutions;
    no Swin): half the tiny model's compile time, for tests of the trainer,
    checkpoints and placement, whose property does not depend on the Swin stream."""
    config.model.faceslueth_r.use_appearance = False
    return config


def appearance_only(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """``config`` with the Swin stream alone (stochastic depth, LayerNorm, the head's
    BatchNorm; no SOA): for placement tests of per-sample randomness."""
    config.model.faceslueth_r.use_motion = False
    return config


def placement_config() -> ml_collections.ConfigDict:
    """For comparing placements: Adam's update ~ lr * sign(g) for tiny gradients
    turns last-bit differences in g (convolutions summed in another order) into
    +-lr differences; with eps = 1 the update is ~linear in g and they stay tiny."""
    c = tiny_config()
    c.train.optimizer.eps = 1.0
    c.train.optimizer.lr = 0.05
    return c


def trainer_config() -> ml_collections.ConfigDict:
    """The motion stream with ``placement_config``'s optimiser: the trainer, step,
    checkpoint and layout tests share it (and the data ``trainer_data``), so that one
    test's compiled programs serve the others through the compilation cache."""
    return motion_only(placement_config())


def trainer_data():
    """Uneven subjects (padded fold tables, filled last batches)."""
    return tiny_data(per_subject=[5, 7, 4, 8])


def tiny_data(num_subjects: int = 4, per_subject=6, seed: int = 0):
    """Random views whose class shows in the mean vertical flow and in a fixed
    pattern on the faces (learnable; pure-noise faces would only be memorised).
    ``per_subject``: clips of every subject, or a list of each subject's count
    (uneven folds: their tables are padded, their last batches filled)."""
    sizes = ([per_subject] * num_subjects if isinstance(per_subject, int)
             else list(per_subject))
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    labels = rng.integers(0, 3, n).astype(np.int32)
    sign = (labels - 1.0)[:, None, None, None]
    flow = rng.normal(size=(n, 16, 16, 3)).astype(np.float32)
    flow[..., 1:2] += sign[..., 0:1] * 1.5
    pattern = rng.normal(size=(1, 32, 32, 1))
    faces = [(0.5 * rng.normal(size=(n, 32, 32, 1)) + sign * pattern).astype(np.float32)
             for _ in range(2)]
    views = {"flow": flow, "apex": faces[0], "onset": faces[1]}
    subjects = np.repeat([f"s{i}" for i in range(len(sizes))], sizes)
    folds = protocols.loso(np.array(["tiny"] * n), subjects)
    return views, labels, folds


def tiny_model(config=None):
    return registry.from_config((config or tiny_config()).model, 3)


def tiny_trainer(config, views, labels, folds, devices: int = 1, fold: int = 0, data: int = 0):
    mesh = placement.make_mesh(folds.num_folds, config.train.batch_size, fold=fold, data=data,
                               num_devices=devices)
    return fold_trainer.FoldTrainer(tiny_model(config), config.train, views, labels, mesh,
                                    probes=registry.probes(config.model),
                                    slow_params=registry.slow_params(config.model))
