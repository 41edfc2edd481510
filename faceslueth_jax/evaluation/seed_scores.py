"""Scores of a sweep that trained M seeds of every fold, under one selection rule.

Each seed m is scored as a run of its own (``selection.evaluate``: pooled over
folds, per database). Then, for UF1 and UAR (``bootstrap``):

    mean over seeds      (1/M) sum_m T(C^m)
    std over seeds       the sample standard deviation of T(C^m), ddof 1
    95% interval         of the mean over seeds, by a bootstrap over subjects

and the seed ensemble, its own labelled result: every sample's class
probabilities averaged over the M seeds, p(x) = (1/M) sum_m softmax(z_m(x)),
then scored, with its own subject-bootstrap interval. With M = 1 the result is
the seed's own, plus its interval.
"""

from __future__ import annotations

import numpy as np

from faceslueth_jax.evaluation import bootstrap, metrics, selection
from faceslueth_jax.train.protocols import subject_keys

MEANS = ("uf1", "uar", "accuracy")


def uncertainty(data, predictions_per_seed) -> dict:
    """``bootstrap.seed_summary`` over all samples, and per database when there are
    several (``per_group``)."""
    subjects = subject_keys(data.dataset, data.subject)
    k = len(data.class_names)
    out = bootstrap.seed_summary(data.label, predictions_per_seed, subjects, k)
    groups = selection.database_groups(data)
    if groups is not None:
        out["per_group"] = {
            str(g): bootstrap.seed_summary(data.label[groups == g],
                                           predictions_per_seed[:, groups == g],
                                           subjects[groups == g], k)
            for g in sorted(set(groups.tolist()))}
    return out


def uncertainty_text(u: dict | None, metric: str) -> str:
    """' ± std [low, high]' of an ``uncertainty`` entry (no '± std' for one seed; ''
    without one): how summaries and tables print a score's spread and interval."""
    if not u:
        return ""
    low, high = u[metric]["ci95"]
    spread = f" ± {u[metric]['std']:.4f}" if u["num_seeds"] > 1 else ""
    return f"{spread} [{low:.4f}, {high:.4f}]"


def _mean_result(results: list) -> dict:
    """Seed-averaged scores in ``metrics.pooled_scores``'s layout; the confusion matrix
    is summed over seeds (every seed's predictions counted)."""
    out = {m: float(np.mean([r[m] for r in results])) for m in MEANS}
    out["num_samples"] = results[0]["num_samples"]
    out["confusion_matrix"] = np.sum([r["confusion_matrix"] for r in results], 0).tolist()
    if "per_group" in results[0]:
        out["per_group"] = {g: dict({m: float(np.mean([r["per_group"][g][m] for r in results]))
                                     for m in MEANS},
                                    num_samples=results[0]["per_group"][g]["num_samples"])
                            for g in results[0]["per_group"]}
        out["mean_over_groups"] = {m: float(np.mean([r["mean_over_groups"][m] for r in results]))
                                   for m in MEANS}
    return out


def evaluate(histories: list, seeds: tuple, folds, data, rule: str):
    """(result, ensemble or None, fold of each sample, probabilities (M, N, K)).

    ``result``: with one seed, ``selection.evaluate``'s; with several, the mean over
    seeds (``per_seed``: each seed's UF1 / UAR / accuracy). Either way ``seeds``
    holds the mean, std and interval (``uncertainty``). ``ensemble``: the averaged
    probabilities' scores (None with one seed)."""
    evaluated = [selection.evaluate(h, folds, data, rule) for h in histories]
    results = [r for r, _, _ in evaluated]
    fold_of = evaluated[0][1]
    probs = np.stack([p for _, _, p in evaluated])
    result = dict(results[0]) if len(results) == 1 else dict(
        _mean_result(results), selection=rule, optimistic=selection.OPTIMISTIC[rule],
        epochs_chosen_per_seed=[r["epochs_chosen"] for r in results],
        per_seed=[dict({m: r[m] for m in MEANS}, seed=s) for r, s in zip(results, seeds)])
    result["seeds"] = dict(uncertainty(data, probs.argmax(-1)), seed_values=list(seeds))
    if len(results) == 1:
        return result, None, fold_of, probs
    mean_probs = probs.mean(0)
    ensemble = metrics.pooled_scores(data.label, mean_probs.argmax(-1), len(data.class_names),
                                     groups=selection.database_groups(data))
    ensemble.update(selection=rule, optimistic=selection.OPTIMISTIC[rule],
                    ensemble_of_seeds=list(seeds),
                    seeds=uncertainty(data, mean_probs.argmax(-1)[None]))
    return result, ensemble, fold_of, probs
