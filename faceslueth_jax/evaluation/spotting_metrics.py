"""MEGC's spotting metric and the spot-then-recognise score (STRS).

Intervals are (onset, offset) frame indices, both inclusive. Their overlap:

    IoU(a, b) = |a ∩ b| / |a ∪ b|,  |[s, e]| = e - s + 1 frames

A spotted interval is a true positive when its IoU with a ground-truth interval of
the same video (and, per type, the same type) is at least 0.5, each ground truth
matched at most once. Matching: spotted intervals in order of decreasing score
(then onset); each takes the unmatched ground truth it overlaps most with IoU >=
0.5, else it is a false positive. Ground truths left unmatched are false negatives.
TP, FP and FN are summed over every video of the database before

    precision = TP / (TP + FP),  recall = TP / (TP + FN),  F1 = 2 TP / (2 TP + FP + FN)

for micro-expressions (spotted micro against true micro), macro-expressions, and
overall (their counts pooled, as the MEGC2020 baseline reports). A spotted
interval's type is the spotter's call.

STRS = spotting F1 x recognition F1, the recognition scored on the correctly
spotted micro-expressions only (each TP's predicted class against its ground
truth's label). Its recognition F1 is the one the published STRS figures use:
F1 = 2 P R / (P + R) of the precision P and recall R averaged over the classes
among the true intervals; UF1 (mean per-class F1) and UAR are given beside it.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from faceslueth_jax.evaluation import metrics

IOU_THRESHOLD = 0.5
TYPES = ("micro", "macro")


@dataclasses.dataclass(frozen=True)
class Interval:
    onset: int
    offset: int
    kind: str = "micro"  # 'micro' or 'macro'
    score: float = 0.0  # a spotter's confidence (ground truth: unused)
    label: int = -1  # the class: a ground truth's emotion, a recognised one
    apex: int = -1  # the apex frame, where known (-1: not given)

    def __post_init__(self):
        if self.offset < self.onset:
            raise ValueError(f"interval offset {self.offset} < onset {self.onset}")
        if self.kind not in TYPES:
            raise ValueError(f"interval kind must be one of {TYPES}, got {self.kind!r}")

    @property
    def length(self) -> int:
        return self.offset - self.onset + 1


def iou(a: Interval, b: Interval) -> float:
    """|a ∩ b| / |a ∪ b| in frames, both ends inclusive."""
    inter = max(0, min(a.offset, b.offset) - max(a.onset, b.onset) + 1)
    return inter / (a.length + b.length - inter)


def match(spotted: list, truth: list, threshold: float = IOU_THRESHOLD) -> list:
    """[(spotted index, truth index)] of the true positives of one video (the
    module doc's rule); every other spotted interval is a false positive."""
    order = sorted(range(len(spotted)), key=lambda i: (-spotted[i].score, spotted[i].onset, i))
    free = set(range(len(truth)))
    pairs = []
    for i in order:
        overlaps = [(iou(spotted[i], truth[j]), -j) for j in free]
        best = max(overlaps, default=(0.0, 0))
        if best[0] >= threshold:
            free.discard(-best[1])
            pairs.append((i, -best[1]))
    return sorted(pairs)


@dataclasses.dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, other: "Counts") -> "Counts":
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    def scores(self) -> dict:
        """precision and recall (None where undefined), F1 (0 without a TP, None when
        there is neither a spotted nor a true interval), and the counts."""
        def ratio(a, b):
            return a / b if b else None
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn,
                "precision": ratio(self.tp, self.tp + self.fp),
                "recall": ratio(self.tp, self.tp + self.fn),
                "f1": ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)}


def video_counts(spotted: list, truth: list, kind: str) -> tuple[Counts, list]:
    """Counts of one video for one type, and its matched pairs as intervals."""
    s = [x for x in spotted if x.kind == kind]
    t = [x for x in truth if x.kind == kind]
    pairs = match(s, t)
    return Counts(len(pairs), len(s) - len(pairs), len(t) - len(pairs)), [
        (s[i], t[j]) for i, j in pairs]


