"""The logistic-regression baseline: nothing of a fold's test subject reaches its
fit (labels, or features through the standardisation), and cases checkable by
hand (separable data fit perfectly; constant features give the train prior)."""

from __future__ import annotations

import numpy as np
import pytest

from faceslueth_jax.evaluation.selection import softmax
from faceslueth_jax.models import logistic_regression
from faceslueth_jax.train import protocols


def _problem(num_subjects=4, per_subject=6, seed=0):
    """Features (N, 4, 4, 2) whose mean shows the class, a little noisily; LOSO folds."""
    rng = np.random.default_rng(seed)
    n = num_subjects * per_subject
    labels = rng.integers(0, 3, n).astype(np.int32)
    features = rng.normal(size=(n, 4, 4, 2)).astype(np.float32)
    features[:, 0, 0, 0] += 1.5 * (labels - 1.0)
    features[:, 1, 1, 1] += 1.5 * (labels == 1)
    subjects = np.repeat([f"s{i}" for i in range(num_subjects)], per_subject)
    folds = protocols.loso(np.array(["d"] * n), subjects)
    return features, labels, folds


def test_test_labels_do_not_reach_the_fit():
    features, labels, folds = _problem()
    test = folds.test_samples(0)
    other = np.setdiff1d(np.arange(len(labels)), test)
    before = logistic_regression.fold_logits(features, labels, folds, 3)
    changed = labels.copy()
    changed[test] = (labels[test] + 1) % 3  # every test label of fold 0 is now wrong
    after = logistic_regression.fold_logits(features, changed, folds, 3)
    np.testing.assert_allclose(after[test], before[test], atol=1e-6)
    # the same labels are training labels of every other fold: there they matter
    assert np.abs(after[other] - before[other]).max() > 1e-2


def test_test_features_do_not_reach_the_standardisation():
    features, labels, folds = _problem()
    test = folds.test_samples(0)
    before = logistic_regression.fold_logits(features, labels, folds, 3)
    moved = features.copy()
    moved[test[0]] = 1e3  # one test sample far away: train-only mean and std do not move
    after = logistic_regression.fold_logits(moved, labels, folds, 3)
    np.testing.assert_allclose(after[test[1:]], before[test[1:]], atol=1e-5)
    assert np.abs(after[test[0]] - before[test[0]]).max() > 1.0


def test_a_non_finite_test_sample_does_not_poison_its_folds_fit():
    # a zero weight times NaN is NaN: test samples must be masked out, not multiplied by 0
    features, labels, folds = _problem()
    test = folds.test_samples(0)
    before = logistic_regression.fold_logits(features, labels, folds, 3)
    broken = features.copy()
    broken[test[0]] = np.nan
    after = logistic_regression.fold_logits(broken, labels, folds, 3)
    np.testing.assert_allclose(after[test[1:]], before[test[1:]], atol=1e-5)


def test_linearly_separable_data_is_fit_perfectly():
    rng = np.random.default_rng(1)
    labels = np.tile([0, 1], 12).astype(np.int32)  # 3 subjects x 8 samples, both classes each
    features = rng.normal(size=(24, 3)).astype(np.float32)
    features[:, 0] = np.where(labels == 1, 1.0, -1.0) * rng.uniform(0.5, 2.0, 24)
    folds = protocols.loso(np.array(["d"] * 24), np.repeat(["a", "b", "c"], 8))
    logits = logistic_regression.fold_logits(features, labels, folds, 2)
    np.testing.assert_array_equal(logits.argmax(-1), labels)  # class = sign of feature 0


def test_constant_features_predict_the_train_folds_class_frequencies():
    # z = 0 after standardising, so logits = b and softmax(b) = the train set's class
    # frequencies (the minimiser of the mean cross-entropy over b)
    labels = np.array([0, 0, 1, 2,   0, 1, 1, 1,   2, 2, 2, 0], np.int32)
    subjects = np.repeat(["a", "b", "c"], 4)
    folds = protocols.loso(np.array(["d"] * 12), subjects)
    logits = logistic_regression.fold_logits(np.ones((12, 5), np.float32), labels, folds, 3)
    probs = softmax(logits.astype(np.float64))
    want = {"a": [2 / 8, 3 / 8, 3 / 8],   # trained on b and c: 0 1 1 1 2 2 2 0
            "b": [3 / 8, 1 / 8, 4 / 8],   # on a and c: 0 0 1 2 2 2 2 0
            "c": [3 / 8, 4 / 8, 1 / 8]}   # on a and b: 0 0 1 2 0 1 1 1
    for i, subject in enumerate(subjects):
        assert probs[i] == pytest.approx(want[subject], abs=1e-3), (i, subject)
