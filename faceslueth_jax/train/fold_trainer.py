"""Fold-parallel training: every fold of a protocol trained by one compiled program.

Fold f trains its own model on its train samples T_f and is evaluated on its
test samples S_f after every epoch. One epoch of one fold is a pure function

    (state_f, spec_f, data, epoch) -> (state_f', record_f)

with the steps in ``lax.scan``: each step draws B positions of a per-epoch
random permutation of T_f (positions past |T_f| wrap around and get loss
weight 0, so every batch holds real training samples and BatchNorm never sees
a test sample); a step whose batch has no weight, or whose loss is not finite,
leaves the state untouched. A fold whose loss turns non-finite is marked
``diverged`` and frozen; the other folds go on.

``jax.vmap`` maps that function over a chunk of K folds and ``jax.jit``
compiles it once; ``shard_map`` splits the chunk's fold axis over the mesh axis
``fold`` (K / devices folds per device) while the data set, resident on the
devices, is replicated.
K = all folds runs the whole protocol as one program; smaller K runs chunks
one after another through the same compiled program (on CPU, convolutions
with per-fold weights under vmap are slower than folds in turn: see
``default_folds_per_chunk``). A fold's randomness depends only on (seed, f),
so K and the number of devices change results only by float summation order
(Adam's lr * sign(g) step for tiny gradients can magnify that to +-lr).
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

from faceslueth_jax.data.augment import augment_batch
from faceslueth_jax.models.motion_stream import soa_angles_deg
from faceslueth_jax.train.optimizer import make_optimizer
from faceslueth_jax.train.protocols import Folds


@flax.struct.dataclass
class FoldState:
    params: dict
    batch_stats: dict
    opt_state: optax.OptState
    diverged: jax.Array  # bool ()


@flax.struct.dataclass
class FoldSpec:
    key: jax.Array        # (2,) uint32
    train_idx: jax.Array  # (M,) int32, valid up to num_train
    num_train: jax.Array  # () int32
    test_idx: jax.Array   # (S,) int32, valid up to num_test


@flax.struct.dataclass
class EpochRecord:
    loss: jax.Array         # () mean training loss of the epoch
    test_logits: jax.Array  # (S, num_classes)
    theta_deg: jax.Array    # (num_soa_layers,)
    diverged: jax.Array     # () bool


@dataclasses.dataclass
class History:
    """Per fold and epoch: loss (F,E), test_logits (F,E,S,K), theta_deg (F,E,L), diverged (F,E)."""
    loss: np.ndarray
    test_logits: np.ndarray
    theta_deg: np.ndarray
    diverged: np.ndarray
    folds_per_chunk: int
    num_devices: int


def make_mesh(num_devices: int = 0) -> Mesh:
    """A 1-D mesh with axis 'fold' over the first ``num_devices`` devices (0 = all)."""
    devices = jax.devices()
    if num_devices:
        if num_devices > len(devices):
            raise ValueError(f"asked for {num_devices} devices, {len(devices)} available")
        devices = devices[:num_devices]
    return Mesh(np.array(devices), ("fold",))


def default_scan_unroll(steps: int, mesh: Mesh) -> int:
    """Unroll the epoch's step loop completely on CPU, keep it rolled elsewhere.

    XLA:CPU runs convolutions inside a while-loop body several times slower than
    the same convolutions in straight-line code (jax-ml/jax#12868). Measured here
    for the compact preset, batch 32, 2 cores: 0.60 s per step rolled, 0.12 s
    unrolled; partial unrolling (2, 3) does not help, only a loop-free program.
    The price is compile time that grows with the steps per epoch.
    """
    return steps if mesh.devices.flat[0].platform == "cpu" else 1


def default_folds_per_chunk(num_folds: int, mesh: Mesh) -> int:
    """All folds in one program on accelerators; one fold per device on CPU.

    Measured on 2 CPU cores (jax 0.10.2): 68 folds of a small CNN under vmap ran
    5.7x slower than the folds one after another, because per-fold weights turn
    convolutions into grouped convolutions.
    """
    if mesh.devices.flat[0].platform == "cpu":
        return mesh.size
    return num_folds


class FoldTrainer:
    """Trains a model on every fold of a protocol; see the module docstring."""

    def __init__(self, model, train_cfg, views: dict, labels: np.ndarray, mesh: Mesh,
                 u_mirror_offset: float = 1.0):
        """``u_mirror_offset``: c in the flow mirror u -> c - u (see data.augment)."""
        self.model = model
        self.cfg = train_cfg
        self.mesh = mesh
        self.u_mirror_offset = u_mirror_offset
        self.fold_sharding = NamedSharding(mesh, P("fold"))
        replicated = NamedSharding(mesh, P())
        # Resident on the devices and passed to the programs as arguments (not
        # closed over, which would bake the data set into the program as constants).
        self.views = jax.device_put({k: jnp.asarray(v) for k, v in views.items()}, replicated)
        self.labels = jax.device_put(jnp.asarray(labels, jnp.int32), replicated)
        self.example = {k: np.zeros((1,) + v.shape[1:], np.float32) for k, v in views.items()}
        self._compiled: dict = {}

    # ----- one fold ---------------------------------------------------------
    def _init_fold(self, key, optimizer) -> FoldState:
        variables = self.model.init(key, self.example, train=False)
        params = variables["params"]
        return FoldState(params=params, batch_stats=variables.get("batch_stats", {}),
                         opt_state=optimizer.init(params), diverged=jnp.array(False))

    def _train_epoch(self, state: FoldState, spec: FoldSpec, data_views, data_labels, epoch,
                     optimizer, steps: int):
        cfg = self.cfg
        batch_size = cfg.batch_size
        epoch_key = jax.random.fold_in(jax.random.fold_in(spec.key, 1), epoch)
        perm_key, step_key = jax.random.split(epoch_key)
        num_slots = spec.train_idx.shape[0]
        valid = jnp.arange(num_slots) < spec.num_train
        order = jnp.argsort(jnp.where(valid, jax.random.uniform(perm_key, (num_slots,)), 2.0))

        def loss_fn(params, batch_stats, views, labels, weight, dropout_key):
            logits, updates = self.model.apply(
                {"params": params, "batch_stats": batch_stats}, views, train=True,
                mutable=["batch_stats"], rngs={"dropout": dropout_key})
            ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
            loss = jnp.sum(ce * weight) / jnp.maximum(jnp.sum(weight), 1.0)
            return loss, updates["batch_stats"]

        def step(state: FoldState, s):
            positions = s * batch_size + jnp.arange(batch_size)
            weight = (positions < spec.num_train).astype(jnp.float32)
            idx = spec.train_idx[order[positions % spec.num_train]]
            views = {k: v[idx] for k, v in data_views.items()}
            augment_key, dropout_key = jax.random.split(jax.random.fold_in(step_key, s))
            if cfg.augment:
                views = augment_batch(augment_key, views, cfg.max_shift_fraction,
                                      self.u_mirror_offset)
            (loss, batch_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(
                state.params, state.batch_stats, views, data_labels[idx], weight, dropout_key)
            updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
            new = FoldState(optax.apply_updates(state.params, updates), batch_stats, opt_state,
                            state.diverged)
            finite = jnp.isfinite(loss)
            apply = (weight.sum() > 0) & finite & ~state.diverged
            state = jax.tree.map(lambda n, o: jnp.where(apply, n, o), new, state)
            state = state.replace(diverged=state.diverged | ~finite)
            return state, (jnp.where(finite, loss, jnp.nan), weight.sum())

        unroll = self.cfg.scan_unroll or default_scan_unroll(steps, self.mesh)
        state, (losses, counts) = jax.lax.scan(step, state, jnp.arange(steps), unroll=unroll)
        mean_loss = jnp.sum(jnp.nan_to_num(losses, nan=0.0) * counts) / jnp.maximum(counts.sum(), 1)
        mean_loss = jnp.where(state.diverged, jnp.nan, mean_loss)
        test_views = {k: v[spec.test_idx] for k, v in data_views.items()}
        logits = self.model.apply({"params": state.params, "batch_stats": state.batch_stats},
                                  test_views, train=False)
        record = EpochRecord(loss=mean_loss, test_logits=logits,
                             theta_deg=soa_angles_deg(state.params), diverged=state.diverged)
        return state, record

    # ----- all folds --------------------------------------------------------
    def _programs(self, steps: int) -> tuple[Callable, Callable]:
        """(init, epoch) programs over a chunk of folds, compiled once per step count.

        ``shard_map`` gives each device its own block of folds and ``vmap`` maps
        over that block, so the SPMD partitioner never splits a per-fold (grouped)
        convolution across devices: it mis-sizes such convolutions' feature groups
        (seen with XLA:CPU and 8 host devices).
        """
        if steps not in self._compiled:
            optimizer = make_optimizer(self.cfg.optimizer, steps)
            fold, rep = P("fold"), P()
            local_init = jax.vmap(lambda k: self._init_fold(k, optimizer))
            local_epoch = jax.vmap(
                lambda st, sp, v, y, e: self._train_epoch(st, sp, v, y, e, optimizer, steps),
                in_axes=(0, 0, None, None, None))
            init = jax.jit(jax.shard_map(local_init, mesh=self.mesh, in_specs=fold,
                                         out_specs=fold, check_vma=False))
            epoch = jax.jit(jax.shard_map(local_epoch, mesh=self.mesh,
                                          in_specs=(fold, fold, rep, rep, rep), out_specs=fold,
                                          check_vma=False),
                            donate_argnums=0)
            self._compiled[steps] = (init, epoch)
        return self._compiled[steps]

    def fit(self, folds: Folds, epochs: int, seed: int, folds_per_chunk: int = 0,
            on_epoch: Callable | None = None) -> History:
        """Train every fold for ``epochs`` epochs.

        ``on_epoch(chunk, num_chunks, epoch, epochs, losses)`` is called after every
        epoch of every chunk with that chunk's per-fold mean training losses.
        """
        num_folds = folds.num_folds
        chunk = folds_per_chunk or default_folds_per_chunk(num_folds, self.mesh)
        chunk = min(chunk, num_folds)
        chunk = math.ceil(chunk / self.mesh.size) * self.mesh.size  # whole devices
        steps = math.ceil(int(folds.num_train.max()) / self.cfg.batch_size)
        init, run_epoch = self._programs(steps)
        base_key = jax.random.PRNGKey(seed)
        fold_keys = np.stack([np.asarray(jax.random.fold_in(base_key, f)) for f in range(num_folds)])

        chunks = [list(range(s, min(s + chunk, num_folds))) for s in range(0, num_folds, chunk)]
        per_fold: dict[int, list[EpochRecord]] = {f: [] for f in range(num_folds)}
        for c, ids in enumerate(chunks):
            padded = ids + [ids[0]] * (chunk - len(ids))  # inert copies, results dropped
            spec = jax.device_put(FoldSpec(
                key=jnp.asarray(fold_keys[padded]),
                train_idx=jnp.asarray(folds.train_idx[padded]),
                num_train=jnp.asarray(folds.num_train[padded]),
                test_idx=jnp.asarray(folds.test_idx[padded])), self.fold_sharding)
            state = init(jax.vmap(lambda k: jax.random.fold_in(k, 0))(spec.key))
            for e in range(epochs):
                state, record = run_epoch(state, spec, self.views, self.labels, jnp.int32(e))
                record = jax.device_get(record)
                for j, f in enumerate(ids):
                    per_fold[f].append(jax.tree.map(lambda x, j=j: x[j], record))
                if on_epoch is not None:
                    on_epoch(c, len(chunks), e, epochs, record.loss[: len(ids)])
        # (folds, epochs, ...) arrays, one per EpochRecord field
        stacked = jax.tree.map(lambda *xs: np.stack(xs).reshape(num_folds, epochs, *xs[0].shape),
                               *[r for f in range(num_folds) for r in per_fold[f]])
        return History(loss=stacked.loss, test_logits=stacked.test_logits,
                       theta_deg=stacked.theta_deg, diverged=stacked.diverged,
                       folds_per_chunk=chunk, num_devices=self.mesh.size)
