"""Both selection rules against answers worked out by hand: folds of 1, 3 and 5
test samples stored in 5 padded slots, misleading logits in the padding, a tie
for the best test epoch, and UF1 / UAR pooled over the folds.

Samples (index: fold, label); folds are named A, B, C, classes 0, 1, 2:

    0: B 0   1: C 1   2: A 2   3: C 0   4: B 1   5: C 2   6: C 0   7: B 2   8: C 1

Predictions per fold and epoch (real slots only; test accuracy in brackets):

    A [2]        e0: 0 (0/1)        e1: 2 (1/1)        e2: 1 (0/1)
    B [0, 4, 7]  e0: 0 1 0 (2/3)    e1: 0 0 2 (2/3)    e2: 1 1 1 (1/3)
    C [1,3,5,6,8] e0: 1 0 0 0 0 (3/5) e1: 1 0 2 0 1 (5/5) e2: 1 0 2 2 1 (4/5)

best test epoch: A e1, B e0 (tied with e1: the earliest), C e1. The padding
slots (A: 4, B: 2) hold huge logits that are right where the real slots are
wrong: counted, they would pick A e0 (4/5) and B e1 (4/5) instead.
"""

from __future__ import annotations

import dataclasses
import types

import numpy as np
import pytest

from faceslueth_jax.evaluation import metrics, selection
from faceslueth_jax.train import protocols

FOLD_OF = ["B", "C", "A", "C", "B", "C", "C", "B", "C"]
LABELS = np.array([0, 1, 2, 0, 1, 2, 0, 2, 1])
PREDICTED = {  # fold -> per epoch the predicted class of each real test slot
    "A": [[0], [2], [1]],
    "B": [[0, 1, 0], [0, 0, 2], [1, 1, 1]],
    "C": [[1, 0, 0, 0, 0], [1, 0, 2, 0, 1], [1, 0, 2, 2, 1]],
}
PADDING_RIGHT = {"A": 0, "B": 1}  # the epoch whose padding slots hold the right answer


@dataclasses.dataclass
class Data:
    label: np.ndarray
    dataset: np.ndarray
    class_names: tuple = ("negative", "positive", "surprise")

    def __len__(self):
        return len(self.label)


def _folds():
    return protocols.folds_from_groups(np.array(FOLD_OF))


def _history(folds, diverged=None):
    slots, k = int(folds.num_test.max()), 3
    logits = np.zeros((folds.num_folds, 3, slots, k), np.float32)
    for f, name in enumerate(folds.names):
        idx = folds.test_idx[f]  # padded: slots past num_test repeat valid samples
        n = folds.num_test[f]
        for e, predicted in enumerate(PREDICTED[name]):
            logits[f, e, np.arange(n), predicted] = 3.0
            for slot in range(n, slots):
                label = LABELS[idx[slot]]
                wrong = (label + 1) % k
                logits[f, e, slot, label if PADDING_RIGHT.get(name) == e else wrong] = 100.0
    return types.SimpleNamespace(
        loss=np.zeros((folds.num_folds, 3)), test_logits=logits,
        diverged=np.zeros((folds.num_folds, 3), bool) if diverged is None else diverged)


def _data(datasets=None):
    return Data(LABELS, np.array(datasets or ["casme2"] * len(LABELS)))


def test_the_folds_are_uneven_and_padded():
    folds = _folds()
    assert folds.names == ("A", "B", "C") and folds.num_test.tolist() == [1, 3, 5]
    assert folds.test_idx.shape == (3, 5)
    assert _history(folds).test_logits.shape == (3, 3, 5, 3)


def test_last_epoch_ignores_the_test_labels():
    folds = _folds()
    epochs = selection.select_epochs(_history(folds), folds, LABELS, "last_epoch")
    assert epochs.tolist() == [2, 2, 2]
    shuffled = np.random.default_rng(0).permutation(LABELS)
    assert selection.select_epochs(_history(folds), folds, shuffled,
                                   "last_epoch").tolist() == [2, 2, 2]


