"""Subjects dealt into groups for cross-validation inside a fold's training set (the
tuned linear model's inner CV, nested selection's inner folds)."""

from __future__ import annotations

import numpy as np


def inner_groups(folds, subjects, inner_folds: int) -> np.ndarray:
    """(F, N) inner fold of every training sample of each outer fold (-1: not in T_f):
    T_f's subjects in sorted order, dealt round-robin into ``inner_folds`` groups, so
    a subject's samples stay together and the test subject is never used."""
    subjects = np.asarray(subjects)
    out = np.full((folds.num_folds, len(subjects)), -1, np.int32)
    for f in range(folds.num_folds):
        train = folds.train_samples(f)
        names = sorted(set(subjects[train].tolist()))
        if len(names) < inner_folds:
            raise ValueError(f"fold {folds.names[f]}: {len(names)} training subjects, fewer "
                             f"than the {inner_folds} inner folds")
        group = {name: i % inner_folds for i, name in enumerate(names)}
        out[f, train] = [group[s] for s in subjects[train]]
    return out
