"""Fold-parallel training: every fold of a protocol, placed over every device.

Fold f trains its own model on its train samples T_f and is evaluated on its
test samples S_f after every epoch. One epoch of one fold is a pure function

    (state_f, spec_f, data, epoch) -> (state_f', record_f)

with the steps in ``lax.scan``: each step draws B positions of a per-epoch
random permutation of T_f (positions past |T_f| wrap around and get loss
weight 0, so every batch holds real training samples and BatchNorm never sees
a test sample); a step whose batch has no weight, or whose loss is not finite,
leaves the state untouched. The loss is the weighted mean of each sample's
cross-entropy plus any per-sample auxiliary losses the model sows into
``AUX_LOSSES`` (FDP's dynamic-image reconstruction). A fold whose loss turns non-finite is marked
``diverged`` and frozen; the other folds go on.

Placement (``placement``): the folds of a chunk are split over the mesh axis
``fold`` with ``shard_map``, ``vmap`` runs a device group's folds, and the
mesh axis ``data`` splits each step's batch over a group's devices (B / D
samples each; losses and gradients summed over ``data``, BatchNorm moments
averaged over it). Augmentation draws come from per-sample keys of the whole
batch, so without dropout the step does not depend on D (dropout masks are
drawn per device: with ``drop_path_rate > 0`` they do). Every device of a group
evaluates the whole test set. Each device group holds only the samples its
folds use, as a (groups, samples, ...) array sharded over ``fold``; on several
hosts each host builds only its own groups' blocks.

Chunks (``memory``): the number of folds per device comes from the compiled
program's memory analysis against the device budget, or from
``max_folds_per_chunk``; on CPU without a budget it is one fold per device
(per-fold weights under vmap turn convolutions into grouped convolutions,
measured 5.7x slower on 2 cores than folds in turn). One compiled program runs
every chunk. A fold's randomness depends only on (seed, f), so placement and
chunking change results only by float summation order (Adam's lr * sign(g)
step for tiny gradients can magnify that to +-lr).

Checkpoints (``checkpoints``): every N epochs and at the end of each chunk;
``fit`` resumes from the newest readable one and then runs exactly the
computation an uninterrupted sweep would.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from faceslueth_jax.data import augment
from faceslueth_jax.models.motion_stream import soa_angles_deg
from faceslueth_jax.train import memory, placement
from faceslueth_jax.train.optimizer import make_optimizer
from faceslueth_jax.train.placement import DATA, FOLD
from faceslueth_jax.train.protocols import Folds


# Collection in which a model sows per-sample (B,) auxiliary training losses
# (``self.sow(AUX_LOSSES, name, loss)``); each is added to the cross-entropy.
AUX_LOSSES = "losses"


@flax.struct.dataclass
class FoldState:
    params: dict
    batch_stats: dict
    opt_state: optax.OptState
    diverged: jax.Array  # bool ()


@flax.struct.dataclass
class FoldSpec:
    key: jax.Array        # (2,) uint32
    train_idx: jax.Array  # (M,) int32 rows of the device group's data block, valid up to num_train
    num_train: jax.Array  # () int32
    test_idx: jax.Array   # (S,) int32 rows of the device group's data block


@flax.struct.dataclass
class EpochRecord:
    loss: jax.Array         # () mean training loss of the epoch
    test_logits: jax.Array  # (S, num_classes)
    theta_deg: jax.Array    # (num_soa_layers,)
    diverged: jax.Array     # () bool


RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(EpochRecord))


@dataclasses.dataclass
class History:
    """Per fold and epoch: loss (F,E), test_logits (F,E,S,K), theta_deg (F,E,L), diverged (F,E).

    ``execution``: how the sweep ran (mesh, chunks, memory figures, checkpoints).
    """
    loss: np.ndarray
    test_logits: np.ndarray
    theta_deg: np.ndarray
    diverged: np.ndarray
    execution: dict

    @property
    def folds_per_chunk(self) -> int:
        return self.execution["folds_per_chunk"]


def default_scan_unroll(steps: int, mesh: Mesh) -> int:
    """Unroll the epoch's step loop completely on CPU, keep it rolled elsewhere.

    XLA:CPU runs convolutions inside a while-loop body several times slower than
    the same convolutions in straight-line code (jax-ml/jax#12868). Measured here
    for the compact preset, batch 32, 2 cores: 0.60 s per step rolled, 0.12 s
    unrolled; partial unrolling (2, 3) does not help, only a loop-free program.
    The price is compile time that grows with the steps per epoch.
    """
    return steps if placement.on_cpu(mesh) else 1


class FoldTrainer:
    """Trains a model on every fold of a protocol; see the module docstring.

    ``views``: host arrays (rows, ...) per view; ``labels``: (N,) for every sample;
    ``view_row``: (N,) row of each sample in ``views`` (-1: not loaded on this
    host), default the identity.
    """

    def __init__(self, model, train_cfg, views: dict, labels: np.ndarray, mesh: Mesh,
                 u_mirror_offset: float = 1.0, view_row: np.ndarray | None = None):
        self.data_parallel = mesh.shape[DATA]
        # training splits each batch over the mesh axis 'data' (BatchNorm moments averaged
        # over it); initialisation and shape queries use the model as given
        self.model = model.clone(batch_axis=DATA) if hasattr(model, "batch_axis") else model
        self.init_model = model
        self.cfg = train_cfg
        self.mesh = mesh
        self.u_mirror_offset = u_mirror_offset
        self.views = {k: np.asarray(v, np.float32) for k, v in views.items()}
        self.labels = np.asarray(labels, np.int32)
        self.view_row = (np.arange(len(self.labels)) if view_row is None
                         else np.asarray(view_row))
        self.fold_sharding = NamedSharding(mesh, P(FOLD))
        self.replicated = NamedSharding(mesh, P())
        self.example = {k: np.zeros((1,) + v.shape[1:], np.float32)
                        for k, v in augment.model_views(views).items()}  # no jitter windows
        self._compiled: dict = {}

    def set_views(self, views: dict, view_row: np.ndarray) -> None:
        """Replace the host's views (same per-sample shapes), e.g. by the samples
        this host's devices need once the plan is known."""
        for k, v in views.items():
            if v.shape[1:] != self.views[k].shape[1:]:
                raise ValueError(f"view {k}: shape {v.shape[1:]}, expected {self.views[k].shape[1:]}")
        self.views = {k: np.asarray(v, np.float32) for k, v in views.items()}
        self.view_row = np.asarray(view_row)

    # ----- one fold ---------------------------------------------------------
    def _init_fold(self, key, optimizer) -> FoldState:
        """Fold f's initial state from its key k_f: parameters drawn with fold_in(k_f, 0)
        (epoch e draws from fold_in(fold_in(k_f, 1), e))."""
        variables = self.init_model.init(jax.random.fold_in(key, 0), self.example, train=False)
        params = variables["params"]
        return FoldState(params=params, batch_stats=variables.get("batch_stats", {}),
                         opt_state=optimizer.init(params), diverged=jnp.array(False))

    def _train_epoch(self, state: FoldState, spec: FoldSpec, data_views, data_labels, epoch,
                     optimizer, steps: int):
        cfg = self.cfg
        batch_size = cfg.batch_size
        local = batch_size // self.data_parallel  # this device's share of every batch
        shard = jax.lax.axis_index(DATA)
        epoch_key = jax.random.fold_in(jax.random.fold_in(spec.key, 1), epoch)
        perm_key, step_key = jax.random.split(epoch_key)
        num_slots = spec.train_idx.shape[0]
        valid = jnp.arange(num_slots) < spec.num_train
        order = jnp.argsort(jnp.where(valid, jax.random.uniform(perm_key, (num_slots,)), 2.0))

        def loss_fn(params, batch_stats, views, labels, weight, total_weight, dropout_key):
            logits, updates = self.model.apply(
                {"params": params, "batch_stats": batch_stats}, views, train=True,
                mutable=["batch_stats", AUX_LOSSES], rngs={"dropout": dropout_key})
            per_sample = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
            for aux in jax.tree.leaves(updates.get(AUX_LOSSES, {})):
                per_sample = per_sample + aux  # e.g. FDP's dynamic-image reconstruction
            loss = jnp.sum(per_sample * weight) / jnp.maximum(total_weight, 1.0)
            return loss, updates.get("batch_stats", {})

        def step(state: FoldState, s):
            positions = s * batch_size + shard * local + jnp.arange(local)
            weight = (positions < spec.num_train).astype(jnp.float32)
            total_weight = jax.lax.psum(weight.sum(), DATA)
            idx = spec.train_idx[order[positions % spec.num_train]]
            views = {k: v[idx] for k, v in data_views.items()}
            augment_key, dropout_key = jax.random.split(jax.random.fold_in(step_key, s))
            keys = jax.random.split(augment_key, batch_size)  # one per sample of the batch
            keys = jax.lax.dynamic_slice_in_dim(keys, shard * local, local)
            # jitter and spatial augmentation (none without cfg.augment); drops the windows
            views = augment.train_views(keys, views, cfg, self.u_mirror_offset)
            (loss, batch_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(
                state.params, state.batch_stats, views, data_labels[idx], weight, total_weight,
                jax.random.fold_in(dropout_key, shard))
            loss, grads = jax.lax.psum((loss, grads), DATA)
            updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
            new = FoldState(optax.apply_updates(state.params, updates), batch_stats, opt_state,
                            state.diverged)
            finite = jnp.isfinite(loss)
            apply = (total_weight > 0) & finite & ~state.diverged
            state = jax.tree.map(lambda n, o: jnp.where(apply, n, o), new, state)
            state = state.replace(diverged=state.diverged | ~finite)
            return state, (jnp.where(finite, loss, jnp.nan), total_weight)

        unroll = self.cfg.scan_unroll or default_scan_unroll(steps, self.mesh)
        state, (losses, counts) = jax.lax.scan(step, state, jnp.arange(steps), unroll=unroll)
        mean_loss = jnp.sum(jnp.nan_to_num(losses, nan=0.0) * counts) / jnp.maximum(counts.sum(), 1)
        mean_loss = jnp.where(state.diverged, jnp.nan, mean_loss)
        record = EpochRecord(loss=mean_loss, test_logits=self._test_logits(state, spec, data_views),
                             theta_deg=soa_angles_deg(state.params), diverged=state.diverged)
        return state, record

    def _test_logits(self, state: FoldState, spec: FoldSpec, data_views):
        """Logits of the fold's test samples, in batches of at most B (bounded memory)."""
        size = spec.test_idx.shape[0]
        batch = min(self.cfg.batch_size, size)
        count = math.ceil(size / batch)
        idx = jnp.pad(spec.test_idx, (0, count * batch - size), mode="edge").reshape(count, batch)
        variables = {"params": state.params, "batch_stats": state.batch_stats}

        def one(_, rows):  # exactly onset and apex: no jitter windows
            views = {k: v[rows] for k, v in augment.model_views(data_views).items()}
            return None, self.model.apply(variables, views, train=False)

        unroll = self.cfg.scan_unroll or default_scan_unroll(count, self.mesh)
        _, logits = jax.lax.scan(one, None, idx, unroll=min(unroll, count))
        return logits.reshape(count * batch, -1)[:size]

    # ----- programs over a chunk of folds -------------------------------------
    def _programs(self, folds: Folds, steps: int, chunk: int, rows: int):
        """(init, epoch, abstract state) compiled for ``chunk`` folds of ``folds``'s
        table widths and data blocks of ``rows`` rows.

        ``shard_map`` gives each device group its own block of folds and ``vmap``
        maps over that block, so the SPMD partitioner never splits a per-fold
        (grouped) convolution across devices: it mis-sizes such convolutions'
        feature groups (seen with XLA:CPU and 8 host devices).
        """
        widths = (folds.train_idx.shape[1], folds.test_idx.shape[1])
        cache_key = (steps, chunk, rows, widths)
        if cache_key not in self._compiled:
            optimizer = make_optimizer(self.cfg.optimizer, steps)
            fold, rep = P(FOLD), P()

            def local_epoch(state, spec, views, labels, epoch):
                views = {k: v[0] for k, v in views.items()}  # this group's block
                return jax.vmap(lambda st, sp: self._train_epoch(
                    st, sp, views, labels[0], epoch, optimizer, steps))(state, spec)

            init = jax.jit(jax.shard_map(jax.vmap(lambda k: self._init_fold(k, optimizer)),
                                         mesh=self.mesh, in_specs=fold, out_specs=fold,
                                         check_vma=False))
            epoch = jax.jit(jax.shard_map(local_epoch, mesh=self.mesh,
                                          in_specs=(fold, fold, fold, fold, rep),
                                          out_specs=fold, check_vma=False),
                            donate_argnums=0)
            keys = self._abstract((chunk, 2), jnp.uint32)
            init_c = init.lower(keys).compile()
            state = jax.tree.map(lambda a: self._abstract(a.shape, a.dtype),
                                 jax.eval_shape(init, keys))
            args = (state, self._abstract_spec(chunk, *widths), self._abstract_views(rows),
                    self._abstract((self.mesh.shape[FOLD], rows), jnp.int32),
                    jax.ShapeDtypeStruct((), jnp.int32, sharding=self.replicated))
            self._compiled[cache_key] = (init_c, epoch.lower(*args).compile(), state)
        return self._compiled[cache_key]

    def _abstract(self, shape, dtype):
        return jax.ShapeDtypeStruct(shape, dtype, sharding=self.fold_sharding)

    def _abstract_spec(self, chunk, train_width, test_width):
        return FoldSpec(key=self._abstract((chunk, 2), jnp.uint32),
                        train_idx=self._abstract((chunk, train_width), jnp.int32),
                        num_train=self._abstract((chunk,), jnp.int32),
                        test_idx=self._abstract((chunk, test_width), jnp.int32))

    def _abstract_views(self, rows):
        groups = self.mesh.shape[FOLD]
        return {k: self._abstract((groups, rows) + v.shape[1:], jnp.float32)
                for k, v in self.views.items()}

    # ----- inputs of a chunk --------------------------------------------------
    def _group_samples(self, folds: Folds, fold_ids: list[int], per_group: int) -> list:
        """Sorted sample ids each device group's folds use (train and test)."""
        return [np.unique(np.concatenate(
                    [np.concatenate([folds.train_samples(f), folds.test_samples(f)])
                     for f in fold_ids[g * per_group:(g + 1) * per_group]]))
                for g in range(self.mesh.shape[FOLD])]

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
        return jax.make_array_from_callback(shape, self.fold_sharding, callback)

    def _chunk_inputs(self, folds: Folds, fold_ids: list[int], keys: np.ndarray, rows: int):
        groups = self.mesh.shape[FOLD]
        per_group = len(fold_ids) // groups
        samples = self._group_samples(folds, fold_ids, per_group)
        group_of = np.repeat(np.arange(groups), per_group)

        def local(table, g):  # sample ids -> rows of group g's block
            return np.searchsorted(samples[g], table).astype(np.int32)

        train = np.stack([local(folds.train_idx[f], g) for f, g in zip(fold_ids, group_of)])
        test = np.stack([local(folds.test_idx[f], g) for f, g in zip(fold_ids, group_of)])
        spec = FoldSpec(key=keys[fold_ids], train_idx=train, num_train=folds.num_train[fold_ids],
                        test_idx=test)
        spec = jax.tree.map(
            lambda a: jax.make_array_from_callback(a.shape, self.fold_sharding,
                                                   lambda i, a=a: a[i]), spec)

        def view_block(name):
            def build(g):
                rows_of = self.view_row[samples[g]]
                if (rows_of < 0).any():
                    raise RuntimeError(f"device group {g} needs samples this host did not load")
                block = np.zeros((rows,) + self.views[name].shape[1:], np.float32)
                block[:len(rows_of)] = self.views[name][rows_of]
                return block
            return build

        def label_block(g):
            block = np.zeros(rows, np.int32)
            block[:len(samples[g])] = self.labels[samples[g]]
            return block

        views = {k: self._global((groups, rows) + v.shape[1:], view_block(k))
                 for k, v in self.views.items()}
        labels = self._global((groups, rows), label_block)
        return spec, views, labels

    def samples_needed(self, folds: Folds, plan) -> np.ndarray:
        """Sample ids the device groups of this process use in any chunk of ``plan``
        (``plan()``'s result)."""
        chunks, facts = plan
        size = facts["folds_per_chunk"]
        per_group = size // self.mesh.shape[FOLD]
        mine = placement.local_fold_groups(self.mesh)
        needed = []
        for ids in chunks:
            samples = self._group_samples(folds, placement.padded(ids, size), per_group)
            needed += [samples[g] for g in mine]
        return np.unique(np.concatenate(needed))

    # ----- all folds --------------------------------------------------------
    def _rows(self, folds: Folds, per_group: int) -> int:
        """Rows of the data blocks: the most samples any device group uses in any chunk."""
        groups = self.mesh.shape[FOLD]
        return max(len(s) for c in placement.chunks(folds.num_folds, groups, per_group)
                   for s in self._group_samples(
                       folds, placement.padded(c, groups * per_group), per_group))

    def plan(self, folds: Folds, max_folds_per_chunk: int = 0, memory_budget: int = 0):
        """(chunks of fold ids, execution facts): the folds per program, chosen by
        ``max_folds_per_chunk``, else by memory (see the module docstring)."""
        groups = self.mesh.shape[FOLD]
        steps = math.ceil(int(folds.num_train.max()) / self.cfg.batch_size)
        facts = {"fold_groups": groups, "data_parallel": self.data_parallel,
                 "num_devices": int(self.mesh.size), "steps_per_epoch": steps}
        budget = memory.device_budget(memory_budget)
        most = math.ceil(folds.num_folds / groups)  # folds per group with a single chunk
        if max_folds_per_chunk:
            per_group = min(most, max(1, max_folds_per_chunk // groups))
            facts["chunking"] = f"max_folds_per_chunk={max_folds_per_chunk}"
        elif budget is None:
            per_group = 1
            facts["chunking"] = "one fold per device group (CPU, no memory budget)"
        else:
            one, two = (memory.program_bytes(self._programs(
                folds, steps, k * groups, self._rows(folds, k))[1]) for k in (1, 2))
            foot = memory.footprint(one, two)
            fit = foot.folds_that_fit(budget)
            if fit < 1:
                raise MemoryError(
                    f"one fold needs {foot.bytes_for(1) / 2**30:.3f} GiB per device, the "
                    f"budget is {budget / 2**30:.3f} GiB: use more devices per fold "
                    f"(--config.mesh.data), a smaller batch or a smaller model")
            per_group = min(fit, most)
            facts.update(chunking="memory", budget_bytes=budget, fixed_bytes=foot.fixed,
                         per_fold_bytes=foot.per_fold)
        plan = placement.chunks(folds.num_folds, groups, per_group)
        per_group = math.ceil(len(plan[0]) / groups)
        facts.update(folds_per_chunk=groups * per_group, num_chunks=len(plan),
                     rows_per_device=self._rows(folds, per_group))
        return plan, facts

    def fit(self, folds: Folds, epochs: int, seed: int, max_folds_per_chunk: int = 0,
            memory_budget: int = 0, checkpoints=None, on_epoch: Callable | None = None,
            plan=None) -> History:
        """Train every fold for ``epochs`` epochs; resume from ``checkpoints`` when
        it holds a step of this sweep.

        ``on_epoch(chunk, num_chunks, epoch, epochs, losses)`` is called after every
        epoch of every chunk with that chunk's per-fold mean training losses.
        """
        plan, facts = plan or self.plan(folds, max_folds_per_chunk, memory_budget)
        num_folds, size = folds.num_folds, facts["folds_per_chunk"]
        steps, rows = facts["steps_per_epoch"], facts["rows_per_device"]
        init, run_epoch, abstract_state = self._programs(folds, steps, size, rows)
        facts["epoch_program_bytes_per_device"] = memory.program_bytes(run_epoch)
        base_key = jax.random.PRNGKey(seed)
        fold_keys = np.stack([np.asarray(jax.random.fold_in(base_key, f))
                              for f in range(num_folds)])
        history = self._empty_history(folds, epochs)
        start = (0, 0)  # (chunk, epochs of it done)
        if checkpoints is not None:
            abstract = {"state": abstract_state, "keys": self._abstract((size, 2), jnp.uint32)}
            restored = checkpoints.restore_latest(abstract, history)
            if restored is not None:
                progress, saved, history = restored
                start = (progress["chunk"], progress["epochs_done"])
                facts["resumed_from_step"] = start[0] * epochs + start[1]
            facts["checkpoints_skipped"] = checkpoints.skipped

        epoch_arg = lambda e: jax.device_put(np.int32(e), self.replicated)
        for c, ids in enumerate(plan):
            if c < start[0] or (c == start[0] and start[1] == epochs):
                continue  # finished before the interruption
            padded = placement.padded(ids, size)
            spec, views, labels = self._chunk_inputs(folds, padded, fold_keys, rows)
            first = start[1] if c == start[0] else 0
            if first:
                if not np.array_equal(_to_host(saved["keys"]), fold_keys[padded]):
                    raise RuntimeError("the checkpoint's PRNG keys are not this sweep's")
                state = saved["state"]
            else:
                state = init(spec.key)
            for e in range(first, epochs):
                state, record = run_epoch(state, spec, views, labels, epoch_arg(e))
                record = _to_host(record)
                for name in RECORD_FIELDS:
                    history[name][ids, e] = getattr(record, name)[: len(ids)]
                if on_epoch is not None:
                    on_epoch(c, len(plan), e, epochs, record.loss[: len(ids)])
                if checkpoints is not None and checkpoints.due(e + 1, epochs):
                    checkpoints.save(c * epochs + e + 1, {"chunk": c, "epochs_done": e + 1},
                                     {"state": state, "keys": spec.key}, history)
            # free this chunk's device buffers before the next chunk's are made: the
            # memory plan counts one chunk's state and data per device
            del state, spec, views, labels
            saved = None
        if checkpoints is not None:
            checkpoints.close()
        return History(execution=facts, **history)

    def _empty_history(self, folds: Folds, epochs: int) -> dict:
        """Zero (F, E, ...) arrays for every EpochRecord field."""
        variables = jax.eval_shape(lambda: self.init_model.init(
            jax.random.PRNGKey(0), self.example, train=False))
        num_classes = jax.eval_shape(
            lambda v: self.init_model.apply(v, self.example, train=False), variables).shape[-1]
        num_layers = jax.eval_shape(soa_angles_deg, variables["params"]).shape[0]
        f, s = folds.num_folds, folds.test_idx.shape[1]
        return {"loss": np.zeros((f, epochs), np.float32),
                "test_logits": np.zeros((f, epochs, s, num_classes), np.float32),
                "theta_deg": np.zeros((f, epochs, num_layers), np.float32),
                "diverged": np.zeros((f, epochs), bool)}


def _to_host(tree):
    """Fold-sharded results as numpy on every process (gathered across hosts)."""
    if jax.process_count() == 1:
        return jax.device_get(tree)
    from jax.experimental import multihost_utils
    return multihost_utils.process_allgather(tree, tiled=True)
