r"""The training-free spotter on a still face with two short expressions: a 400-frame
synthetic face (30 fps, sensor noise sigma 2 grey levels, no head motion, no blink),
expressions of 9 frames (0.3 s, peak 1 px at 128 px: lip corners at frames 120..128,
brows at 260..268), spotted at several thresholds z; MEGC counts at IoU >= 0.5.

  python bench/spot_still_face.py [--out=bench/runs/spotting/still_face.json]

The case an earlier spotter failed (0 of 2 found, 4 false positives: an echo after
each expression and intervals three times too long). About 20 s on 2 CPU cores.
"""

from __future__ import annotations

import json
import sys

import numpy as np
from absl import app, flags

from faceslueth_jax import atomic_files
from faceslueth_jax.evaluation.spotting_metrics import Interval, spotting_scores
from faceslueth_jax.inference.analyze import DEFAULT_Z
from faceslueth_jax.preprocess import video_features
from faceslueth_jax.spotting import mdmd
from tfds_builders.synthetic_me import synthetic_faces as faces

flags.DEFINE_string("out", "bench/runs/spotting/still_face.json", "where the counts go")
FLAGS = flags.FLAGS
EVENTS = ((120, 128, 1), (260, 268, 2))  # onset, offset, class (1 positive, 2 surprise)


def frames(seed: int = 5, num_frames: int = 400):
    rng = np.random.default_rng(seed)
    face = faces.make_subject(rng, 128)
    neutral = faces._neutral(face)
    fields = [faces._with_peak(faces._field(faces._class_bumps(face, label), 128), 1.0)
              for _, _, label in EVENTS]
    for t in range(num_frames):
        d = np.zeros((128, 128, 2), np.float32)
        for (onset, offset, _), field in zip(EVENTS, fields):
            if onset <= t <= offset:
                profile = faces._amplitude_profile(offset - onset + 1, 4, 0.0)
                d += np.float32(profile[t - onset]) * field
        image = faces.warp(neutral, d) if d.any() else neutral
        yield np.clip(image + 2.0 * rng.standard_normal(image.shape), 0, 255).astype(np.float32)


def main(argv):
    del argv
    feats = video_features.features(frames(), 30.0, crop="whole")
    truth = [Interval(onset, offset, "micro") for onset, offset, _ in EVENTS]
    rows = []
    for z in sorted({3.0, DEFAULT_Z, 5.0}):
        found = mdmd.spot(feats.blocks, video_features.Windows.for_fps(30.0), z, feats.eyes,
                          video_features.FLOW_SIZE, feats.head)
        s = spotting_scores({"still": (found, truth)})["overall"]
        rows.append({"z": z, "default": z == DEFAULT_Z, "tp": s["tp"], "fp": s["fp"],
                     "fn": s["fn"], "spotted": [[i.onset, i.offset, i.kind] for i in found]})
        print(f"z = {z:g}{' (default)' if z == DEFAULT_Z else ''}: TP {s['tp']} FP {s['fp']} "
              f"FN {s['fn']}  {[(i.onset, i.offset, i.kind) for i in found]}")
    atomic_files.write_json(FLAGS.out, {"truth": [list(e[:2]) for e in EVENTS], "rows": rows})
    return 0


if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)))
