"""How much the best-test-epoch rule gives a model that learned nothing.

The references keep, for each held-out subject, the epoch with the best test
accuracy. On LOSO folds of a few samples that choice alone raises the pooled
score. Here a no-skill classifier predicts every test sample at every epoch by
an independent draw from the training classes' frequencies; per fold the epoch
with the most correct test predictions is kept (the first on ties, as
``evaluation.selection``), and UF1 / UAR are computed on the pooled predictions:

    UF1_E = UF1( concat_f argmax_{e <= E} acc_f(e) predictions )

for E epochs, averaged over ``--trials`` draws. Real training gives epochs that are
correlated, not independent, so this is an upper bound on the gain from selection
alone for a model with no skill; it is the scale against which a published
best-test-epoch figure should be read.

    python bench/selection_bias.py [--manual_dir=../shared/data/htnet_composite]

Reads the subjects and labels of the composite as HTNet released it (its CSV only).
"""

from __future__ import annotations

import csv
import pathlib


import numpy as np
from absl import app, flags

from faceslueth_jax.evaluation import metrics

_MANUAL_DIR = flags.DEFINE_string("manual_dir", "../shared/data/htnet_composite",
                                  "folder holding combined_3_class2_for_optical_flow.csv")
_EPOCHS = flags.DEFINE_list("epochs", ["1", "5", "20", "100", "800"], "schedules to score")
_TRIALS = flags.DEFINE_integer("trials", 20, "random draws per schedule")


def composite_folds(manual_dir) -> tuple[np.ndarray, list]:
    """Labels (N,) and LOSO folds (a list of sample-index arrays) of the composite."""
    path = pathlib.Path(manual_dir) / "combined_3_class2_for_optical_flow.csv"
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    labels = np.array([int(r["label"]) for r in rows])
    subjects = np.array([f"{r['dataset']}/{r['sub']}" for r in rows])
    return labels, [np.flatnonzero(subjects == s) for s in np.unique(subjects)]


def best_epoch_scores(labels, folds, epochs: int, rng, num_classes: int = 3) -> dict:
    predictions = np.empty_like(labels)
    for test in folds:
        train = np.setdiff1d(np.arange(len(labels)), test)
        prior = np.bincount(labels[train], minlength=num_classes) / len(train)
        draws = rng.choice(num_classes, size=(epochs, len(test)), p=prior)
        best = int(np.argmax((draws == labels[test]).sum(axis=1)))
        predictions[test] = draws[best]
    return metrics.scores(metrics.confusion_matrix(labels, predictions, num_classes))


def main(argv):
    del argv
    labels, folds = composite_folds(_MANUAL_DIR.value)
    rng = np.random.default_rng(0)
    print(f"no-skill classifier, {len(folds)} LOSO folds, {len(labels)} samples; "
          f"mean of {_TRIALS.value} draws")
    print(f"{'epochs':>7} {'UF1':>7} {'UAR':>7} {'acc':>7}")
    for epochs in map(int, _EPOCHS.value):
        s = [best_epoch_scores(labels, folds, epochs, rng) for _ in range(_TRIALS.value)]
        print(f"{epochs:>7} " + " ".join(f"{np.mean([x[k] for x in s]):7.4f}"
                                          for k in ("uf1", "uar", "accuracy")))


if __name__ == "__main__":
    app.run(main)
