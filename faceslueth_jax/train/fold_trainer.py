"""Fold-parallel training: every fold of a protocol, placed over every device.

Fold f trains its own model on its train samples T_f and is evaluated on its
test samples S_f after every epoch. One epoch of one fold is a pure function

    (state_f, spec_f, data, epoch) -> (state_f', record_f)

with the steps in ``lax.scan`` (``fold_step``: the step maths, module-level
functions): each step draws B positions of a per-epoch random permutation of
T_f (positions past |T_f| wrap around and get loss weight 0, so every batch
holds real training samples and BatchNorm never sees a test sample). A fold
whose loss turns non-finite is marked ``diverged`` and frozen; the other folds
go on. After every epoch the trainer records the epoch's mean loss, the test
logits and the value of every probe the caller passes (name -> fn(params),
e.g. FaceSleuth-R's SOA angles); the trainer knows no model.

Placement (``placement``): the folds of a chunk are split over the mesh axis
``fold`` with ``shard_map``, ``vmap`` runs a device group's folds, and the
mesh axis ``data`` splits each step's batch over a group's devices (B / D
samples each; losses, gradients and BatchNorm's sums and counts summed over
``data``). Augmentation and dropout draw from per-sample keys of the whole
batch, so the step does not depend on D beyond float summation order. Every
device of a group evaluates the whole test set. Each device group holds only the samples its
folds use (``chunk_data``).

Chunks (``memory``): the number of folds per device comes from the compiled
program's memory analysis against the device budget, or from
``max_folds_per_chunk``; on CPU without a budget it is one fold per device
(on a CPU's few cores, folds in one program gain nothing over folds in turn, and
lose with lax convolutions, which vmap turns into grouped ones: ``bench/README.md``,
"K folds together after the change"). The epoch's step loop is a rolled ``lax.scan``,
unrolled on CPU only when the program holds convolutions (``loop_hostile``).
One compiled program runs
every chunk. A fold's randomness depends only on (seed, f), so placement and
chunking change results only by float summation order (Adam's lr * sign(g)
step for tiny gradients can magnify that to +-lr).

Checkpoints (``checkpoints``): every N epochs and at the end of each chunk;
``fit`` resumes from the newest readable one and then runs exactly the
computation an uninterrupted sweep would.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from faceslueth_jax import distributed
from faceslueth_jax.data import augment
from faceslueth_jax.models import layers
from faceslueth_jax.stopwatch import Stopwatch
from faceslueth_jax.train import chunk_data, final_variables, fold_step, memory, placement
from faceslueth_jax.train.optimizer import make_optimizer
from faceslueth_jax.train.placement import DATA, FOLD
from faceslueth_jax.train.protocols import Folds

# What every epoch of every fold records besides the probes: (F, E, ...) arrays.
RECORDS = ("loss", "test_logits", "diverged")
FLIPPED = "test_logits_flipped"  # with train.test_flip: the test rows mirrored, per epoch


@dataclasses.dataclass
class History:
    """Per fold and epoch: loss (F,E), test_logits (F,E,S,K), diverged (F,E), and
    ``probes``: name -> (F,E,...) of every probe (e.g. ``theta_deg`` (F,E,L)).
    ``final``: with ``FoldTrainer(final_dir=...)``, the files of every fold's variables
    after its last epoch, the ones it is tested with (``final_variables.MemberFiles``).

    ``execution``: how the sweep ran (mesh, chunks, memory figures, checkpoints).
    """
    loss: np.ndarray
    test_logits: np.ndarray
    diverged: np.ndarray
    probes: dict
    execution: dict
    final: final_variables.MemberFiles | None = None
    # nested selection (protocols.Nested): the inner folds' records, validation logits
    # in ``test_logits``, instance s * J + j being seed s's inner fold j
    inner: "History | None" = None
    nested: object = None
    test_logits_flipped: np.ndarray | None = None  # (F,E,S,K) with train.test_flip

    @classmethod
    def from_records(cls, records: dict, execution: dict) -> "History":
        """From ``fit``'s dict of records (probes under ``probe_<name>``)."""
        probes = {k[len(PROBE):]: v for k, v in records.items() if k.startswith(PROBE)}
        return cls(execution=execution, probes=probes, test_logits_flipped=records.get(FLIPPED),
                   **{k: records[k] for k in RECORDS})

    @property
    def folds_per_chunk(self) -> int:
        return self.execution["folds_per_chunk"]

    @property
    def seeds(self) -> tuple:
        return tuple(self.execution.get("seeds", (0,)))

    def per_seed(self) -> list:
        """One History per seed, each over the protocol's F folds (instance s * F + f
        is seed s's fold f; ``FoldTrainer.fit``), with its inner folds when nested."""
        n = len(self.seeds)
        if n == 1:
            return [self]
        f = self.loss.shape[0] // n
        inner = self.inner.per_seed() if self.inner is not None else [None] * n
        return [dataclasses.replace(self.take(np.arange(s * f, (s + 1) * f)),
                                    execution=dict(self.execution, seed=seed), inner=inner[s])
                for s, seed in enumerate(self.seeds)]

    def split_nested(self, outer: int, nested) -> "History":
        """Records of a nested sweep (``nested_keys``' layout) as its first ``outer``
        instances' (the outer folds, laid out as a plain sweep's) carrying the rest as
        ``inner``, with ``nested`` (``protocols.Nested``)."""
        rows = np.arange(self.loss.shape[0])
        return dataclasses.replace(self.take(rows[:outer]), inner=self.take(rows[outer:]),
                                   nested=nested)

    def take(self, rows) -> "History":
        """The records of instances ``rows`` (the same execution, final files, nesting)."""
        flipped = self.test_logits_flipped
        return dataclasses.replace(
            self, loss=self.loss[rows], test_logits=self.test_logits[rows],
            diverged=self.diverged[rows], probes={k: v[rows] for k, v in self.probes.items()},
            test_logits_flipped=None if flipped is None else flipped[rows])


