"""Where a run fails: its scores per subject and per class, from ``probabilities.npz``
(every seed's class probabilities of every sample, per selection rule).

For each selection rule and aggregate (``single_seed`` with one seed; else
``seed_mean``: each seed scored, then averaged, and ``ensemble``: the seeds'
probabilities averaged, then scored, as ``predictions.csv`` is):

  per_subject.csv  subject, database, samples, correct, accuracy, UF1 of the subject's
                   samples (UF1 as the pooled figure computes it: the mean F1 over the
                   classes the subject shows or is predicted as)
  per_class.csv    precision TP/(TP+FP), recall TP/(TP+FN), F1, support (TP+FN) and
                   predicted (TP+FP) of each class, pooled and per database (a seed
                   mean over the seeds where it is defined: precision needs TP+FP > 0)
"""

from __future__ import annotations

import warnings

import numpy as np

from faceslueth_jax.evaluation import metrics, selection

SUBJECT_HEADER = ["subject", "database", "samples", "selection", "optimistic", "aggregate",
                  "correct", "accuracy", "uf1"]
CLASS_HEADER = ["selection", "optimistic", "aggregate", "scope", "class", "precision",
                "recall", "f1", "support", "predicted"]


def rules(npz) -> list[str]:
    return [k[len("probs_"):] for k in npz if k.startswith("probs_")]


def aggregates(probs: np.ndarray) -> dict:
    """Aggregate name -> (M', N) predicted classes: each seed's, or the ensemble's."""
    seeds = probs.argmax(-1)
    if len(probs) == 1:
        return {"single_seed": seeds}
    return {"seed_mean": seeds, "ensemble": probs.mean(0).argmax(-1)[None]}


def _cell(value) -> str:
    return "" if value is None or not np.isfinite(value) else f"{value:.4f}"


def class_counts(labels, predicted, num_classes: int) -> dict:
    """Per class: precision, recall, F1 (NaN where undefined), support, predicted."""
    cm = metrics.confusion_matrix(labels, predicted, num_classes).astype(np.float64)
    tp, support, guessed = np.diag(cm), cm.sum(1), cm.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"precision": tp / guessed, "recall": tp / support,
                "f1": 2 * tp / (support + guessed), "support": support, "predicted": guessed}


def per_subject_rows(npz) -> list:
    """per_subject.csv's rows, subjects in the order they first appear."""
    labels, subjects = np.asarray(npz["label"]), np.asarray(npz["subject"])
    num_classes = len(npz["class_names"])
    rows = []
    for rule in rules(npz):
        for aggregate, predicted in aggregates(np.asarray(npz[f"probs_{rule}"])).items():
            for subject in dict.fromkeys(subjects.tolist()):
                mask = subjects == subject
                correct = (predicted[:, mask] == labels[mask]).sum(1)
                uf1 = [metrics.scores(metrics.confusion_matrix(labels[mask], p[mask],
                                                               num_classes))["uf1"]
                       for p in predicted]
                database, _, name = subject.partition("/")
                rows.append([name, database, int(mask.sum()), rule,
                             str(selection.OPTIMISTIC[rule]).lower(), aggregate,
                             f"{correct.mean():.2f}".rstrip("0").rstrip("."),
                             _cell(correct.mean() / mask.sum()), _cell(float(np.mean(uf1)))])
    return rows


def per_class_rows(npz) -> list:
    """per_class.csv's rows: pooled, then each database (when there are several)."""
    labels, datasets = np.asarray(npz["label"]), np.asarray(npz["dataset"])
    names = [str(c) for c in npz["class_names"]]
    scopes = {"pooled": np.ones(len(labels), bool)}
    if len(set(datasets.tolist())) > 1:
        scopes.update({d: datasets == d for d in sorted(set(datasets.tolist()))})
    rows = []
    for rule in rules(npz):
        for aggregate, predicted in aggregates(np.asarray(npz[f"probs_{rule}"])).items():
            for scope, mask in scopes.items():
                counts = [class_counts(labels[mask], p[mask], len(names)) for p in predicted]
                with warnings.catch_warnings():  # a class no seed predicts: no precision
                    warnings.simplefilter("ignore", RuntimeWarning)
                    mean = {k: np.nanmean([c[k] for c in counts], 0) for k in counts[0]}
                for k, name in enumerate(names):
                    rows.append([rule, str(selection.OPTIMISTIC[rule]).lower(), aggregate,
                                 scope, name, _cell(mean["precision"][k]),
                                 _cell(mean["recall"][k]), _cell(mean["f1"][k]),
                                 int(mean["support"][k]), f"{mean['predicted'][k]:g}"])
    return rows


def worst_subjects(subject_rows: list, rule: str, count: int = 5) -> list:
    """The ``count`` subjects of ``rule`` (its last aggregate: the ensemble's, or the
    single seed's) with the lowest accuracy, more samples first among ties:
    [(database/subject, samples, correct, accuracy)]."""
    last = [r for r in subject_rows if r[3] == rule]
    if not last:
        return []
    aggregate = last[-1][5]
    chosen = [r for r in last if r[5] == aggregate]
    chosen.sort(key=lambda r: (float(r[7] or 0), -r[2], r[1], r[0]))
    return [(f"{r[1]}/{r[0]}", r[2], r[6], r[7]) for r in chosen[:count]]