def test_best_test_epoch_counts_real_slots_and_takes_the_earliest_tie():
    folds = _folds()
    epochs = selection.select_epochs(_history(folds), folds, LABELS, "best_test_epoch")
    assert epochs.tolist() == [1, 0, 1]


def test_unknown_rule_is_refused():
    folds = _folds()
    with pytest.raises(ValueError, match="protocol.selection must be one of"):
        selection.select_epochs(_history(folds), folds, LABELS, "best_val_epoch")


def test_predictions_take_each_fold_at_its_epoch():
    folds = _folds()
    history = _history(folds)
    fold_of, probs = selection.predictions(history, folds, np.array([1, 0, 1]), len(LABELS))
    assert fold_of.tolist() == [1, 2, 0, 2, 1, 2, 2, 1, 2]
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-6)
    assert probs.argmax(-1).tolist() == [0, 1, 2, 0, 1, 2, 0, 0, 1]
    # one-hot logits of 3: p = e^3 / (e^3 + 2) on the predicted class
    np.testing.assert_allclose(probs.max(-1), np.exp(3) / (np.exp(3) + 2), rtol=1e-6)


def test_a_sample_in_no_test_fold_is_an_error():
    folds = _folds()
    with pytest.raises(ValueError, match="1 samples are in no test fold"):
        selection.predictions(_history(folds), folds, np.array([2, 2, 2]), len(LABELS) + 1)


def test_last_epoch_scores_by_hand():
    # predictions (e2): 0->1 1->1 2->1 3->0 4->1 5->2 6->2 7->1 8->1
    # C = [[1, 1, 1], [0, 3, 0], [0, 2, 1]]; TP (1, 3, 1), support (3, 3, 3), predicted (1, 6, 2)
    folds = _folds()
    result, fold_of, probs = selection.evaluate(_history(folds), folds, _data(), "last_epoch")
    assert result["confusion_matrix"] == [[1, 1, 1], [0, 3, 0], [0, 2, 1]]
    assert result["uf1"] == pytest.approx((2 / 4 + 6 / 9 + 2 / 5) / 3)  # 47 / 90
    assert result["uar"] == pytest.approx((1 / 3 + 3 / 3 + 1 / 3) / 3)  # 5 / 9
    assert result["accuracy"] == pytest.approx(5 / 9)
    assert result["selection"] == "last_epoch" and result["optimistic"] is False
    assert result["epochs_chosen"] == [2, 2, 2]
    assert probs.argmax(-1).tolist() == [1, 1, 1, 0, 1, 2, 2, 1, 1]
    assert "per_group" not in result  # one database


def test_best_test_epoch_scores_by_hand():
    # predictions (A e1, B e0, C e1): 0->0 1->1 2->2 3->0 4->1 5->2 6->0 7->0 8->1
    # C = [[3, 0, 0], [0, 3, 0], [1, 0, 2]]; TP (3, 3, 2), support (3, 3, 3), predicted (4, 3, 2)
    folds = _folds()
    result, _, _ = selection.evaluate(_history(folds), folds, _data(), "best_test_epoch")
    assert result["confusion_matrix"] == [[3, 0, 0], [0, 3, 0], [1, 0, 2]]
    assert result["uf1"] == pytest.approx((6 / 7 + 6 / 6 + 4 / 5) / 3)
    assert result["uar"] == pytest.approx((1 + 1 + 2 / 3) / 3)
    assert result["accuracy"] == pytest.approx(8 / 9)
    assert result["optimistic"] is True and result["epochs_chosen"] == [1, 0, 1]
    assert {f: s["epoch"] for f, s in result["per_fold"].items()} == {"A": 1, "B": 0, "C": 1}