PROBE = "probe_"  # records key prefix of a probe (checkpoints hold the records)


@dataclasses.dataclass
class Plan:
    """How a sweep runs: fold ids per chunk, one compiled program for all chunks.

    ``facts``: the same and how it was decided (mesh, chunking rule, memory
    figures), recorded in metrics.json's ``execution``.
    """
    chunks: list
    steps_per_epoch: int
    folds_per_chunk: int
    rows_per_device: int
    facts: dict
    conv: str = ""  # the formulation of the models' impl='auto' convolutions

    @property
    def num_chunks(self) -> int:
        return len(self.chunks)


def loop_hostile(lowered, mesh: Mesh) -> bool:
    """Whether a lowered epoch program should have its step loop unrolled: on CPU,
    when it holds convolutions.

    XLA:CPU runs a convolution inside a while-loop body with a generic kernel,
    several times slower than the same convolution in straight-line code (there
    YNNPACK takes it; jax-ml/jax#12868). Unrolling buys that speed back at several
    times the compile time; with the matmul formulation (``layers.Conv``'s CPU
    default) no convolution is left and the rolled loop is as fast (the figures:
    ``bench/README.md``, "The compact composite sweep, before and after").
    """
    return placement.on_cpu(mesh) and "stablehlo.convolution" in lowered.as_text()


