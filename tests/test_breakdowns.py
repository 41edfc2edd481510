"""Per-subject and per-class tables from probabilities built by hand: seed means,
the seed ensemble, per database, the worst subjects; and the per-database confusion
matrices."""

from __future__ import annotations

import types

import numpy as np
import pytest

from faceslueth_jax.evaluation import breakdowns, run_files


def _npz():
    """Two seeds, two databases, 3 classes. Seed 0 gets every sample right; seed 1 gets
    subject a/s1 wrong (predicts class 2)."""
    label = np.array([0, 1, 2, 0, 1, 2])
    subject = np.array(["a/s1", "a/s1", "a/s1", "b/s2", "b/s2", "b/s2"])
    right = np.eye(3)[label] * 0.8 + 0.1
    wrong = right.copy()
    wrong[:3] = [[0.1, 0.1, 0.8]] * 3
    return {"label": label, "subject": subject, "dataset": np.array(["a"] * 3 + ["b"] * 3),
            "class_names": np.array(["neg", "pos", "sur"]), "seeds": np.array([0, 1]),
            "probs_last_epoch": np.stack([right, wrong])}


def _rows(rows, header):
    return [dict(zip(header, r)) for r in rows]


def test_per_subject_seed_mean_and_ensemble():
    rows = _rows(breakdowns.per_subject_rows(_npz()), breakdowns.SUBJECT_HEADER)
    got = {(r["subject"], r["aggregate"]): r for r in rows}
    s1 = got[("s1", "seed_mean")]
    assert (s1["database"], s1["samples"], s1["correct"], s1["accuracy"]) == ("a", 3, "2", "0.6667")
    # seed 0: UF1 1; seed 1: only 'sur' right once of three predictions: F1 (0, 0, 0.5)
    assert float(s1["uf1"]) == pytest.approx((1 + 0.5 / 3) / 2, abs=1e-4)
    # the ensemble averages the probabilities: (0.9, 0.1, 0.1) and (0.1, 0.1, 0.8) -> neg
    assert got[("s1", "ensemble")]["correct"] == "3"
    assert got[("s2", "seed_mean")]["accuracy"] == "1.0000"
    assert {r["optimistic"] for r in rows} == {"false"}


def test_per_class_pooled_and_per_database():
    rows = _rows(breakdowns.per_class_rows(_npz()), breakdowns.CLASS_HEADER)
    mean = {(r["scope"], r["class"]): r for r in rows if r["aggregate"] == "seed_mean"}
    assert {s for s, _ in mean} == {"pooled", "a", "b"}
    # database a, class neg: seed 0 recall 1, seed 1 recall 0
    assert mean[("a", "neg")]["recall"] == "0.5000" and mean[("a", "neg")]["support"] == 1
    # seed 1 predicts no 'neg' in a: precision is the mean over the seed where it exists
    assert mean[("a", "neg")]["precision"] == "1.0000"
    assert mean[("pooled", "sur")]["predicted"] == "3"  # 2 by seed 0, 4 by seed 1


def test_worst_subjects_first():
    npz = dict(_npz(), probs_last_epoch=_npz()["probs_last_epoch"][1:], seeds=np.array([1]))
    rows = breakdowns.per_subject_rows(npz)
    assert {r[5] for r in rows} == {"single_seed"}
    assert breakdowns.worst_subjects(rows, "last_epoch", 2) == [
        ("a/s1", 3, "1", "0.3333"), ("b/s2", 3, "3", "1.0000")]


def test_one_confusion_matrix_per_database(tmp_path):
    data = types.SimpleNamespace(label=np.array([0, 1, 0, 1]), dataset=np.array(["x", "x", "y", "y"]),
                                 class_names=["neg", "pos"])
    predicted = np.array([0, 1, 1, 1])
    result = dict(selection="last_epoch", optimistic=False, uf1=0.7, uar=0.75,
                  confusion_matrix=[[1, 1], [0, 2]])
    written = run_files.plot_confusions(tmp_path, result, data, predicted, "t")
    assert sorted(p.name for p in written) == sorted(
        f"confusion_matrix{s}.{e}" for s in ("", "_x", "_y") for e in ("png", "pdf"))