def test_per_fold_scores_cover_the_classes_each_fold_has():
    # fold A tests one sample of class 2: its UAR covers class 2 only; its UF1 also
    # covers class 1, which it predicts (F1 = 0); pooled UF1 is not the mean of folds
    folds = _folds()
    diverged = np.zeros((3, 3), bool)
    diverged[1, 1] = True
    result, _, _ = selection.evaluate(_history(folds, diverged), folds, _data(), "last_epoch")
    a = result["per_fold"]["A"]  # sample 2 (class 2) predicted 1
    assert a["classes_in_uar"] == [2] and a["classes_in_uf1"] == [1, 2]
    assert (a["uf1"], a["uar"], a["accuracy"], a["num_samples"]) == (0.0, 0.0, 0.0, 1)
    b = result["per_fold"]["B"]  # (0->1, 1->1, 2->1): F1 (0, 2/4, 0), recall (0, 1, 0)
    assert b["uf1"] == pytest.approx(0.5 / 3) and b["uar"] == pytest.approx(1 / 3)
    c = result["per_fold"]["C"]  # (1->1, 0->0, 2->2, 0->2, 1->1): C = [[1,0,1],[0,2,0],[0,0,1]]
    assert c["uf1"] == pytest.approx((2 / 3 + 1 + 2 / 3) / 3)
    assert c["uar"] == pytest.approx((1 / 2 + 1 + 1) / 3)
    mean_of_folds = np.mean([a["uf1"], b["uf1"], c["uf1"]])
    assert result["uf1"] == pytest.approx(47 / 90) and abs(mean_of_folds - 47 / 90) > 0.1
    assert [s["diverged"] for s in result["per_fold"].values()] == [False, True, False]


def test_scores_per_database_when_there_are_several():
    # folds A and B from casme2 (samples 0, 2, 4, 7), fold C from samm (1, 3, 5, 6, 8)
    datasets = ["casme2" if f in "AB" else "samm" for f in FOLD_OF]
    folds = _folds()
    result, _, _ = selection.evaluate(_history(folds), folds, _data(datasets), "last_epoch")
    casme2, samm = result["per_group"]["casme2"], result["per_group"]["samm"]
    assert casme2["num_samples"] == 4 and casme2["accuracy"] == pytest.approx(1 / 4)
    assert samm["num_samples"] == 5 and samm["accuracy"] == pytest.approx(4 / 5)
    assert result["mean_over_groups"]["accuracy"] == pytest.approx((1 / 4 + 4 / 5) / 2)
    assert result["accuracy"] == pytest.approx(5 / 9)  # pooled, not the groups' mean


def test_pooled_scores_sum_confusion_matrices_over_folds():
    # the pooled matrix is the sum of the folds' matrices, scored once
    folds = _folds()
    result, fold_of, probs = selection.evaluate(_history(folds), folds, _data(), "last_epoch")
    summed = sum(np.array(s["confusion_matrix"]) for s in result["per_fold"].values())
    np.testing.assert_array_equal(summed, result["confusion_matrix"])
    assert metrics.scores(summed)["uf1"] == pytest.approx(result["uf1"])


def test_learning_curve_scores_every_epoch_and_averages_seeds():
    """Epoch 3 of the curve is the last-epoch rule; a second seed equal to the first
    leaves the mean unchanged; the loss is averaged over folds (and seeds)."""
    folds = _folds()
    history = _history(folds)
    history.loss = np.array([[3.0, 2.0, 1.0], [1.0, 1.0, 1.0], [2.0, 0.0, 1.0]])
    curve = selection.learning_curve([history], folds, _data())
    last, _, _ = selection.evaluate(history, folds, _data(), "last_epoch")
    assert curve["epoch"] == [1, 2, 3] and curve["seeds_averaged"] == 1
    assert curve["uf1"][2] == pytest.approx(last["uf1"], abs=1e-4)
    # e1: wrong only on sample 4 (class 1, read as 0): recalls 1, 2/3, 1
    assert curve["uar"][1] == pytest.approx(8 / 9, abs=1e-4)
    assert curve["train_loss"] == [2.0, 1.0, 1.0]
    twice = selection.learning_curve([history, history], folds, _data())
    assert twice["uf1"] == curve["uf1"] and twice["seeds_averaged"] == 2
