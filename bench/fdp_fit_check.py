r"""Does a trained FDP fit its own training clips, and do its BatchNorm statistics hold?

  python bench/fdp_fit_check.py --model=runs/fdp_aligned/model \
      --out=bench/runs/fdp_aligned/fit_check.json

``--model``: the model folder of an FDP LOSO run. Every member (one fold of one seed) is
applied to its fold's training clips and to its test subject's clips, twice: in eval mode
(BatchNorm on the running statistics the member kept, as every reported score is) and with
BatchNorm on the statistics of the clips at hand (train mode, nothing updated). Pooled over
the members, the UF1 of each: a model that fits its training clips on batch statistics but
not on its running statistics has broken running statistics; one that fits its training
clips but not its test subjects has learnt its training subjects, not the class.
"""

from __future__ import annotations

import argparse
import json

import jax
import jax.numpy as jnp
import numpy as np

from faceslueth_jax import atomic_files
from faceslueth_jax.data import model_inputs, records, sources
from faceslueth_jax.evaluation import metrics
from faceslueth_jax.inference import model_folder
from faceslueth_jax.train import protocols


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    trained = model_folder.restore(args.model)
    data = model_inputs.prepared_data(
        trained.config, records.read_builder(sources.prepare(trained.config.data)))
    keys = protocols.subject_keys(data.dataset, data.subject)
    frames = jnp.asarray(data.views["frames"])
    module = trained.module

    @jax.jit
    def predict(variables, x):
        eval_logits = module.apply(variables, {"frames": x}, train=False)
        batch_logits, _ = module.apply(variables, {"frames": x}, train=True,
                                       mutable=["batch_stats", "losses"])
        return eval_logits.argmax(-1), batch_logits.argmax(-1)

    k = len(data.class_names)
    pooled = {(part, bn): ([], []) for part in ("train", "test") for bn in ("running", "batch")}
    for i, member in enumerate(trained.meta["members"]):
        variables = jax.tree.map(lambda a, m=i: jnp.asarray(a[m]), trained.variables)
        for part, mask in (("train", keys != member["fold"]), ("test", keys == member["fold"])):
            running, batch = predict(variables, frames[mask])
            for bn, p in (("running", running), ("batch", batch)):
                pooled[part, bn][0].append(data.label[mask])
                pooled[part, bn][1].append(np.asarray(p))
    out = {"model": args.model, "members": len(trained.meta["members"]), "uf1": {}}
    for (part, bn), (labels, predicted) in pooled.items():
        labels, predicted = np.concatenate(labels), np.concatenate(predicted)
        m = metrics.pooled_scores(labels, predicted, k)
        share = float(np.mean(predicted == np.bincount(labels, minlength=k).argmax()))
        out["uf1"][f"{part}, {bn} statistics"] = {
            "uf1": round(float(m["uf1"]), 4), "uar": round(float(m["uar"]), 4),
            "majority_share": round(share, 4)}
        print(f"{part:5s} clips, BatchNorm on {bn:7s} statistics: UF1 {m['uf1']:.3f}  "
              f"UAR {m['uar']:.3f}  (predicted the majority class: {share:.2f})")
    if args.out:
        atomic_files.write_text(args.out, json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
