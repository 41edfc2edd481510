"""The record schema every micro-expression builder writes.

flow       (H, W, 3) float32   u, v, optical strain from onset to apex
apex       (S, S, 1) uint8     apex face (grey)
onset      (S, S, 1) uint8     onset face, where the database releases it
label      ClassLabel
subject    Text                subject id as the database spells it
dataset    Text                source database (casme2, samm, smic, ...)
sample_id  Text                unique within the dataset
onset_frame, apex_frame, offset_frame   int32   frame numbers, where the builder
                               reads the database's frames (apex_frame is the
                               sheet's or the spotted one)

Only Tensor/ClassLabel/Text features, so TFDS writes and reads array_record
without TensorFlow.
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

MEGC_CLASSES = ("negative", "positive", "surprise")  # the MEGC2019 3-class set


def me_features(flow_size: int, face_size: int, class_names, with_onset: bool,
                with_frame_numbers: bool = False) -> tfds.features.FeaturesDict:
    features = {
        "flow": tfds.features.Tensor(shape=(flow_size, flow_size, 3), dtype=np.float32),
        "apex": tfds.features.Tensor(shape=(face_size, face_size, 1), dtype=np.uint8),
        "label": tfds.features.ClassLabel(names=list(class_names)),
        "subject": tfds.features.Text(),
        "dataset": tfds.features.Text(),
        "sample_id": tfds.features.Text(),
    }
    if with_onset:
        features["onset"] = tfds.features.Tensor(shape=(face_size, face_size, 1), dtype=np.uint8)
    if with_frame_numbers:
        for name in ("onset_frame", "apex_frame", "offset_frame"):
            features[name] = tfds.features.Tensor(shape=(), dtype=np.int32)
    return tfds.features.FeaturesDict(features)
