"""The logistic-regression baseline: nothing of a fold's test subject reaches its
fit (labels, or features through the standardisation), and cases checkable by
hand (separable data fit perfectly; constant features give the train prior)."""

from __future__ import annotations

import numpy as np
import pytest

from faceslueth_jax.evaluation.selection import softmax
from faceslueth_jax.models import logistic_regression
from faceslueth_jax.data import subject_groups
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


# ----------------------------------------------------- l2 chosen by inner CV

def test_inner_folds_hold_only_training_subjects_whole():
    features, labels, folds = _problem(num_subjects=7, per_subject=3)
    subjects = np.repeat([f"s{i}" for i in range(7)], 3)
    groups = subject_groups.inner_groups(folds, subjects, inner_folds=3)
    for f in range(folds.num_folds):
        assert (groups[f, folds.test_samples(f)] == -1).all()
        assert (groups[f, folds.train_samples(f)] >= 0).all()
        for s in set(subjects):  # a subject's samples share one inner fold
            assert len(set(groups[f, subjects == s].tolist())) == 1
    with pytest.raises(ValueError, match="fewer than"):
        subject_groups.inner_groups(folds, subjects, inner_folds=7)


def test_the_row_space_fit_is_the_full_space_fit():
    """The tuned baseline's fit (row-space coordinates, preconditioned Nesterov steps)
    gives the logits of L-BFGS on the same loss over all standardised features, for
    more features than samples, on the whole training set and on a subset of it."""
    import jax.numpy as jnp

    rng = np.random.default_rng(1)
    n, d = 20, 60
    x = jnp.asarray(rng.normal(size=(n, d)), jnp.float32)
    y = jnp.asarray(rng.integers(0, 3, n), jnp.int32)
    train = jnp.asarray(np.arange(n) < 15)
    z, curvature = logistic_regression._row_space(x, train)
    assert z.shape == (n, n)
    z_train = jnp.where(train[:, None], z, 0.0)
    standardised = (x - x[:15].mean(0)) / (x[:15].std(0) + 1e-6)
    for fit, l2 in ((train, 0.3), (train & (jnp.arange(n) % 3 > 0), 1.0)):
        params = logistic_regression._balanced_fit(z_train, curvature, y, fit, 3, l2, steps=300)
        row = z @ params["w"] + params["b"]
        loss = logistic_regression.balanced_loss(jnp.where(fit[:, None], standardised, 0.0), y,
                                                 fit, 3, l2)
        best = logistic_regression._lbfgs(loss, {"w": jnp.zeros((d, 3)), "b": jnp.zeros(3)}, 300)
        full = standardised @ best["w"] + best["b"]
        np.testing.assert_allclose(row, full, atol=2e-3)


def test_tuned_baseline_never_sees_the_test_labels_and_learns():
    features, labels, folds = _problem(num_subjects=6, per_subject=6)
    # a clear signal in two of the 32 features (the others are noise)
    noise = np.random.default_rng(3).normal(size=len(labels))
    features[:, 0, 0, 0] = 3.0 * (labels - 1.0) + 0.1 * noise
    features[:, 1, 1, 1] = 3.0 * (labels == 1)
    subjects = np.repeat([f"s{i}" for i in range(6)], 6)
    before, chosen = logistic_regression.tuned_fold_logits(features, labels, folds, subjects, 3)
    assert set(chosen) == set(folds.names)
    assert set(chosen.values()) <= set(logistic_regression.L2_GRID)
    test = folds.test_samples(0)
    changed = labels.copy()
    changed[test] = (labels[test] + 1) % 3
    after, _ = logistic_regression.tuned_fold_logits(features, changed, folds, subjects, 3)
    np.testing.assert_allclose(after[test], before[test], atol=1e-5)
    assert (before.argmax(-1) == labels).mean() > 0.8  # chance is ~0.33
