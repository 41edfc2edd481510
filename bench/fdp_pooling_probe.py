r"""What does FDP's pooled representation carry, before any training?

On the 'aligned' synthetic variant (configs/fdp_aligned.py), FDP is initialised (seeds
0-2) and its encoder run on every clip (BatchNorm on batch statistics, as in training).
From the frame features X_t (B, T, h, w, C) and the rank scorer's scores R_t, the
temporal pooling P = (1/T) sum_t R_t (x) X_t is formed with different score rules:

  as built       R_t = Conv3d(X)_t + fw_t / max|fw|   (the model's scorer at init)
  rank pooling   R_t = fw_t / max|fw|                  (approximate rank pooling only)
  centred        R_t - mean_t R_t                      (the scorer, made to sum to zero)
  mean           R_t = 1                               (appearance only: no dynamics)

and each P is read by the tuned linear model (``models/logistic_regression.py``) under
the same LOSO folds as the FDP runs. ``static share`` is the fraction of P's energy
that the clip's mean frame feature explains, |P(static)|^2 / |P|^2 with P(static) the
pooling of X_t replaced by mean_t X_t: near 1, the representation is the face's
appearance, and the subject's identity swamps the expression. For reference, the same
linear model reads the frames' own dynamic image (pixels, 64 px) averaged to g x g
blocks, g = 64 .. 2: how much of the class survives the encoder's 32-fold reduction
of the image side if nothing but averaging is done. Prints one row per rule (UF1 mean
over seeds and its range) and writes them as JSON with ``--out``.

  python bench/fdp_pooling_probe.py --out=bench/runs/fdp_aligned/pooling_probe.json
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np

from configs.fdp_aligned import get_config
from faceslueth_jax import atomic_files
from faceslueth_jax.data import model_inputs, records, sources
from faceslueth_jax.evaluation import metrics
from faceslueth_jax.models import fdp, logistic_regression, registry
from faceslueth_jax.models.dynamic_image import dynamic_image
from faceslueth_jax.train import protocols


def score_rules(scores: jnp.ndarray) -> dict:
    """(B, T, h, w, R) scores of the scorer at init -> the probe's score rules."""
    rank = jnp.broadcast_to(
        jnp.asarray(fdp.rank_scores(scores.shape[1]))[None, :, None, None, None], scores.shape)
    return {"as built": scores, "rank pooling": rank,
            "centred": scores - scores.mean(axis=1, keepdims=True),
            "mean": jnp.ones_like(scores)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    config = get_config()
    data = model_inputs.prepared_data(config, records.read_builder(sources.prepare(config.data)))
    folds = protocols.make_folds("loso", data.dataset, data.subject)
    subjects = protocols.subject_keys(data.dataset, data.subject)
    frames = jnp.asarray(data.views["frames"])
    module = registry.from_config(config.model, len(data.class_names))

    def probe(features):
        logits, _ = logistic_regression.tuned_fold_logits(
            features.reshape(len(features), -1), data.label, folds, subjects, 3)
        return metrics.pooled_scores(data.label, logits.argmax(1), 3)

    pixels = {}
    image = np.asarray(dynamic_image(frames))[..., 0]           # (N, S, S)
    n, side = image.shape[:2]
    for g in (64, 16, 8, 4, 2):
        blocks = image.reshape(n, g, side // g, g, side // g).mean(axis=(2, 4))
        m = probe(blocks)
        pixels[f"{g}x{g}"] = {"uf1": round(float(m["uf1"]), 4), "uar": round(float(m["uar"]), 4)}
        print(f"dynamic image averaged to {g}x{g}: UF1 {m['uf1']:.3f}  UAR {m['uar']:.3f}",
              flush=True)
    results: dict[str, dict] = {}
    for seed in range(args.seeds):
        variables = module.init(jax.random.PRNGKey(seed), {"frames": frames[:2]}, train=False)
        _, state = module.apply(variables, {"frames": frames}, train=True,
                                mutable=["batch_stats", "losses", "intermediates"],
                                capture_intermediates=True)
        inter = state["intermediates"]
        b, t = frames.shape[:2]
        x = inter["encoder"]["__call__"][0]
        x = x.reshape((b, t) + x.shape[1:])
        scores = inter["rank_scorer"]["__call__"][0]
        static = jnp.broadcast_to(x.mean(axis=1, keepdims=True), x.shape)
        for name, s in score_rules(scores).items():
            p = np.asarray(fdp.temporal_pool(s, x)).reshape(b, -1)
            p_static = np.asarray(fdp.temporal_pool(s, static)).reshape(b, -1)
            share = float(np.sum(p_static ** 2) / max(np.sum(p ** 2), 1e-12))
            start = time.time()
            m = probe(p)
            r = results.setdefault(name, {"uf1": [], "uar": [], "static_share": []})
            r["uf1"].append(round(float(m["uf1"]), 4))
            r["uar"].append(round(float(m["uar"]), 4))
            r["static_share"].append(round(share, 4))
            print(f"seed {seed}  {name:13s} UF1 {m['uf1']:.3f}  UAR {m['uar']:.3f}  "
                  f"static share {share:.3f}  ({time.time() - start:.0f} s)", flush=True)
    print("\nscore rule     UF1 mean [min, max] over init seeds   static share")
    for name, r in results.items():
        print(f"{name:13s}  {np.mean(r['uf1']):.3f} [{min(r['uf1']):.3f}, {max(r['uf1']):.3f}]"
              f"            {np.mean(r['static_share']):.3f}")
    if args.out:
        atomic_files.write_text(args.out, json.dumps(
            {"config": "configs/fdp_aligned.py", "seeds": list(range(args.seeds)),
             "probe": "tuned logistic regression, LOSO, 8 subjects", "rules": results,
             "dynamic_image_pixels": pixels},
            indent=1) + "\n")


if __name__ == "__main__":
    main()
