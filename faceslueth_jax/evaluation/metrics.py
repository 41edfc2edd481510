"""Micro-expression metrics from a confusion matrix pooled over folds.

With C[i, j] = number of samples of true class i predicted as j:

    TP_k = C[k, k],  FP_k = sum_i C[i, k] - TP_k,  FN_k = sum_j C[k, j] - TP_k
    F1_k = 2 TP_k / (2 TP_k + FP_k + FN_k),      recall_k = TP_k / (TP_k + FN_k)
    UF1  = mean_k F1_k,   UAR = mean_k recall_k,   accuracy = trace(C) / sum(C)

A class with no samples has no recall and is left out of UAR; it is left out of
UF1 too when it is also never predicted (0/0), and counts F1 = 0 when it is
predicted (every such prediction is a false positive). Nothing is silently
dropped: ``classes_in_uf1`` and ``classes_in_uar`` list what each mean covers.
"""

from __future__ import annotations

import numpy as np


def confusion_matrix(labels, predictions, num_classes: int) -> np.ndarray:
    labels = np.asarray(labels, np.int64)
    predictions = np.asarray(predictions, np.int64)
    if labels.shape != predictions.shape:
        raise ValueError(f"labels {labels.shape} and predictions {predictions.shape} differ")
    for name, values in (("label", labels), ("prediction", predictions)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(f"{name} outside 0..{num_classes - 1}: {np.unique(values)}")
    cm = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(cm, (labels, predictions), 1)
    return cm


def scores(cm: np.ndarray) -> dict:
    """UF1, UAR, accuracy and per-class F1/recall of a confusion matrix."""
    cm = np.asarray(cm, np.float64)
    tp = np.diag(cm)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    f1_denominator = support + predicted  # = 2TP + FP + FN
    has_f1 = f1_denominator > 0
    has_recall = support > 0
    f1 = np.where(has_f1, 2 * tp / np.maximum(f1_denominator, 1), np.nan)
    recall = np.where(has_recall, tp / np.maximum(support, 1), np.nan)
    total = cm.sum()
    return {
        "uf1": float(np.mean(f1[has_f1])) if has_f1.any() else float("nan"),
        "uar": float(np.mean(recall[has_recall])) if has_recall.any() else float("nan"),
        "accuracy": float(tp.sum() / total) if total else float("nan"),
        "num_samples": int(total),
        "per_class_f1": [None if np.isnan(v) else float(v) for v in f1],
        "per_class_recall": [None if np.isnan(v) else float(v) for v in recall],
        "classes_in_uf1": [int(k) for k in np.flatnonzero(has_f1)],
        "classes_in_uar": [int(k) for k in np.flatnonzero(has_recall)],
        "confusion_matrix": cm.astype(np.int64).tolist(),
    }


def pooled_scores(labels, predictions, num_classes: int, groups=None) -> dict:
    """Scores over all samples; with ``groups`` (e.g. databases) also one entry per
    group and the unweighted mean of the groups' UF1, UAR and accuracy (under LODO:
    per held-out database, and their mean).

    Pooled: every fold's test predictions go into one confusion matrix, scored once,
    C = sum_f C_f; not the mean over folds of per-fold UF1 / UAR, which would weigh
    a one-sample fold like a large one, and whose per-fold means cover only the
    classes each fold holds (or predicts)."""
    labels = np.asarray(labels)
    predictions = np.asarray(predictions)
    result = scores(confusion_matrix(labels, predictions, num_classes))
    if groups is not None:
        groups = np.asarray(groups)
        result["per_group"] = {
            str(g): scores(confusion_matrix(labels[groups == g], predictions[groups == g],
                                            num_classes))
            for g in sorted(set(groups.tolist()))}
        result["mean_over_groups"] = {
            m: float(np.mean([s[m] for s in result["per_group"].values()]))
            for m in ("uf1", "uar", "accuracy")}
    return result
