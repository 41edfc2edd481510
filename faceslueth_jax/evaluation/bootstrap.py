"""Uncertainty of pooled scores: a bootstrap over subjects, and over seeds.

The unit of resampling is the subject (``dataset/subject``), under LOSO and LODO
alike: a subject's samples share a face, a session and a coder, so they are not
independent draws. Draw b picks n subjects with replacement from the n subjects,
with counts c_b(j), and scores the pooled confusion matrix

    C_b = sum_j c_b(j) C_j,   C_j = the confusion matrix of subject j's samples,

for each of M prediction sets (seeds, or two runs being compared) with the same
draw. For a statistic T (UF1 or UAR) the 95% interval is the 2.5th and 97.5th
percentiles of {T(C_b)}; for the mean over seeds, of {mean_m T(C_b^m)}; for a
paired difference of two runs, of {T(C_b^A) - T(C_b^B)}. The seeds' own spread
is the standard deviation over seeds of T on all subjects (ddof 1).
"""

from __future__ import annotations

import numpy as np

from faceslueth_jax.evaluation import metrics

STATISTICS = ("uf1", "uar")
DRAWS, LEVEL = 2000, 0.95


def subject_confusions(labels, predictions, subjects, num_classes: int):
    """(subject names, (S, K, K) confusion matrix of each subject's samples)."""
    subjects = np.asarray(subjects)
    names = sorted(set(subjects.tolist()))
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    return names, np.stack([metrics.confusion_matrix(labels[subjects == s],
                                                     predictions[subjects == s], num_classes)
                            for s in names])


def _statistics(cm: np.ndarray) -> dict:
    """UF1 and UAR of a stack of confusion matrices (..., K, K), as in ``metrics.scores``
    (classes with no samples and no predictions are left out)."""
    cm = cm.astype(np.float64)
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    support, predicted = cm.sum(-1), cm.sum(-2)
    has_f1, has_recall = support + predicted > 0, support > 0
    f1 = np.where(has_f1, 2 * tp / np.maximum(support + predicted, 1), 0.0)
    recall = np.where(has_recall, tp / np.maximum(support, 1), 0.0)
    return {"uf1": f1.sum(-1) / np.maximum(has_f1.sum(-1), 1),
            "uar": recall.sum(-1) / np.maximum(has_recall.sum(-1), 1)}


def seed_confusions(labels, predictions_per_seed, subjects, num_classes: int) -> np.ndarray:
    """(M, S, K, K): per seed, each subject's confusion matrix."""
    return np.stack([subject_confusions(labels, p, subjects, num_classes)[1]
                     for p in np.asarray(predictions_per_seed)])


def _boot_seed_mean(cms: np.ndarray, counts: np.ndarray) -> dict:
    """Per statistic, (draws,) the mean over seeds of T(C_b^m)."""
    return {k: v.mean(1) for k, v in
            _statistics(np.einsum("bs,mskl->bmkl", counts, cms)).items()}


def draw_counts(num_subjects: int, draws: int = DRAWS, seed: int = 0) -> np.ndarray:
    """(draws, S) how often each subject is picked in each bootstrap draw."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, num_subjects, (draws, num_subjects))
    return np.stack([np.bincount(p, minlength=num_subjects) for p in picks])


def interval(values: np.ndarray, level: float = LEVEL) -> list:
    """[low, high] percentile interval of bootstrap values."""
    tail = 100 * (1 - level) / 2
    return [float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))]


def seed_summary(labels, predictions_per_seed, subjects, num_classes: int,
                 draws: int = DRAWS, seed: int = 0) -> dict:
    """Mean, standard deviation over seeds and the subject-bootstrap 95% interval of
    the mean over seeds, for UF1 and UAR.

    ``predictions_per_seed``: (M, N) predicted classes of M seeds."""
    cms = seed_confusions(labels, predictions_per_seed, subjects, num_classes)
    full = _statistics(cms.sum(1))  # (M,) per statistic
    boot = _boot_seed_mean(cms, draw_counts(cms.shape[1], draws, seed))
    out = {"num_seeds": int(cms.shape[0]), "num_subjects": int(cms.shape[1]),
           "interval": f"{int(LEVEL * 100)}% percentile bootstrap over subjects, {draws} draws",
           "per_seed": {}}
    for s in STATISTICS:
        out[s] = {"mean": float(full[s].mean()),
                  "std": float(full[s].std(ddof=1)) if len(full[s]) > 1 else 0.0,
                  "ci95": interval(boot[s])}
        out["per_seed"][s] = full[s].tolist()
    return out


def paired_difference(labels, predictions_a, predictions_b, subjects, num_classes: int,
                      draws: int = DRAWS, seed: int = 0) -> dict:
    """A - B for two runs on the same samples (same folds, same seeds), each (M, N):
    the difference of the seed means, its subject-bootstrap 95% interval (the same
    draws for both runs), and whether that interval excludes 0."""
    cms_a, cms_b = (seed_confusions(labels, p, subjects, num_classes)
                    for p in (predictions_a, predictions_b))
    counts = draw_counts(cms_a.shape[1], draws, seed)
    full_a, full_b = _statistics(cms_a.sum(1)), _statistics(cms_b.sum(1))
    boot_a, boot_b = _boot_seed_mean(cms_a, counts), _boot_seed_mean(cms_b, counts)
    out = {"interval": f"{int(LEVEL * 100)}% paired percentile bootstrap over subjects, "
                       f"{draws} draws"}
    for s in STATISTICS:
        a, b = float(full_a[s].mean()), float(full_b[s].mean())
        low, high = interval(boot_a[s] - boot_b[s])
        out[s] = {"a": a, "b": b, "difference": a - b, "ci95": [low, high],
                  "beyond_noise": bool(low > 0 or high < 0)}
    return out


def difference(labels, predictions_a, predictions_b, subjects, num_classes: int) -> dict:
    """``paired_difference`` kept to what a table shows: per statistic, the
    difference A - B and its 95% interval."""
    d = paired_difference(labels, predictions_a, predictions_b, subjects, num_classes)
    return {s: {"difference": d[s]["difference"], "ci95": d[s]["ci95"]} for s in STATISTICS}


def signed(d: dict) -> str:
    """One statistic of ``difference`` as '+0.012 [-0.020, +0.045]'."""
    return f"{d['difference']:+.3f} [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}]"
