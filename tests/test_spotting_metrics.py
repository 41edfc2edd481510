"""MEGC's spotting metric on intervals checked by hand: IoU with inclusive frames,
touching intervals, one spotted interval over two true ones, nothing spotted, the
database's summed counts per type and overall, and STRS."""

from __future__ import annotations

import pytest

from faceslueth_jax.evaluation.spotting_metrics import (Interval, iou, match,
                                                        recognition_on_spotted,
                                                        spotting_scores, strs)


def test_iou_counts_frames_inclusively():
    assert iou(Interval(0, 9), Interval(0, 9)) == 1.0
    assert iou(Interval(0, 9), Interval(5, 14)) == pytest.approx(5 / 15)
    assert iou(Interval(3, 3), Interval(3, 3)) == 1.0  # a one-frame interval is one frame


def test_touching_intervals_do_not_overlap():
    assert iou(Interval(0, 9), Interval(10, 19)) == 0.0
    assert iou(Interval(0, 10), Interval(10, 19)) == pytest.approx(1 / 20)  # frame 10 shared


def test_iou_of_exactly_half_is_a_hit():
    # [0, 19] against [0, 9]: 10 shared frames of 20
    assert iou(Interval(0, 19), Interval(0, 9)) == 0.5
    assert match([Interval(0, 19)], [Interval(0, 9)]) == [(0, 0)]
    assert match([Interval(0, 20)], [Interval(0, 9)]) == []  # 10 / 21 < 0.5


def test_one_spotted_interval_over_two_true_ones_counts_once():
    truth = [Interval(0, 9), Interval(10, 19)]
    scores = spotting_scores({"v": ([Interval(0, 19)], truth)})
    assert (scores["micro"]["tp"], scores["micro"]["fp"], scores["micro"]["fn"]) == (1, 0, 1)
    assert scores["micro"]["f1"] == pytest.approx(2 / 3)


def test_a_true_interval_is_matched_once_the_best_scored_spot_first():
    truth = [Interval(100, 115)]
    spotted = [Interval(101, 115, score=0.2), Interval(100, 114, score=0.9)]
    assert match(spotted, truth) == [(1, 0)]  # the higher score takes it; the other is a FP
    s = spotting_scores({"v": (spotted, truth)})["micro"]
    assert (s["tp"], s["fp"], s["fn"]) == (1, 1, 0)


def test_a_spot_takes_the_free_truth_it_overlaps_most():
    truth = [Interval(0, 9), Interval(4, 13)]
    spotted = [Interval(0, 9, score=1.0), Interval(1, 10, score=0.5)]
    # the first takes [0, 9] (IoU 1); the second overlaps [0, 9] most (9/11) but it is
    # taken, so it takes [4, 13] (7/13 >= 0.5)
    assert match(spotted, truth) == [(0, 0), (1, 1)]


def test_nothing_spotted_and_nothing_true():
    truth = [Interval(0, 9), Interval(50, 60, kind="macro")]
    s = spotting_scores({"v": ([], truth)})
    assert s["micro"] == {"tp": 0, "fp": 0, "fn": 1, "precision": None, "recall": 0.0,
                          "f1": 0.0}
    assert s["overall"]["fn"] == 2 and s["overall"]["f1"] == 0.0
    empty = spotting_scores({"v": ([], [])})
    assert empty["overall"]["f1"] is None and empty["overall"]["recall"] is None


def test_types_are_scored_apart_and_pooled_overall_over_videos():
    videos = {
        "a": ([Interval(0, 9), Interval(100, 199, kind="macro")],
              [Interval(0, 9), Interval(100, 189, kind="macro")]),
        # a spotted 'macro' over a true micro is no micro TP: the types differ
        "b": ([Interval(0, 9, kind="macro"), Interval(500, 520)], [Interval(0, 9)]),
    }
    s = spotting_scores(videos)
    assert (s["micro"]["tp"], s["micro"]["fp"], s["micro"]["fn"]) == (1, 1, 1)
    assert (s["macro"]["tp"], s["macro"]["fp"], s["macro"]["fn"]) == (1, 1, 0)
    assert (s["overall"]["tp"], s["overall"]["fp"], s["overall"]["fn"]) == (2, 2, 1)
    assert s["overall"]["f1"] == pytest.approx(4 / 7)
    assert [(v, t.onset) for v, _, t in s["micro_pairs"]] == [("a", 0)]


def test_strs_multiplies_spotting_f1_by_recognition_on_the_spotted():
    pairs = [("v", Interval(0, 9, label=0), Interval(0, 9, label=0)),
             ("v", Interval(20, 29, label=0), Interval(20, 29, label=1)),
             ("v", Interval(40, 49, label=1), Interval(40, 49, label=1))]
    r = recognition_on_spotted(pairs, num_classes=3)
    # class 0: precision 1/2, recall 1; class 1: precision 1, recall 1/2 -> P = R = 3/4
    assert r["f1_of_mean_precision_recall"] == pytest.approx(0.75)
    assert r["uf1"] == pytest.approx(2 / 3) and r["uar"] == pytest.approx(0.75)
    assert strs(0.4, r["f1_of_mean_precision_recall"]) == pytest.approx(0.3)
    assert recognition_on_spotted([], 3)["f1_of_mean_precision_recall"] == 0.0
    assert strs(None, 0.5) == 0.0


def test_a_backwards_interval_is_refused():
    with pytest.raises(ValueError, match="offset 3 < onset 5"):
        Interval(5, 3)