def spotting_scores(videos: dict) -> dict:
    """``videos``: name -> (spotted intervals, true intervals). Returns per type and
    overall the scores of the database's summed counts, and the matched micro pairs
    (``micro_pairs``: [(video, spotted, truth)]) for recognition."""
    totals = {kind: Counts() for kind in TYPES}
    micro_pairs = []
    for name, (spotted, truth) in videos.items():
        for kind in TYPES:
            counts, pairs = video_counts(spotted, truth, kind)
            totals[kind] = totals[kind].add(counts)
            if kind == "micro":
                micro_pairs += [(name, s, t) for s, t in pairs]
    overall = totals["micro"].add(totals["macro"])
    return {"micro": totals["micro"].scores(), "macro": totals["macro"].scores(),
            "overall": overall.scores(), "micro_pairs": micro_pairs}


def recognition_on_spotted(pairs: list, num_classes: int) -> dict:
    """Scores of the spotted class labels against the true ones over matched pairs
    [(video, spotted, truth)]: F1 of the mean precision and mean recall (STRS's),
    UF1, UAR, and how many pairs."""
    if not pairs:
        return {"f1_of_mean_precision_recall": 0.0, "uf1": None, "uar": None, "num_pairs": 0}
    truth = np.array([t.label for _, _, t in pairs])
    predicted = np.array([s.label for _, s, _ in pairs])
    cm = metrics.confusion_matrix(truth, predicted, num_classes).astype(np.float64)
    tp, support, guessed = np.diag(cm), cm.sum(1), cm.sum(0)
    shown = support > 0  # classes among the true intervals
    precision = np.where(guessed > 0, tp / np.maximum(guessed, 1), 0.0)[shown].mean()
    recall = (tp / np.maximum(support, 1))[shown].mean()
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    s = metrics.scores(cm)
    return {"f1_of_mean_precision_recall": float(f1), "uf1": s["uf1"], "uar": s["uar"],
            "num_pairs": len(pairs)}


def strs(spotting_f1: float | None, recognition_f1: float) -> float:
    """Spot-then-recognise score: spotting F1 x recognition F1 (0 without a spot)."""
    return float((spotting_f1 or 0.0) * recognition_f1)


def subject_counts(videos: dict, subject_of: dict) -> tuple[list, np.ndarray]:
    """(subjects, (S, 2, 3) counts): per subject, for micro and macro, TP, FP, FN summed
    over its videos. ``videos`` as ``spotting_scores``; ``subject_of``: video -> subject."""
    subjects = sorted(set(subject_of[v] for v in videos))
    counts = np.zeros((len(subjects), len(TYPES), 3), np.int64)
    for name, (spotted, truth) in videos.items():
        row = subjects.index(subject_of[name])
        for t, kind in enumerate(TYPES):
            c, _ = video_counts(spotted, truth, kind)
            counts[row, t] += (c.tp, c.fp, c.fn)
    return subjects, counts


def _f1(counts: np.ndarray) -> np.ndarray:
    """F1 = 2 TP / (2 TP + FP + FN) of (..., 3) counts (0 where nothing was spotted or true)."""
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    return np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)


def bootstrap_f1(counts: np.ndarray, draws: int = 2000, level: float = 0.95,
                 seed: int = 0) -> dict:
    """95% intervals of micro, macro and overall F1 from a bootstrap over subjects:
    draw b takes S subjects with replacement (counts c_b(j)) and scores the summed
    counts sum_j c_b(j) N_j, as ``bootstrap`` does for recognition. ``counts``:
    (S, 2, 3) of ``subject_counts``."""
    rng = np.random.default_rng(seed)
    picks = rng.multinomial(len(counts), np.full(len(counts), 1.0 / len(counts)), size=draws)
    summed = np.einsum("bs,stc->btc", picks, counts)  # (draws, 2, 3)
    tails = (100 * (1 - level) / 2, 100 * (1 + level) / 2)
    out = {}
    for name, c in (("micro", summed[:, 0]), ("macro", summed[:, 1]),
                    ("overall", summed.sum(1))):
        lo, hi = np.percentile(_f1(c), tails)
        out[name] = [float(lo), float(hi)]
    return out
