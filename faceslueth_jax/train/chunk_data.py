"""How a chunk of folds sees its data on the mesh.

Each device group g (mesh axis ``fold``) holds one block of R rows: the sorted
ids of the samples its folds use (train and test), padded with zero rows to R,
the most any group uses in any chunk. Fold tables (sample ids) become row
numbers of the group's block. Views and labels are (G, R, ...) arrays sharded
over ``fold``; on several hosts a block is built only by the host holding
group g, once for all of that group's devices.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from faceslueth_jax.train import placement
from faceslueth_jax.train.fold_step import FoldSpec
from faceslueth_jax.train.placement import FOLD
from faceslueth_jax.train.protocols import Folds


def group_samples(folds: Folds, fold_ids: list[int], groups: int, per_group: int) -> list:
    """Sorted sample ids each device group's folds use (train and test)."""
    return [np.unique(np.concatenate(
                [np.concatenate([folds.train_samples(f), folds.test_samples(f)])
                 for f in fold_ids[g * per_group:(g + 1) * per_group]]))
            for g in range(groups)]


def rows_needed(folds: Folds, groups: int, per_group: int) -> int:
    """R: the most samples any device group uses in any chunk."""
    return max(len(s) for c in placement.chunks(folds.num_folds, groups, per_group)
               for s in group_samples(folds, placement.padded(c, groups * per_group),
                                      groups, per_group))


class ChunkData:
    """Builds a chunk's fold specs, views and labels as fold-sharded global arrays.

    ``views``: host arrays (rows, ...) per view; ``labels``: (N,) for every sample;
    ``view_row``: (N,) row of each sample in ``views`` (-1: not loaded on this host).
    """

    def __init__(self, mesh: Mesh, views: dict, labels: np.ndarray, view_row: np.ndarray,
                 dtype="float32"):
        self.mesh = mesh
        self.dtype = np.dtype(jnp.dtype(dtype))  # of the views on device (f32 in the step)
        self.groups = mesh.shape[FOLD]
        self.sharding = NamedSharding(mesh, P(FOLD))
        self.labels = np.asarray(labels, np.int32)
        self.set_views(views, view_row)

    def set_views(self, views: dict, view_row: np.ndarray) -> None:
        self.views = {k: np.asarray(v, np.float32) for k, v in views.items()}
        self.view_row = np.asarray(view_row)

    def _global(self, shape, block: Callable):
        """A (groups, ...) array sharded over ``fold``; ``block(g)`` is built only on
        the host that holds group g, once for the group's devices."""
        built: dict = {}

        def callback(index):
            g = range(shape[0])[index[0]]
            assert len(g) == 1, index
            if g[0] not in built:
                built[g[0]] = block(g[0])[None]
            return built[g[0]]
        return jax.make_array_from_callback(shape, self.sharding, callback)

    def inputs(self, folds: Folds, fold_ids: list[int], keys: np.ndarray, rows: int):
        """(FoldSpec, views, labels) of the (padded) chunk ``fold_ids``."""
        per_group = len(fold_ids) // self.groups
        samples = group_samples(folds, fold_ids, self.groups, per_group)
        group_of = np.repeat(np.arange(self.groups), per_group)

        def local(table, g):  # sample ids -> rows of group g's block
            return np.searchsorted(samples[g], table).astype(np.int32)

        train = np.stack([local(folds.train_idx[f], g) for f, g in zip(fold_ids, group_of)])
        test = np.stack([local(folds.test_idx[f], g) for f, g in zip(fold_ids, group_of)])
        spec = FoldSpec(key=keys[fold_ids], train_idx=train, num_train=folds.num_train[fold_ids],
                        test_idx=test)
        spec = jax.tree.map(
            lambda a: jax.make_array_from_callback(a.shape, self.sharding,
                                                   lambda i, a=a: a[i]), spec)

        def view_block(name):
            def build(g):
                rows_of = self.view_row[samples[g]]
                if (rows_of < 0).any():
                    raise RuntimeError(f"device group {g} needs samples this host did not load")
                block = np.zeros((rows,) + self.views[name].shape[1:], self.dtype)
                block[:len(rows_of)] = self.views[name][rows_of]
                return block
            return build

        def label_block(g):
            block = np.zeros(rows, np.int32)
            block[:len(samples[g])] = self.labels[samples[g]]
            return block

        views = {k: self._global((self.groups, rows) + v.shape[1:], view_block(k))
                 for k, v in self.views.items()}
        labels = self._global((self.groups, rows), label_block)
        return spec, views, labels

    def samples_needed(self, folds: Folds, chunks: list, folds_per_chunk: int) -> np.ndarray:
        """Sample ids the device groups of this process use in any of ``chunks``."""
        per_group = folds_per_chunk // self.groups
        mine = placement.local_fold_groups(self.mesh)
        needed = []
        for ids in chunks:
            samples = group_samples(folds, placement.padded(ids, folds_per_chunk), self.groups,
                                    per_group)
            needed += [samples[g] for g in mine]
        return np.unique(np.concatenate(needed))
