"""Which epoch's model answers for each fold, and the metrics that follow.

``last_epoch`` (honest, the default): every fold is scored by its model after
the fixed schedule's last epoch; no test label influences the choice.

``best_test_epoch`` (OPTIMISTIC): every fold keeps the epoch with the highest
test accuracy (the earliest on ties), as the PyTorch references do. The test
labels choose the model, so the figures overstate what a new subject would see.

``nested`` (honest): nested cross-validation. Outer fold f's training subjects are
dealt into G inner groups; inner fold (f, g) trains on the others and predicts
group g after every epoch, in the same sweep (``protocols.nested``). The pooled
validation UF1 of fold f at epoch e,

    V_f(e) = UF1 over T_f of the predictions of each sample's inner fold at epoch e,

chooses e*_f = the earliest argmax_e V_f(e), and the outer model's test prediction
is read at e*_f. No label of fold f's test subjects enters the choice.
"""

from __future__ import annotations

import numpy as np

from faceslueth_jax.evaluation import metrics

RULES = ("last_epoch", "best_test_epoch", "nested")
OPTIMISTIC = {"last_epoch": False, "best_test_epoch": True, "nested": False}
RULE_TITLES = {"last_epoch": "last epoch (honest)",
               "best_test_epoch": "best test epoch (OPTIMISTIC)",
               "nested": "epoch by nested CV (honest)"}  # for figures and tables


def rules_of(history) -> tuple:
    """The rules a run's records can score: 'nested' only with inner folds trained."""
    return tuple(r for r in RULES if r != "nested" or history.nested is not None)


def validation_uf1(history, labels) -> np.ndarray:
    """(F, E) V_f(e) of a nested run's outer folds (module docstring)."""
    nested, inner = history.nested, history.inner
    k = inner.test_logits.shape[-1]
    out = np.zeros((int(nested.outer.max()) + 1, inner.loss.shape[1]))
    for f in range(out.shape[0]):
        js = np.flatnonzero(nested.outer == f)
        y = np.concatenate([labels[nested.folds.test_samples(j)] for j in js])
        predicted = np.concatenate([inner.test_logits[j, :, :nested.folds.num_test[j]]
                                    for j in js], axis=1).argmax(-1)  # (E, |T_f|)
        out[f] = [metrics.scores(metrics.confusion_matrix(y, p, k))["uf1"] for p in predicted]
    return out


def _test_labels(folds, labels):
    return [labels[folds.test_samples(f)] for f in range(folds.num_folds)]


def database_groups(data):
    """Each sample's database when there are several (scores per database), else None."""
    return data.dataset if len(set(data.dataset.tolist())) > 1 else None


def select_epochs(history, folds, labels, rule: str) -> np.ndarray:
    num_epochs = history.loss.shape[1]
    if rule == "last_epoch":
        return np.full(folds.num_folds, num_epochs - 1)
    if rule == "best_test_epoch":
        chosen = []
        for f, y in enumerate(_test_labels(folds, labels)):
            logits = history.test_logits[f, :, : len(y)]
            accuracy = (logits.argmax(-1) == y[None]).mean(-1)
            chosen.append(int(np.argmax(accuracy)))
        return np.array(chosen)
    if rule == "nested":
        if history.nested is None:
            raise ValueError("protocol.selection='nested' needs the inner folds trained in "
                             "the same sweep (this run has none)")
        return validation_uf1(history, labels).argmax(-1)  # the earliest best epoch
    raise ValueError(f"protocol.selection must be one of {RULES}, got {rule!r}")


def validation_probs(history, epochs: np.ndarray, num_samples: int,
                     flipped: bool = False) -> np.ndarray:
    """(F, N, K) of a nested run: each training sample of outer fold f as its inner fold
    predicts it at epoch ``epochs[f]`` (NaN outside T_f); ``flipped``: of the mirrored
    rows (``train.test_flip``)."""
    nested, inner = history.nested, history.inner
    logits = inner.test_logits_flipped if flipped else inner.test_logits
    return nested.per_outer([softmax(logits[j, epochs[f], : nested.folds.num_test[j]])
                             for j, f in enumerate(nested.outer)], num_samples)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def predictions(history, folds, epochs: np.ndarray, num_samples: int, flipped: bool = False):
    """Per sample: (fold, probabilities) at each fold's chosen epoch (``flipped``: of
    the mirrored test rows, ``train.test_flip``)."""
    logits = history.test_logits_flipped if flipped else history.test_logits
    fold_of = np.full(num_samples, -1)
    probs = np.zeros((num_samples, logits.shape[-1]), np.float32)
    for f in range(folds.num_folds):
        idx = folds.test_samples(f)
        fold_of[idx] = f
        probs[idx] = softmax(logits[f, epochs[f], : len(idx)])
    if (fold_of < 0).any():
        raise ValueError(f"{int((fold_of < 0).sum())} samples are in no test fold")
    return fold_of, probs


def evaluate(history, folds, data, rule: str) -> tuple[dict, np.ndarray, np.ndarray]:
    """(scores, fold of each sample, probabilities (N, K)) under one selection rule.

    Scores: pooled, per database (when there are several) and per fold.
    """
    epochs = select_epochs(history, folds, data.label, rule)
    fold_of, probs = predictions(history, folds, epochs, len(data))
    predicted = probs.argmax(-1)
    k = len(data.class_names)
    result = metrics.pooled_scores(data.label, predicted, k, groups=database_groups(data))
    result.update(
        selection=rule,
        optimistic=OPTIMISTIC[rule],
        epochs_chosen=[int(e) for e in epochs],
        per_fold={folds.names[f]: dict(
            metrics.scores(metrics.confusion_matrix(
                data.label[fold_of == f], predicted[fold_of == f], k)),
            epoch=int(epochs[f]), diverged=bool(history.diverged[f].any()))
            for f in range(folds.num_folds)},
    )
    return result, fold_of, probs


def learning_curve(histories, folds, data) -> dict:
    """Pooled test UF1 and UAR with every fold at the same epoch e, for each e (mean
    over seeds), and the mean training loss over folds: how the schedule plays out.
    A diagnostic: reading a headline off its best epoch would be the optimistic rule."""
    k = len(data.class_names)
    uf1, uar = [], []
    for h in histories:
        per_epoch = [metrics.pooled_scores(data.label, predictions(
            h, folds, np.full(folds.num_folds, e), len(data))[1].argmax(-1), k)
            for e in range(h.loss.shape[1])]
        uf1.append([r["uf1"] for r in per_epoch])
        uar.append([r["uar"] for r in per_epoch])
    per_seed_loss = np.nanmean(np.stack([h.loss for h in histories]), axis=1)  # (M, E)
    curve = {"epoch": list(range(1, per_seed_loss.shape[1] + 1)),
             "uf1": np.mean(uf1, 0).round(4).tolist(), "uar": np.mean(uar, 0).round(4).tolist(),
             "train_loss": per_seed_loss.mean(0).round(4).tolist(),
             "seeds_averaged": len(histories)}
    if len(histories) > 1:  # each seed's curve, for a band over seeds
        curve["per_seed"] = {"uf1": np.round(uf1, 4).tolist(), "uar": np.round(uar, 4).tolist(),
                             "train_loss": per_seed_loss.round(4).tolist()}
    return curve
