r"""The logistic-regression baseline of a config, without training the deep model.

  python bench/linear_baseline.py --config=configs/lodo_composite.py \
      --config.data.manual_dir=../shared/data/htnet_composite

The same figures as the ``logistic_regression_baseline`` of that config's run
(metrics.json): an L2 logistic regression on the 28x28 flow, fitted per fold on
its training subjects only (``--config.baseline.tuning``: 'inner_cv', the default,
class-balanced with l2 chosen by an inner CV over the training subjects; or
'fixed'); UF1 / UAR pooled over every fold, per database and their mean, with
95% subject-bootstrap intervals. Prints them as JSON, with the seconds it took.
"""

from __future__ import annotations

import json
import time

from absl import app, flags
from ml_collections import config_flags

from faceslueth_jax.data import model_inputs, records, sources
from faceslueth_jax.evaluation import baseline, run_results, seed_scores
from faceslueth_jax.train import protocols

config_flags.DEFINE_config_file("config", None, "Experiment config file.", lock_config=True)
flags.mark_flags_as_required(["config"])


def main(argv):
    del argv
    config = flags.FLAGS.config
    config.baseline.logistic_regression = True
    builder = sources.prepare(config.data)
    data = model_inputs.prepared_data(config, records.read_builder(builder))
    folds = protocols.make_folds(config.protocol.name, data.dataset, data.subject)
    started = time.perf_counter()
    logits, facts = baseline.logits(config, data, folds)
    seconds = time.perf_counter() - started
    scores = run_results.logits_scores(data, logits)
    interval = seed_scores.uncertainty(data, logits.argmax(-1)[None])
    keep = ("uf1", "uar", "accuracy")
    out = {"config": config.name, "protocol": config.protocol.name, "samples": len(data),
           "folds": folds.num_folds, **{k: scores[k] for k in keep},
           "ci95": {k: interval[k]["ci95"] for k in ("uf1", "uar")}, "fit": facts,
           "seconds": round(seconds, 1)}
    if "per_group" in scores:
        out["per_database"] = {g: {k: s[k] for k in keep} for g, s in scores["per_group"].items()}
        out["mean_over_databases"] = {k: scores["mean_over_groups"][k] for k in keep}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    app.run(main)
