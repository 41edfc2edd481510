"""The record schema every micro-expression builder writes.

flow       (H, W, 3) float32   u, v, optical strain from onset to apex
apex       (S, S, C) uint8     apex face: C = 1 grey, or 3 RGB (config face_color)
onset      (S, S, C) uint8     onset face, where the database releases it
label      ClassLabel
subject    Text                subject id as the database spells it
dataset    Text                source database (casme2, samm, smic, ...)
sample_id  Text                unique within the dataset
onset_frame, apex_frame, offset_frame   int32   frame numbers, where the builder
                               reads the database's frames (apex_frame is the
                               sheet's or the spotted one)
au         (21,) float32       multi-hot FACS action units in
                               ``action_units.AU_ORDER``, for databases whose
                               sheet codes them (not SMIC, not composites with SMIC)
onset_window (K, S, S, C) uint8  with jitter_frames K > 0: frames onset+min(i, s),
apex_window  (K, S, S, C) uint8  and apex-min(K-1-i, s), i = 0..K-1
jitter_span  int32             s = min(J, K-1), J = int(0.15 (apex - onset) / 4)
frames     (T, S, S, 1) uint8  with clip_frames T > 0: grey faces of frames
                               ``clip_frame_numbers(onset, offset, T)``, T positions
                               uniform over the whole clip (FDP's input), cropped
                               with the same face box as the other faces

Only Tensor/ClassLabel/Text features, so TFDS writes and reads array_record
without TensorFlow.
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from faceslueth_jax.preprocess.clip_record import clip_frame_numbers  # noqa: F401 (re-exported)
from tfds_builders.action_units import AU_DIM

MEGC_CLASSES = ("negative", "positive", "surprise")  # the MEGC2019 3-class set


def me_features(flow_size: int, face_size: int, class_names, with_onset: bool,
                with_frame_numbers: bool = False, channels: int = 1, with_au: bool = False,
                jitter_frames: int = 0, clip_frames: int = 0) -> tfds.features.FeaturesDict:
    face = (face_size, face_size, channels)
    features = {
        "flow": tfds.features.Tensor(shape=(flow_size, flow_size, 3), dtype=np.float32),
        "apex": tfds.features.Tensor(shape=face, dtype=np.uint8),
        "label": tfds.features.ClassLabel(names=list(class_names)),
        "subject": tfds.features.Text(),
        "dataset": tfds.features.Text(),
        "sample_id": tfds.features.Text(),
    }
    if with_onset:
        features["onset"] = tfds.features.Tensor(shape=face, dtype=np.uint8)
    if with_frame_numbers:
        for name in ("onset_frame", "apex_frame", "offset_frame"):
            features[name] = tfds.features.Tensor(shape=(), dtype=np.int32)
    if with_au:
        features["au"] = tfds.features.Tensor(shape=(AU_DIM,), dtype=np.float32)
    if jitter_frames:
        windows = ("onset_window", "apex_window") if with_onset else ("apex_window",)
        for name in windows:
            features[name] = tfds.features.Tensor(shape=(jitter_frames,) + face, dtype=np.uint8)
        features["jitter_span"] = tfds.features.Tensor(shape=(), dtype=np.int32)
    if clip_frames:
        features["frames"] = tfds.features.Tensor(shape=(clip_frames, face_size, face_size, 1),
                                                  dtype=np.uint8)
    return tfds.features.FeaturesDict(features)