class FoldTrainer:
    """Trains a model on every fold of a protocol; see the module docstring.

    ``views``: host arrays (rows, ...) per view; ``labels``: (N,) for every sample;
    ``view_row``: (N,) row of each sample in ``views`` (-1: not loaded on this
    host), default the identity. ``probes``: name -> fn(params), recorded after
    every epoch; ``slow_params``: parameter names trained with the optimiser's
    theta group (``optimizer.make_optimizer``); ``final_dir``: write every fold's
    variables after its last epoch there, one file per fold model
    (``final_variables``; ``History.final``).
    """

    def __init__(self, model, train_cfg, views: dict, labels: np.ndarray, mesh: Mesh,
                 u_mirror_offset: float = 1.0, view_row: np.ndarray | None = None,
                 probes: dict | None = None, slow_params: tuple = (), final_dir=None):
        self.final_dir = final_dir
        self.data_parallel = mesh.shape[DATA]
        # training splits each batch over the mesh axis 'data' (BatchNorm moments averaged
        # over it); initialisation and shape queries use the model as given
        self.model = model.clone(batch_axis=DATA) if hasattr(model, "batch_axis") else model
        self.init_model = model
        self.cfg = train_cfg
        self.mesh = mesh
        self.u_mirror_offset = u_mirror_offset
        self.probes = dict(probes or {})
        self.slow_params = tuple(slow_params)
        self.data = chunk_data.ChunkData(
            mesh, views, labels, np.arange(len(labels)) if view_row is None else view_row,
            dtype=train_cfg.get("device_views", "float32"))
        self.fold_sharding = NamedSharding(mesh, P(FOLD))
        self.replicated = NamedSharding(mesh, P())
        self.example = {k: np.zeros((1,) + v.shape[1:], np.float32)
                        for k, v in augment.model_views(views).items()}  # no jitter windows
        # the model's variables as shapes, for the probes' and records' shapes
        self._variables = jax.eval_shape(lambda: self.init_model.init(
            jax.random.PRNGKey(0), self.example, train=False))
        # K, the model's logits per sample (test records, class-balanced weights)
        self.num_classes = jax.eval_shape(lambda v: self.init_model.apply(
            v, self.example, train=False), self._variables).shape[-1]
        self.probes = self._non_empty(self.probes)
        self._compiled: dict = {}
        # seconds per part (compile / init and transfer / epochs / checkpoints) since this
        # trainer was made, planning's compilation included; ``fit`` records them
        self.watch = Stopwatch()
        self.compile_seconds: dict = {}  # program cache key -> seconds its compilation took
        self.platform = mesh.devices.flat[0].platform
        self.precision = train_cfg.get("precision", "highest")
        self.view_dtype = jnp.dtype(train_cfg.get("device_views", "float32"))

    def _non_empty(self, probes: dict) -> dict:
        """The probes that measure something for this model (e.g. no SOA angles for
        FaceSleuth-R's ``soa_mode='none'`` ablation: a (0,) record is dropped)."""
        params = self._variables["params"]
        return {name: fn for name, fn in probes.items()
                if math.prod(jax.eval_shape(fn, params).shape) > 0}

    def set_views(self, views: dict, view_row: np.ndarray) -> None:
        """Replace the host's views (same per-sample shapes), e.g. by the samples
        this host's devices need once the plan is known."""
        for k, v in views.items():
            if v.shape[1:] != self.data.views[k].shape[1:]:
                raise ValueError(f"view {k}: shape {v.shape[1:]}, expected "
                                 f"{self.data.views[k].shape[1:]}")
        self.data.set_views(views, view_row)

    # ----- one fold ---------------------------------------------------------
    def _epoch(self, state, spec, views, labels, epoch, optimizer, steps: int, unrolled: bool):
        """One fold's epoch and its record: (state, {loss, test_logits, diverged, probes}).
        ``unrolled``: the step and test loops in straight-line code (``loop_hostile``)."""
        unroll = self.cfg.scan_unroll or (steps if unrolled else 1)
        state, loss = fold_step.train_epoch(
            self.model, optimizer, self.cfg, state, spec, views, labels, epoch, steps=steps,
            data_parallel=self.data_parallel, u_mirror_offset=self.u_mirror_offset,
            unroll=unroll, num_classes=self.num_classes)
        test_logits = functools.partial(
            fold_step.test_logits, self.model, state, spec.test_idx, views, self.cfg.batch_size,
            self.cfg.scan_unroll or (spec.test_idx.shape[0] if unrolled else 1),
            self.cfg.get("compute_dtype", "float32"))
        record = {"loss": loss, "test_logits": test_logits(), "diverged": state.diverged}
        if self.cfg.get("test_flip", False):  # the same rows mirrored (test-time flip)
            record[FLIPPED] = test_logits(mirror_offset=self.u_mirror_offset)
        record.update({PROBE + k: v for k, v in
                       fold_step.probe_values(self.probes, state.params).items()})
        return state, record

    # ----- programs over a chunk of folds -------------------------------------
    def _programs(self, folds: Folds, steps: int, chunk: int, rows: int, conv: str = ""):
        """(init, epoch, abstract state) compiled for ``chunk`` folds of ``folds``'s
        table widths and data blocks of ``rows`` rows, the models' 'auto' convolutions
        formulated as ``conv`` (default: the platform's rule).

        ``shard_map`` gives each device group its own block of folds and ``vmap``
        maps over that block, so the SPMD partitioner never splits a per-fold
        (grouped) convolution across devices: it mis-sizes such convolutions'
        feature groups (seen with XLA:CPU and 8 host devices).
        """
        conv = conv or layers.platform_conv_impl(self.platform)
        widths = (folds.train_idx.shape[1], folds.test_idx.shape[1])
        cache_key = (steps, chunk, rows, widths, conv)
        if cache_key not in self._compiled:
            with self.watch("compile"):
                started = time.perf_counter()
                self._compiled[cache_key] = self._compile(steps, chunk, rows, widths, conv)
                self.compile_seconds[cache_key] = time.perf_counter() - started
        return self._compiled[cache_key]

    def _compile(self, steps: int, chunk: int, rows: int, widths: tuple, conv: str):
        """Lower and compile the init and epoch programs: (init, epoch, abstract state),
        traced under the config's matmul precision and convolution formulation."""
        logging.info("compiling the training program: %d fold(s) per program, %d steps "
                     "an epoch, %d samples per device group, %s convolutions (first use; "
                     "can take minutes)", chunk, steps, rows, conv)
        with jax.default_matmul_precision(self.precision), layers.conv_formulation(conv):
            init, epoch, state = self._lower(steps, chunk, rows, widths)
            return init.compile(), epoch.compile(), state

    def lowered_epoch(self, folds: Folds, plan: Plan):
        """The plan's epoch program lowered (not compiled): its HLO and XLA's cost
        estimate before optimisation (``Lowered.cost_analysis``)."""
        widths = (folds.train_idx.shape[1], folds.test_idx.shape[1])
        with jax.default_matmul_precision(self.precision), layers.conv_formulation(plan.conv):
            return self._lower(plan.steps_per_epoch, plan.folds_per_chunk, plan.rows_per_device,
                               widths)[1]

    def compiled_epoch(self, folds: Folds, plan: Plan):
        """The plan's compiled epoch program (compiled once, then cached)."""
        return self._programs(folds, plan.steps_per_epoch, plan.folds_per_chunk,
                              plan.rows_per_device, plan.conv)[1]

    def _lower(self, steps: int, chunk: int, rows: int, widths: tuple):
        """(init, epoch) lowered for the mesh, and the abstract state."""
        optimizer = make_optimizer(self.cfg.optimizer, steps, self.slow_params)
        fold, rep = P(FOLD), P()

        def epoch_program(unrolled: bool):
            def local_epoch(state, spec, views, labels, epoch):
                views = {k: v[0] for k, v in views.items()}  # this group's block
                return jax.vmap(lambda st, sp: self._epoch(
                    st, sp, views, labels[0], epoch, optimizer, steps, unrolled))(state, spec)
            return jax.jit(jax.shard_map(local_epoch, mesh=self.mesh,
                                         in_specs=(fold, fold, fold, fold, rep),
                                         out_specs=fold, check_vma=False),
                           donate_argnums=0)

        init, keys, state = self._init_program(optimizer, chunk)
        init_lowered = init.lower(keys)
        args = (state, self._abstract_spec(chunk, *widths), self._abstract_views(rows),
                self._abstract((self.mesh.shape[FOLD], rows), jnp.int32),
                jax.ShapeDtypeStruct((), jnp.int32, sharding=self.replicated))
        lowered = epoch_program(unrolled=False).lower(*args)
        if not self.cfg.scan_unroll and loop_hostile(lowered, self.mesh):
            lowered = epoch_program(unrolled=True).lower(*args)
        return init_lowered, lowered, state

    def _init_program(self, optimizer, chunk: int):
        """(init, its abstract keys, the abstract state it makes) for ``chunk`` folds:
        the state's shapes and shardings come from tracing init alone."""
        init = jax.jit(jax.shard_map(
            jax.vmap(lambda k: fold_step.init_fold(self.init_model, self.example, optimizer, k,
                                                   ema=self.cfg.get("ema_decay", 0.0) > 0)),
            mesh=self.mesh, in_specs=P(FOLD), out_specs=P(FOLD), check_vma=False))
        keys = self._abstract((chunk, 2), jnp.uint32)
        state = jax.tree.map(lambda a: self._abstract(a.shape, a.dtype),
                             jax.eval_shape(init, keys))
        return init, keys, state

    def _abstract(self, shape, dtype):
        return jax.ShapeDtypeStruct(shape, dtype, sharding=self.fold_sharding)

    def _abstract_spec(self, chunk, train_width, test_width):
        return fold_step.FoldSpec(key=self._abstract((chunk, 2), jnp.uint32),
                                  train_idx=self._abstract((chunk, train_width), jnp.int32),
                                  num_train=self._abstract((chunk,), jnp.int32),
                                  test_idx=self._abstract((chunk, test_width), jnp.int32))

    def _abstract_views(self, rows):
        groups = self.mesh.shape[FOLD]
        return {k: self._abstract((groups, rows) + v.shape[1:], self.view_dtype)
                for k, v in self.data.views.items()}

    # ----- all folds --------------------------------------------------------
    def samples_needed(self, folds: Folds, plan: Plan) -> np.ndarray:
        """Sample ids the device groups of this process use in any chunk of ``plan``."""
        return self.data.samples_needed(folds, plan.chunks, plan.folds_per_chunk)

    def plan(self, folds: Folds, max_folds_per_chunk: int = 0, memory_budget: int = 0,
             layout: str = "rule", conv: str = "") -> Plan:
        """The folds per program and the convolution formulation.

        Folds per program: ``max_folds_per_chunk`` when set; else, with a memory budget
        (``memory.device_budget``), the most that fit by the compiled programs' own
        figures, the chosen program then compiled and checked against the budget (one
        fold less per device until it fits); else (CPU) one fold per device group.
        ``layout='measure'`` times one epoch of each candidate (folds per device up to
        that number x formulations, unless ``conv`` fixes it) on the devices at hand and
        takes the most folds per second (``measure_layouts``); 'rule' takes the above
        with ``conv`` or the platform's rule (``layers.platform_conv_impl``).
        """
        groups = self.mesh.shape[FOLD]
        steps = math.ceil(int(folds.num_train.max()) / self.cfg.batch_size)
        facts = {"fold_groups": groups, "data_parallel": self.data_parallel,
                 "num_devices": int(self.mesh.size), "steps_per_epoch": steps,
                 "precision": self.precision, "device_views": self.view_dtype.name}
        budget = memory.device_budget(memory_budget, self.mesh.devices.flat)
        most = math.ceil(folds.num_folds / groups)  # folds per group with a single chunk
        formulations = (conv,) if conv else layers.CONV_IMPLS[1:]  # what 'measure' tries
        conv = conv or layers.platform_conv_impl(self.platform)
        if max_folds_per_chunk:
            per_group = min(most, max(1, max_folds_per_chunk // groups))
            facts["chunking"] = f"max_folds_per_chunk={max_folds_per_chunk}"
        elif budget is None:
            per_group = 1
            facts["chunking"] = "one fold per device group (CPU, no memory budget)"
        else:
            per_group = self._folds_that_fit(folds, steps, budget, most, conv, facts)
        if layout == "measure":
            top = per_group if (max_folds_per_chunk or budget is not None) else most
            per_group, conv = self.measure_layouts(folds, steps, top, facts, formulations)
        elif layout != "rule":
            raise ValueError(f"layout must be 'rule' or 'measure', got {layout!r}")
        chunks = placement.chunks(folds.num_folds, groups, per_group)
        per_group = math.ceil(len(chunks[0]) / groups)
        rows = chunk_data.rows_needed(folds, groups, per_group)
        facts.update(folds_per_chunk=groups * per_group, num_chunks=len(chunks),
                     rows_per_device=rows, conv_formulation=conv)
        return Plan(chunks=chunks, steps_per_epoch=steps, folds_per_chunk=groups * per_group,
                    rows_per_device=rows, facts=facts, conv=conv)

    def _balanced(self, folds: Folds, per_group: int) -> tuple[int, int]:
        """(folds per group after balancing the chunks, rows per device) for at most
        ``per_group`` folds per device group."""
        groups = self.mesh.shape[FOLD]
        k = math.ceil(len(placement.chunks(folds.num_folds, groups, per_group)[0]) / groups)
        return k, chunk_data.rows_needed(folds, groups, k)

    def program_bytes(self, folds: Folds, steps: int, per_group: int, conv: str) -> int:
        """Peak bytes per device of the epoch program for ``per_group`` folds per group."""
        k, rows = self._balanced(folds, per_group)
        groups = self.mesh.shape[FOLD]
        return memory.program_bytes(self._programs(folds, steps, k * groups, rows, conv)[1])

    def _folds_that_fit(self, folds: Folds, steps: int, budget: int, most: int, conv: str,
                        facts: dict) -> int:
        """Folds per device group by memory: bytes(k) = fixed + k per_fold from the
        compiled k = 1, 2 programs, then the chosen k's own program checked against
        ``budget``, one fold less until it fits (MemoryError when one does not)."""
        one = self.program_bytes(folds, steps, 1, conv)
        if one > budget:
            raise MemoryError(self._too_big(one, budget))
        two = self.program_bytes(folds, steps, 2, conv) if most > 1 else 2 * one
        foot = memory.footprint(one, two)
        fit = foot.folds_that_fit(budget) if foot.per_fold > 0 else most
        facts.update(chunking="memory", budget_bytes=budget, fixed_bytes=foot.fixed,
                     per_fold_bytes=foot.per_fold)
        per_group = max(1, min(fit, most))
        while True:
            used = self.program_bytes(folds, steps, per_group, conv)
            if used <= budget:
                break
            if per_group == 1:
                raise MemoryError(self._too_big(used, budget))
            facts.setdefault("backed_off_from", per_group)
            per_group = self._balanced(folds, per_group - 1)[0]
        facts["checked_program_bytes"] = used
        return per_group

    @staticmethod
    def _too_big(used: int, budget: int) -> str:
        return (f"one fold needs {used / 2**30:.3f} GiB per device, the budget is "
                f"{budget / 2**30:.3f} GiB: use more chips, more devices per fold "
                f"(--config.mesh.data), a smaller train.batch_size, "
                f"train.compute_dtype=bfloat16, train.device_views=bfloat16 or a smaller model")

    def measure_layouts(self, folds: Folds, steps: int, top: int, facts: dict,
                        formulations=("xla", "matmul")) -> tuple[int, str]:
        """(folds per device group, formulation) with the most folds trained per second:
        one epoch of each candidate timed after a first (compiling, warming) one, on
        the first chunk's data. Candidates: 1 and ``top`` folds per group (folds in
        turn, or as many together as fit), times ``formulations``: each compile costs
        seconds to minutes, so the grid stays small. The timings go to
        ``facts['layout']``."""
        if not placement.runs_here(self.mesh):
            raise ValueError("layout='measure' times programs: it needs the mesh's devices "
                             "here (planning for another target uses the rule)")
        ks = sorted({1, top})  # in turn, or as many together as fit (compiled anyway)
        groups = self.mesh.shape[FOLD]
        keys = instance_keys(0, folds.num_folds)
        results = []
        for k in ks:
            k, rows = self._balanced(folds, k)
            ids = placement.padded(placement.chunks(folds.num_folds, groups, k)[0], k * groups)
            for impl in formulations:
                init, run_epoch, _ = self._programs(folds, steps, k * groups, rows, impl)
                spec, views, labels = self.data.inputs(folds, ids, keys, rows)
                state = init(spec.key)
                epoch = jax.device_put(np.int32(0), self.replicated)
                state, record = run_epoch(state, spec, views, labels, epoch)  # warm
                jax.block_until_ready(record)
                started = time.perf_counter()
                state, record = run_epoch(state, spec, views, labels, epoch)
                jax.block_until_ready(record)
                seconds = time.perf_counter() - started
                results.append({"folds_per_device_group": k, "conv": impl,
                                "epoch_seconds": round(seconds, 4),
                                "folds_per_second": round(k * groups / seconds, 3),
                                "compile_seconds": round(self.compile_seconds.get(
                                    (steps, k * groups, rows, (folds.train_idx.shape[1],
                                                               folds.test_idx.shape[1]),
                                     impl), 0.0), 2)})
                del state, spec, views, labels, record
        best = max(results, key=lambda r: r["folds_per_second"])
        facts["layout"] = {"rule": "measured: one epoch per candidate, most folds per second",
                           "candidates": results, "chosen": best}
        logging.info("layouts measured: %s; chosen %s", results, best)
        return best["folds_per_device_group"], best["conv"]

    def fit(self, folds: Folds, epochs: int, seed, max_folds_per_chunk: int = 0,
            memory_budget: int = 0, checkpoints=None, on_epoch: Callable | None = None,
            plan: Plan | None = None, keys: np.ndarray | None = None) -> History:
        """Train every fold for ``epochs`` epochs; resume from ``checkpoints`` when
        it holds a step of this sweep.

        ``seed``: an int, or S seeds for ``folds`` = a protocol's F folds tiled S times
        (``protocols.tile``); instance s * F + f then trains fold f with seed s's
        randomness, exactly as a one-seed sweep with that seed would
        (``instance_keys``). ``History.per_seed`` splits the records. ``keys``: the
        instances' (I, 2) PRNG keys when they are laid out otherwise (``nested_keys``).

        ``on_epoch(chunk, num_chunks, epoch, epochs, record)`` is called after every
        epoch of every chunk; ``record``: the chunk's ``instances`` (their indices) and
        each one's epoch record but the test logits (``loss``, the mean training loss;
        ``diverged``; probes as ``probe_<name>``).
        """
        plan = plan or self.plan(folds, max_folds_per_chunk, memory_budget)
        facts = dict(plan.facts)
        size, steps, rows = plan.folds_per_chunk, plan.steps_per_epoch, plan.rows_per_device
        fold_keys = instance_keys(seed, folds.num_folds) if keys is None else np.asarray(keys)
        records = self._empty_records(folds, epochs)
        final = (None if self.final_dir is None else
                 final_variables.MemberFiles(self.final_dir, folds.num_folds))
        start = (0, 0)  # (chunk, epochs of it done)
        if checkpoints is not None:
            if checkpoints.holds_steps():  # a new sweep has nothing to trace or restore
                optimizer = make_optimizer(self.cfg.optimizer, steps, self.slow_params)
                with layers.conv_formulation(plan.conv):  # traced, not compiled
                    abstract_state = self._init_program(optimizer, size)[2]
                abstract = {"state": abstract_state,
                            "keys": self._abstract((size, 2), jnp.uint32)}
                restored = checkpoints.restore_latest(abstract, records)
                if restored is not None:
                    progress, saved, records = restored
                    start = (progress["chunk"], progress["epochs_done"])
                    facts["resumed_from_step"] = start[0] * epochs + start[1]
            facts["checkpoints_skipped"] = checkpoints.skipped
        if start != (plan.num_chunks - 1, epochs):  # a finished sweep compiles nothing
            init, run_epoch, _ = self._programs(folds, steps, size, rows, plan.conv)
            facts["epoch_program_bytes_per_device"] = memory.program_bytes(run_epoch)

        epoch_arg = lambda e: jax.device_put(np.int32(e), self.replicated)
        for c, ids in enumerate(plan.chunks):
            if c < start[0] or (c == start[0] and start[1] == epochs):
                continue  # finished before the interruption
            padded = placement.padded(ids, size)
            first = start[1] if c == start[0] else 0
            with self.watch("init and transfer"):
                spec, views, labels = self.data.inputs(folds, padded, fold_keys, rows)
                if first:
                    if not np.array_equal(_to_host(saved["keys"]), fold_keys[padded]):
                        raise RuntimeError("the checkpoint's PRNG keys are not this sweep's")
                    state = saved["state"]
                else:
                    state = jax.block_until_ready(init(spec.key))
            for e in range(first, epochs):
                with self.watch("epochs (training and test logits)"):
                    state, record = run_epoch(state, spec, views, labels, epoch_arg(e))
                    record = _to_host(record)
                for name, value in record.items():
                    records[name][ids, e] = value[: len(ids)]
                if final is not None and e + 1 == epochs:  # before this step's checkpoint
                    with self.watch("final variables"):
                        _write_final(final, ids, _tested_variables(state), self.replicated)
                if on_epoch is not None:
                    on_epoch(c, plan.num_chunks, e, epochs, dict(
                        {k: v[: len(ids)] for k, v in record.items()
                         if k not in ("test_logits", FLIPPED)},
                        instances=np.asarray(ids)))
                last_step = c == plan.num_chunks - 1 and e + 1 == epochs
                if checkpoints is not None and checkpoints.due(e + 1, epochs, last_step):
                    with self.watch("checkpoints"):
                        checkpoints.save(c * epochs + e + 1, {"chunk": c, "epochs_done": e + 1},
                                         {"state": state, "keys": spec.key}, records)
            # free this chunk's device buffers before the next chunk's are made: the
            # memory plan counts one chunk's state and data per device
            del state, spec, views, labels
            saved = None
        if checkpoints is not None:
            with self.watch("checkpoints"):
                checkpoints.close()
        facts["seconds"] = self.watch.rounded()  # this trainer's, all its fits so far
        history = History.from_records(records, dict(facts, seeds=list(seeds_of(seed))))
        if final is not None and distributed.is_main_process() and final.missing():
            raise RuntimeError(f"{final.directory} lacks the final variables of fold "
                               f"instances {final.missing()[:5]}: written by another sweep?")
        history.final = final
        return history

    def _empty_records(self, folds: Folds, epochs: int) -> dict:
        """Zero (F, E, ...) arrays for every record: loss, test logits, divergence and
        each probe (probes under ``probe_<name>``)."""
        f, s = folds.num_folds, folds.test_idx.shape[1]
        records = {"loss": np.zeros((f, epochs), np.float32),
                   "test_logits": np.zeros((f, epochs, s, self.num_classes), np.float32),
                   "diverged": np.zeros((f, epochs), bool)}
        if self.cfg.get("test_flip", False):
            records[FLIPPED] = np.zeros_like(records["test_logits"])
        for name, fn in self.probes.items():
            shape = jax.eval_shape(fn, self._variables["params"])
            records[PROBE + name] = np.zeros((f, epochs) + shape.shape, shape.dtype)
        return records


def _write_final(files: final_variables.MemberFiles, ids: list, variables, replicated) -> None:
    """Write the chunk's fold instances ``ids`` (the first len(ids) of its fold-stacked
    ``variables``), one instance at a time: sliced on the devices and replicated (so
    every host can read it, on several hosts too), then fetched to the host."""
    take = jax.jit(lambda tree, j: jax.tree.map(lambda a: a[j], tree), out_shardings=replicated)
    for j, instance in enumerate(ids):
        member = jax.device_get(take(variables, np.int32(j)))
        if distributed.is_main_process():
            files.write(instance, member)


def _tested_variables(state) -> dict:
    """{"params", "batch_stats" (when the model has any)} a fold is tested with, from a
    FoldState (its moving average when it keeps one) or from a model's variables."""
    if isinstance(state, fold_step.FoldState):
        params, stats = fold_step.eval_variables(state)
    else:
        params, stats = state["params"], state.get("batch_stats", {})
    return {"params": params, **({"batch_stats": stats} if stats else {})}


def seeds_of(seed) -> tuple:
    """``fit``'s seed argument as a tuple of seeds."""
    return (int(seed),) if np.ndim(seed) == 0 else tuple(int(s) for s in seed)


def instance_keys(seed, num_instances: int) -> np.ndarray:
    """(I, 2) PRNG keys: instance i = s * F + f of S seeds over F = I / S folds gets
    fold_in(PRNGKey(seed_s), f), so a fold's randomness depends only on its seed
    and its index in the protocol."""
    seeds = seeds_of(seed)
    if num_instances % len(seeds):
        raise ValueError(f"{num_instances} fold instances do not split over {len(seeds)} seeds")
    per_seed = num_instances // len(seeds)
    return np.stack([np.asarray(jax.random.fold_in(jax.random.PRNGKey(s), f))
                     for s in seeds for f in range(per_seed)])


def nested_keys(seeds, outer: int, inner: int) -> np.ndarray:
    """(S (F + J), 2) keys of a nested sweep's instances: first the S x F outer ones, as
    a plain sweep's (``instance_keys``), then seed s's inner fold j at S F + s J + j
    with fold_in(PRNGKey(seed_s), F + j): the outer models are the plain sweep's own."""
    seeds = seeds_of(seeds)
    inner_keys = [np.asarray(jax.random.fold_in(jax.random.PRNGKey(s), outer + j))
                  for s in seeds for j in range(inner)]
    return np.concatenate([instance_keys(seeds, len(seeds) * outer), np.stack(inner_keys)])


def _to_host(tree):
    """Fold-sharded results as numpy on every process (gathered across hosts)."""
    if jax.process_count() == 1:
        return jax.device_get(tree)
    from jax.experimental import multihost_utils
    return multihost_utils.process_allgather(tree, tiled=True)
