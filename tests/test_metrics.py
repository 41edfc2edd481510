"""UF1 / UAR / accuracy against confusion matrices worked out by hand."""

import numpy as np
import pytest

from faceslueth_jax.evaluation import metrics


def test_hand_computed_three_class():
    # rows = true, cols = predicted
    cm = np.array([[5, 1, 0],
                   [2, 3, 1],
                   [0, 0, 4]])
    s = metrics.scores(cm)
    # F1_k = 2TP / (2TP + FP + FN)
    f1 = [10 / (10 + 2 + 1), 6 / (6 + 1 + 3), 8 / (8 + 1 + 0)]
    recall = [5 / 6, 3 / 6, 4 / 4]
    assert s["per_class_f1"] == pytest.approx(f1)
    assert s["uf1"] == pytest.approx(np.mean(f1))
    assert s["uar"] == pytest.approx(np.mean(recall))
    assert s["accuracy"] == pytest.approx(12 / 16)


def test_confusion_matrix_from_labels():
    labels = [0, 0, 1, 2, 2, 2]
    preds = [0, 1, 1, 2, 0, 2]
    cm = metrics.confusion_matrix(labels, preds, 3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])


def test_absent_class_is_not_silently_dropped():
    # class 2 never occurs and is never predicted: excluded from both means, and said so
    cm = np.array([[3, 1, 0], [1, 3, 0], [0, 0, 0]])
    s = metrics.scores(cm)
    assert s["classes_in_uf1"] == [0, 1] and s["classes_in_uar"] == [0, 1]
    assert s["uf1"] == pytest.approx(0.75)
    assert s["uar"] == pytest.approx(0.75)
    # class 2 never occurs but is predicted once: its F1 is 0 and counts in UF1
    cm = np.array([[3, 0, 1], [1, 3, 0], [0, 0, 0]])
    s = metrics.scores(cm)
    assert s["classes_in_uf1"] == [0, 1, 2] and s["classes_in_uar"] == [0, 1]
    assert s["per_class_f1"][2] == 0.0
    assert s["uf1"] == pytest.approx(np.mean([6 / 8, 6 / 7, 0.0]))
    assert s["uar"] == pytest.approx(np.mean([3 / 4, 3 / 4]))


def test_pooled_not_averaged_over_folds():
    # Pooling matters: two folds each perfect on their one class pool to UF1 = 1,
    # while a per-fold average of 1-class UF1s would also be 1; a mixed case differs.
    labels = np.array([0, 0, 1, 1])
    preds = np.array([0, 1, 1, 1])
    pooled = metrics.pooled_scores(labels, preds, 2, groups=np.array(["a", "a", "b", "b"]))
    assert pooled["uf1"] == pytest.approx(np.mean([2 / 3, 4 / 5]))
    assert pooled["per_group"]["a"]["accuracy"] == 0.5
    assert pooled["per_group"]["b"]["accuracy"] == 1.0


def test_rejects_out_of_range_labels():
    with pytest.raises(ValueError, match="label outside"):
        metrics.confusion_matrix([0, 3], [0, 1], 3)
