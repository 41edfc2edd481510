r"""FDP against the tuned linear model on the same folds: on FDP's own input (the clip's
dynamic image at 64 px, the best a linear model reads of it) and on the TV-L1 flow.

  python bench/fdp_vs_linear.py --run=runs/fdp_aligned --run=runs/fdp_aligned_no_mse \
      --out=bench/runs/fdp_aligned/comparison.json

Each ``--run`` is a finished FDP LOSO run (its config.json and probabilities.npz: every
seed's last-epoch probabilities), recorded with the settings that tell the runs apart
(``SETTINGS``). The linear model (``models/logistic_regression.py``:
class-balanced, l2 by an inner CV over each fold's training subjects) is deterministic;
paired against the S seeds it is the same predictions S times. Reported per run: UF1 and
UAR mean ± std over seeds with the 95% interval of the mean (bootstrap over subjects),
and the paired differences FDP - linear (the same subject draws for both).
"""

from __future__ import annotations

import argparse
import json

import jax.numpy as jnp
import ml_collections
import numpy as np

from faceslueth_jax import atomic_files
from faceslueth_jax.data import records, sources
from faceslueth_jax.evaluation import bootstrap
from faceslueth_jax.models import dynamic_image, logistic_regression
from faceslueth_jax.train import protocols


def linear_predictions(data, folds, subjects, features: np.ndarray) -> np.ndarray:
    logits, _ = logistic_regression.tuned_fold_logits(
        features.reshape(len(features), -1), data.label, folds, subjects, len(data.class_names))
    return np.asarray(logits).argmax(1)


SETTINGS = ("mse_weight", "score_init", "class_balance", "epochs", "lr")


def run_settings(config: dict) -> dict:
    """What tells the compared FDP runs apart (SETTINGS), from a run's config.json."""
    f, t = config["model"]["fdp"], config["train"]
    return {"mse_weight": f["mse_weight"], "score_init": f.get("score_init", "random"),
            "class_balance": t["class_balance"], "epochs": t["epochs"],
            "lr": t["optimizer"]["lr"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", action="append", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    first = ml_collections.ConfigDict(json.loads(open(f"{args.run[0]}/config.json").read()))
    data = records.read_builder(sources.prepare(first.data))
    folds = protocols.make_folds("loso", data.dataset, data.subject)
    subjects = protocols.subject_keys(data.dataset, data.subject)
    k = len(data.class_names)
    frames = records.prepare_clip_frames(data.views["frames"], 64)
    linear = {"dynamic image, 64 px": linear_predictions(
                  data, folds, subjects, np.asarray(dynamic_image.dynamic_image(jnp.asarray(frames)))),
              "TV-L1 flow": linear_predictions(data, folds, subjects, data.views["flow"])}
    out = {"data": dict(first.data.synthetic), "linear": {}, "runs": {}}
    for name, p in linear.items():
        out["linear"][name] = bootstrap.seed_summary(data.label, p[None], subjects, k)
    for run in args.run:
        saved = np.load(f"{run}/probabilities.npz")
        assert list(saved["sample_id"]) == list(np.asarray(data.sample_id, str)), run
        predictions = saved["probs_last_epoch"].argmax(-1)  # (S, N)
        config = json.loads(open(f"{run}/config.json").read())
        if config["data"] != first.data.to_dict():
            raise SystemExit(f"{run} was trained on other data than {args.run[0]}: compare "
                             "runs on the same data in one file")
        entry = {**run_settings(config), "seeds": saved["seeds"].tolist(),
                 "fdp": bootstrap.seed_summary(data.label, predictions, subjects, k),
                 "minus_linear": {}}
        for name, p in linear.items():
            entry["minus_linear"][name] = bootstrap.paired_difference(
                data.label, predictions, np.repeat(p[None], len(predictions), 0), subjects, k)
        out["runs"][run] = entry
    atomic_files.write_json(args.out, out)
    for name, s in out["linear"].items():
        print(f"linear, {name:22s} UF1 {s['uf1']['mean']:.3f} {s['uf1']['ci95']}  "
              f"UAR {s['uar']['mean']:.3f} {s['uar']['ci95']}")
    for run, e in out["runs"].items():
        f = e["fdp"]
        settings = ", ".join(f"{k}={e[k]}" for k in SETTINGS)
        print(f"FDP {settings} ({run}): UF1 {f['uf1']['mean']:.3f} ± "
              f"{f['uf1']['std']:.3f} {f['uf1']['ci95']}  UAR {f['uar']['mean']:.3f} ± "
              f"{f['uar']['std']:.3f}")
        for name, d in e["minus_linear"].items():
            print(f"   - linear on {name}: UF1 {d['uf1']['difference']:+.3f} {d['uf1']['ci95']}")


if __name__ == "__main__":
    main()
