"""The logistic-regression baseline of a run, fitted under the run's own folds, so
every headline has a linear model beside it on the same samples. It reads
``baseline.features``: 'flow' (the 28x28 flow itself, the default), or a hand-crafted
descriptor of the field: 'mdmo' (``models.mdmo``, on the flow) or 'lbp_top'
(``models.lbp_top``, on the records' frames)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from absl import logging

from faceslueth_jax.data import records
from faceslueth_jax.models import lbp_top, logistic_regression, mdmo
from faceslueth_jax.train import protocols

FLOW_SIZE = 28  # the flow feature is always 28x28


def _flow(data):
    return records.resize(data.views["flow"][data.rows], FLOW_SIZE)


def _mdmo(data):
    return np.asarray(mdmo.features(jnp.asarray(data.views["flow"][data.rows])))


def _lbp_top(data):
    if "frames" not in data.views:
        raise ValueError("baseline.features='lbp_top' reads the records' frames: build them "
                         "with data.build.clip_frames (HTNet's composite release has none)")
    frames = data.views["frames"][data.rows]
    return np.concatenate([np.asarray(lbp_top.features(jnp.asarray(frames[i:i + 64])))
                           for i in range(0, len(frames), 64)])


FEATURES = {"flow": _flow, "mdmo": _mdmo, "lbp_top": _lbp_top}


TUNINGS = ("inner_cv", "fixed")


def logits(config, data, folds):
    """(the logistic regression's (N, K) logits under the same folds, each sample's from
    the fold that tests it, its facts), or (None, None). ``baseline.tuning``: 'inner_cv'
    (default; class-balanced, l2 chosen per fold by an inner CV over the training
    subjects) or 'fixed' (l2 1e-2)."""
    everything, facts = fold_models_logits(config, data, folds)
    if everything is None:
        return None, None
    return logistic_regression.scatter_test(everything, folds), facts


def validation_logits(config, data, nested):
    """(F, N, K) for a nested run's F outer folds: each training sample of outer fold f
    scored by the linear model of its inner fold (NaN outside T_f), or None: the linear
    model as a member of ensembles chosen on inner validation (``evaluation.ensembles``)."""
    everything, _ = fold_models_logits(config, data, nested.folds)
    if everything is None:
        return None
    return nested.per_outer([everything[j, nested.folds.test_samples(j)]
                             for j in range(nested.folds.num_folds)], len(data))


def fold_models_logits(config, data, folds):
    """((F, N, K) every sample's logits under each fold's logistic regression, facts),
    or (None, None) when the baseline is off or this process lacks samples."""
    if not config.baseline.logistic_regression:
        return None, None
    if not data.complete:
        logging.warning("logistic regression baseline skipped: process 0 holds the views of "
                        "only %d of %d samples", int((data.rows >= 0).sum()), len(data))
        return None, None
    name = config.baseline.get("features", "flow")
    if name not in FEATURES:
        raise ValueError(f"baseline.features must be one of {tuple(FEATURES)}, got {name!r}")
    x = FEATURES[name](data)
    k = len(data.class_names)
    fixed = {"tuning": "fixed", "l2": 1e-2, "class_weights": "none", "features": name}
    if config.baseline.get("tuning", "inner_cv") == "fixed":
        return logistic_regression.all_fold_logits(x, data.label, folds, k), fixed
    subjects = protocols.subject_keys(data.dataset, data.subject)
    # as many inner folds as the fold with the fewest training subjects allows, up to 5
    fewest = min(len(set(subjects[folds.train_samples(f)].tolist()))
                 for f in range(folds.num_folds))
    inner = min(logistic_regression.INNER_FOLDS, fewest)
    if inner < 2:
        logging.warning("logistic regression baseline: a fold has %d training subject(s), too "
                        "few for an inner cross-validation; fitting the fixed l2 instead", fewest)
        return (logistic_regression.all_fold_logits(x, data.label, folds, k),
                dict(fixed, why=f"a fold has {fewest} training subject(s): no inner CV"))
    everything, chosen = logistic_regression.tuned_all_logits(x, data.label, folds, subjects,
                                                              k, inner_folds=inner)
    return everything, {"tuning": "inner_cv", "class_weights": "balanced", "features": name,
                        "l2_grid": list(logistic_regression.L2_GRID), "inner_folds": inner,
                        "chosen_l2_per_fold": chosen}
