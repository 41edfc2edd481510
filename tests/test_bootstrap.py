"""Uncertainty over subjects and seeds (evaluation/bootstrap.py, seed_scores.py),
on cases small enough to work out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from faceslueth_jax.evaluation import bootstrap

# Two subjects of two samples each. A is predicted perfectly, B exactly wrong.
LABELS = np.array([0, 1, 0, 1])
SUBJECTS = np.array(["a", "a", "b", "b"])
MIXED = np.array([0, 1, 1, 0])
PERFECT = LABELS.copy()


def test_subject_bootstrap_of_a_hand_checked_case():
    """A bootstrap draw picks two subjects with replacement: {A, A} (p = 1/4) scores
    UF1 1, {B, B} (1/4) scores 0 (every prediction wrong), {A, B} (1/2) pools
    [[1, 1], [1, 1]]: F1 = 2 / (2 + 2) = 0.5 per class. All subjects: 0.5. With
    p = 1/4 at both ends the 95% interval is [0, 1]."""
    s = bootstrap.seed_summary(LABELS, [MIXED], SUBJECTS, 2)
    assert s["uf1"]["mean"] == pytest.approx(0.5)
    assert s["uar"]["mean"] == pytest.approx(0.5)
    assert s["uf1"]["std"] == 0.0  # one seed
    assert s["uf1"]["ci95"] == pytest.approx([0.0, 1.0])
    assert s["num_subjects"] == 2
    counts = bootstrap.draw_counts(2, draws=4000, seed=1)
    assert (counts.sum(1) == 2).all()
    both_a = (counts[:, 0] == 2).mean()
    assert both_a == pytest.approx(0.25, abs=0.03)


def test_seed_mean_and_spread():
    """Seed 0 scores 0.5, seed 1 scores 1: mean 0.75, std (ddof 1) sqrt(2) * 0.25.
    The mean over seeds per draw: {A,A} 1, {B,B} 0.5, {A,B} 0.75 -> interval [0.5, 1]."""
    s = bootstrap.seed_summary(LABELS, [MIXED, PERFECT], SUBJECTS, 2)
    assert s["uf1"]["mean"] == pytest.approx(0.75)
    assert s["uf1"]["std"] == pytest.approx(np.sqrt(2) * 0.25)
    assert s["per_seed"]["uf1"] == pytest.approx([0.5, 1.0])
    assert s["uf1"]["ci95"] == pytest.approx([0.5, 1.0])


def test_paired_difference():
    same = bootstrap.paired_difference(LABELS, [MIXED], [MIXED], SUBJECTS, 2)
    assert same["uf1"]["difference"] == 0.0 and same["uf1"]["ci95"] == [0.0, 0.0]
    assert not same["uf1"]["beyond_noise"]
    # PERFECT - MIXED per draw: {A,A} 0, {B,B} 1, {A,B} 0.5: the interval touches 0
    better = bootstrap.paired_difference(LABELS, [PERFECT], [MIXED], SUBJECTS, 2)
    assert better["uf1"]["difference"] == pytest.approx(0.5)
    assert better["uf1"]["ci95"] == pytest.approx([0.0, 1.0])
    assert not better["uf1"]["beyond_noise"]
    # with a third subject predicted perfectly by A and wrongly by B, every draw favours A
    labels = np.concatenate([LABELS, [0, 1]])
    subjects = np.concatenate([SUBJECTS, ["c", "c"]])
    a = np.concatenate([LABELS, [0, 1]])
    b = np.concatenate([np.array([1, 0, 1, 0]), [1, 0]])
    clear = bootstrap.paired_difference(labels, [a], [b], subjects, 2)
    assert clear["uf1"]["difference"] == pytest.approx(1.0)
    assert clear["uf1"]["beyond_noise"]


def test_statistics_match_the_metrics_module():
    from faceslueth_jax.evaluation import metrics

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 60)
    predicted = np.where(rng.random(60) < 0.5, labels, rng.integers(0, 3, 60))
    predicted[predicted == 2] = 1  # class 2 never predicted: F1 0, still counted
    subjects = rng.integers(0, 6, 60).astype(str)
    s = bootstrap.seed_summary(labels, [predicted], subjects, 3)
    expected = metrics.scores(metrics.confusion_matrix(labels, predicted, 3))
    assert s["uf1"]["mean"] == pytest.approx(expected["uf1"])
    assert s["uar"]["mean"] == pytest.approx(expected["uar"])
    low, high = s["uf1"]["ci95"]
    assert low < expected["uf1"] < high
