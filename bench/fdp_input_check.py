"""Can a linear model read the synthetic class from FDP's input?

The tuned logistic regression (class-balanced, l2 by an inner CV over the training
subjects; ``models/logistic_regression.py``) under the LOSO folds of
``configs/fdp_synthetic.py``, on: the 8 grey frames, each frame minus frame 0, the
approximate-rank-pooled dynamic image (at 64 and 128 px), and the TV-L1 flow of the
same clips. Prints UF1 / UAR per input.

  python bench/fdp_input_check.py      # about 1 minute on 2 CPU cores (data built)
  python bench/fdp_input_check.py --aligned --peak_scale=2   # the 'aligned' variant

``--aligned``, ``--peak_scale``, ``--clip_length``: the synthetic data's variant fields
(``configs/fdp_aligned.py``); ``--inputs=frames`` leaves out the slower inputs.
"""

from __future__ import annotations

import argparse
import pathlib
import time

import jax.numpy as jnp
import numpy as np

from configs.fdp_synthetic import get_config
from faceslueth_jax.data import records, sources
from faceslueth_jax.evaluation import metrics
from faceslueth_jax.models import dynamic_image, logistic_regression
from faceslueth_jax.train import protocols


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--aligned", action="store_true")
    parser.add_argument("--peak_scale", type=float, default=1.0)
    parser.add_argument("--clip_length", type=int, default=9)
    parser.add_argument("--inputs", choices=("all", "frames"), default="all")
    args = parser.parse_args()
    config = get_config()
    config.data.synthetic.update(aligned=args.aligned, peak_scale=args.peak_scale,
                                 clip_length=args.clip_length)
    print(f"synthetic data: aligned={args.aligned}, peak_scale={args.peak_scale:g}, "
          f"clip_length={args.clip_length}", flush=True)
    data = records.read_builder(sources.prepare(config.data))
    folds = protocols.make_folds("loso", data.dataset, data.subject)
    subjects = protocols.subject_keys(data.dataset, data.subject)

    def score(name: str, features: np.ndarray) -> None:
        start = time.time()
        logits, _ = logistic_regression.tuned_fold_logits(
            features.reshape(len(features), -1), data.label, folds, subjects, 3)
        m = metrics.pooled_scores(data.label, logits.argmax(1), 3)
        print(f"{name:34s} UF1 {m['uf1']:.3f}  UAR {m['uar']:.3f}  ({time.time() - start:.0f} s)",
              flush=True)

    for size in (64,) if args.inputs == "frames" else (64, 128):
        frames = records.prepare_clip_frames(data.views["frames"], size)[..., 0]  # (N, T, S, S)
        score(f"frames, {size} px", frames)
        score(f"frame t - frame 0, {size} px", frames - frames[:, :1])
        score(f"dynamic image, {size} px",
              np.asarray(dynamic_image.dynamic_image(jnp.asarray(frames[..., None]))))
    if args.inputs == "all":
        score("TV-L1 flow (u, v, strain), 128 px", data.views["flow"])


if __name__ == "__main__":
    main()
