"""Cross-validation protocols as index tables the fold-parallel trainer consumes.

A protocol yields F folds; fold f has train samples T_f and test samples S_f
(disjoint). They are stored padded to the largest fold so every fold has the
same array shapes:

    train_idx (F, max|T|), num_train (F,), test_idx (F, max|S|), num_test (F,)

Padding slots repeat a valid index and are masked out by the counts.

LOSO: one fold per subject, S_f = that subject's samples (subject keys are
``dataset/subject`` so equal ids from different databases stay apart).
LODO: one fold per database, S_f = that database's samples, T_f = the others'.
CROSS: one fold that trains on the databases ``train`` and tests on ``test``
(e.g. CASME II -> SAMM).
ALL: one fold "all" that trains on every sample and tests on none (a model to
deploy, ``faceslueth_jax.inference``); its test table is one masked slot.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from faceslueth_jax.data.subject_groups import inner_groups


@dataclasses.dataclass(frozen=True)
class Folds:
    names: tuple[str, ...]
    train_idx: np.ndarray
    num_train: np.ndarray
    test_idx: np.ndarray
    num_test: np.ndarray

    @property
    def num_folds(self) -> int:
        return len(self.names)

    def test_samples(self, fold: int) -> np.ndarray:
        return self.test_idx[fold, : self.num_test[fold]]

    def train_samples(self, fold: int) -> np.ndarray:
        return self.train_idx[fold, : self.num_train[fold]]


def _pad(rows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    width = max(len(r) for r in rows)
    table = np.stack([np.resize(r, width) for r in rows]).astype(np.int32)
    return table, np.array([len(r) for r in rows], np.int32)


def folds_from_groups(groups, fold_names=None) -> Folds:
    """Leave-one-group-out folds: fold g tests on group g, trains on the rest."""
    groups = np.asarray(groups)
    names = sorted(set(groups.tolist())) if fold_names is None else list(fold_names)
    tests, trains = [], []
    for name in names:
        held_out = groups == name
        if not held_out.any():
            raise ValueError(f"fold {name!r} has no samples")
        if held_out.all():
            raise ValueError(f"fold {name!r} holds every sample: nothing left to train on")
        tests.append(np.flatnonzero(held_out))
        trains.append(np.flatnonzero(~held_out))
    train_idx, num_train = _pad(trains)
    test_idx, num_test = _pad(tests)
    return Folds(tuple(str(n) for n in names), train_idx, num_train, test_idx, num_test)


def subject_keys(datasets, subjects) -> np.ndarray:
    return np.array([f"{d}/{s}" for d, s in zip(datasets, subjects)])


@dataclasses.dataclass(frozen=True)
class Nested:
    """The inner folds of nested cross-validation: for outer fold f and inner group
    g = 0..G-1, inner fold f * G + g trains on T_f less group g and validates on group
    g (``inner_groups``: T_f's subjects kept together). ``outer[j]``: the outer fold
    of inner fold j. Every training sample of an outer fold is validated exactly once."""
    folds: Folds
    outer: np.ndarray
    groups: int

    def per_outer(self, values: list, num_samples: int) -> np.ndarray:
        """(F, N, K) from ``values[j]``, inner fold j's (num_test_j, K) rows for its
        validation samples: each outer fold's T_f filled, NaN elsewhere."""
        out = np.full((int(self.outer.max()) + 1, num_samples, values[0].shape[-1]), np.nan,
                      np.float32)
        for j, f in enumerate(self.outer):
            out[f, self.folds.test_samples(j)] = values[j]
        return out


def nested(folds: Folds, subjects, inner_folds: int) -> Nested:
    """The ``Nested`` inner folds of ``folds`` (subjects kept together)."""
    groups = inner_groups(folds, subjects, inner_folds)
    names, trains, tests, outer = [], [], [], []
    for f in range(folds.num_folds):
        for g in range(inner_folds):
            names.append(f"{folds.names[f]}/inner{g}")
            tests.append(np.flatnonzero(groups[f] == g))
            trains.append(np.flatnonzero((groups[f] >= 0) & (groups[f] != g)))
            outer.append(f)
    train_idx, num_train = _pad(trains)
    test_idx, num_test = _pad(tests)
    return Nested(Folds(tuple(names), train_idx, num_train, test_idx, num_test),
                  np.asarray(outer, np.int32), inner_folds)


def join(first: Folds, second: Folds) -> Folds:
    """One fold table of ``first``'s folds, then ``second``'s (tables re-padded)."""
    rows = lambda folds, table, counts: [table[f, :counts[f]] for f in range(folds.num_folds)]
    train_idx, num_train = _pad(rows(first, first.train_idx, first.num_train)
                                + rows(second, second.train_idx, second.num_train))
    test_idx, num_test = _pad(rows(first, first.test_idx, first.num_test)
                              + rows(second, second.test_idx, second.num_test))
    return Folds(first.names + second.names, train_idx, num_train, test_idx, num_test)


def loso(datasets, subjects) -> Folds:
    """Leave one subject out."""
    return folds_from_groups(subject_keys(datasets, subjects))


def lodo(datasets) -> Folds:
    """Leave one database out."""
    names = sorted(set(np.asarray(datasets).tolist()))
    if len(names) < 2:
        raise ValueError(f"LODO needs samples of at least two databases; the data holds only "
                         f"{names}")
    return folds_from_groups(datasets, names)


def tile(folds: Folds, times: int) -> Folds:
    """The fold table repeated ``times`` times: instance s * F + f is fold f again
    (one instance per seed; ``fold_trainer.FoldTrainer.fit``)."""
    if times == 1:
        return folds
    return Folds(folds.names * times, np.tile(folds.train_idx, (times, 1)),
                 np.tile(folds.num_train, times), np.tile(folds.test_idx, (times, 1)),
                 np.tile(folds.num_test, times))


def all_samples(num_samples: int) -> Folds:
    """One fold that trains on every sample and tests on none."""
    return Folds(("all",), np.arange(num_samples, dtype=np.int32)[None],
                 np.array([num_samples], np.int32), np.zeros((1, 1), np.int32),
                 np.zeros(1, np.int32))


def tested_samples(folds: Folds) -> np.ndarray:
    """Sorted ids of the samples some fold tests."""
    return np.unique(np.concatenate([folds.test_samples(f) for f in range(folds.num_folds)]))


def test_part(folds: Folds, tested: np.ndarray) -> Folds:
    """The folds' test tables renumbered for the data restricted to ``tested`` (sorted
    sample ids, ``tested_samples``); the training tables are dropped (empty)."""
    position = np.full(int(tested.max()) + 1, -1, np.int32)
    position[tested] = np.arange(len(tested), dtype=np.int32)
    return Folds(folds.names, np.zeros((folds.num_folds, 1), np.int32),
                 np.zeros(folds.num_folds, np.int32),
                 position[np.minimum(folds.test_idx, len(position) - 1)], folds.num_test)


def cross(datasets, train, test) -> Folds:
    """One fold: train on the samples of the databases ``train``, test on ``test``."""
    datasets = np.asarray(datasets)
    train, test = tuple(train), tuple(test)
    if not train or not test or set(train) & set(test):
        raise ValueError(f"the cross protocol needs disjoint, non-empty protocol.train and "
                         f"protocol.test; got train={train}, test={test}")
    rows = {}
    for side, names in (("train", train), ("test", test)):
        absent = [n for n in names if n not in set(datasets.tolist())]
        if absent:
            raise ValueError(f"protocol.{side} names {absent}, which the data does not hold "
                             f"(it holds {sorted(set(datasets.tolist()))})")
        rows[side] = np.flatnonzero(np.isin(datasets, names)).astype(np.int32)
    name = f"{'+'.join(train)}->{'+'.join(test)}"
    return Folds((name,), rows["train"][None], np.array([len(rows["train"])], np.int32),
                 rows["test"][None], np.array([len(rows["test"])], np.int32))


PROTOCOLS = ("loso", "lodo", "cross", "all")


def make_folds(name: str, datasets, subjects, train=(), test=()) -> Folds:
    """The fold table of protocol ``name``; ``train``, ``test``: the cross protocol's
    databases."""
    if name == "cross":
        return cross(datasets, train, test)
    if name == "loso":
        return loso(datasets, subjects)
    if name == "lodo":
        return lodo(datasets)
    if name == "all":
        return all_samples(len(datasets))
    raise ValueError(f"unknown protocol {name!r}; available: {PROTOCOLS}")
