"""One experiment from a config, top to bottom: data, folds, placement, model,
training (resumable), then the evaluation that writes the run's files.

The model comes from ``models.registry`` by ``model.name``; this module has no
per-model branch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging as std_logging
import pathlib
import time

import jax
import numpy as np
from absl import logging

from faceslueth_jax import atomic_files, distributed
from faceslueth_jax.data import augment, identity, records, sources
from faceslueth_jax.evaluation import run_results, selection
from faceslueth_jax.inference import model_folder, pictures
from faceslueth_jax.models import logistic_regression, registry
from faceslueth_jax.stopwatch import Stopwatch
from faceslueth_jax.train import checkpoints as checkpoints_lib
from faceslueth_jax.train import fold_step, protocols
from faceslueth_jax.train import sweep as sweep_lib
from faceslueth_jax.train.progress import Progress
from tfds_builders import registry as builders
from tfds_builders.me_database import MEConfig

PRECISIONS = ("highest", "default")
DTYPES = ("float32", "bfloat16")
LAYOUT_FILE = "layout.json"
FINAL_DIR = "final_variables"  # every fold model's variables, one file each (model folder)  # the folds per program and convolutions a run chose
BASELINE_FLOW_SIZE = 28  # the logistic regression always sees 28x28 flow

# Config fields that do not change a sweep's numbers: a checkpoint stays valid across
# them. protocol.selection only picks the reported rule (both are always computed).
# where the data is stored is not fingerprinted: its content is (data.identity)
NOT_FINGERPRINTED = ("name", "checkpoint", "distributed", "coordinator_address",
                     "num_processes", "process_id", "protocol.selection", "data.data_dir",
                     "data.manual_dir", "data.manual_dirs", "data.build.overwrite")


class ConfigError(ValueError):
    """A config field has a value that cannot work; the message names the field."""


@contextlib.contextmanager
def logging_to(path: pathlib.Path):
    """Also send absl/Python log records to ``path`` while the block runs."""
    handler = std_logging.FileHandler(path)
    handler.setFormatter(std_logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    std_logging.getLogger().addHandler(handler)
    try:
        yield
    finally:
        std_logging.getLogger().removeHandler(handler)
        handler.close()


# numeric fields and the least value each may take (an int field must hold an int)
AT_LEAST = {"train.epochs": 1, "train.batch_size": 1, "checkpoint.every_epochs": 1,
            "checkpoint.keep": 1, "checkpoint.min_seconds": 0.0, "data.flow_size": 1,
            "data.face_size": 1, "max_folds_per_chunk": 0, "device_memory_bytes": 0,
            "train.scan_unroll": 0, "train.max_shift_fraction": 0.0,
            "train.optimizer.weight_decay": 0.0, "train.optimizer.eps": 0.0,
            "mesh.fold": 0, "mesh.data": 0, "mesh.num_devices": 0}
POSITIVE = ("train.optimizer.lr",)


def _field(config, dotted: str):
    node = config
    for key in dotted.split("."):
        if key not in node:
            return None
        node = node[key]
    return node


def check_numbers(config) -> None:
    """ValueError naming the field for a numeric field out of its range (AT_LEAST,
    POSITIVE) and for record options the builders cannot make (``MEConfig.named``)."""
    for field, least in AT_LEAST.items():
        value = _field(config, field)
        if value is None:
            continue
        kind = int if isinstance(least, int) else (int, float)
        if isinstance(value, bool) or not isinstance(value, kind) or value < least:
            what = "an integer" if kind is int else "a number"
            raise ValueError(f"{field} must be {what} >= {least}, got {value!r}")
    for field in POSITIVE:
        value = _field(config, field)
        if value is not None and not (isinstance(value, (int, float)) and value > 0):
            raise ValueError(f"{field} must be a number > 0, got {value!r}")
    if any(n in builders.DATABASE_BUILDERS for n in sources.database_names(config.data)):
        fields = {f.name for f in dataclasses.fields(MEConfig)}
        build = {k: v for k, v in dict(config.data.get("build") or {}).items() if k in fields}
        try:
            MEConfig.named(**build)
        except (TypeError, ValueError) as e:
            raise ValueError(f"data.build: {e}") from None


def check_config(config) -> None:
    """Reject misspelt choices and options that cannot work together before any data
    is built or any epoch is trained (ConfigError naming the field)."""
    choices = {"protocol.name": (config.protocol.name, protocols.PROTOCOLS),
               "protocol.selection": (config.protocol.selection, selection.RULES),
               "data.flow_norm": (config.data.flow_norm, records.FLOW_NORMS),
               "data.face_norm": (config.data.get("face_norm", "standardise"), records.FACE_NORMS),
               "train.augment_recipe": (config.train.get("augment_recipe", "shift"),
                                        augment.RECIPES),
               "train.last_batch": (config.train.get("last_batch", "fill"),
                                    fold_step.LAST_BATCH),
               "baseline.tuning": (config.baseline.get("tuning", "inner_cv"),
                                   BASELINE_TUNINGS),
               "train.precision": (config.train.get("precision", "highest"), PRECISIONS),
               "train.compute_dtype": (config.train.get("compute_dtype", "float32"), DTYPES),
               "train.device_views": (config.train.get("device_views", "float32"), DTYPES),
               "layout": (config.get("layout", "auto"), sweep_lib.LAYOUTS),
               "conv_formulation": (config.get("conv_formulation", ""), ("", "xla", "matmul"))}
    try:
        check_numbers(config)
        for field, (value, allowed) in choices.items():
            if value not in allowed:
                raise ValueError(f"{field} must be one of {allowed}, got {value!r}")
        if config.protocol.get("seeds", 1) < 1:
            raise ValueError(f"protocol.seeds must be >= 1, got {config.protocol.seeds}")
        for field in ("label_smoothing", "ema_decay"):
            if not 0.0 <= config.train.get(field, 0.0) < 1.0:
                raise ValueError(f"train.{field} must be in [0, 1), got {config.train[field]}")
        if config.get("report", {}).get("attention_samples", 0) and not config.get(
                "model_folder", True):
            raise ValueError("report.attention_samples needs model_folder=True (the pictures "
                             "are drawn with the fold models)")
        if config.protocol.name == "cross" and not (config.protocol.get("train")
                                                    and config.protocol.get("test")):
            raise ValueError("protocol.name='cross' needs protocol.train and protocol.test "
                             "(database names, e.g. ('casme2',) and ('samm',))")
        if config.train.get("mixup_alpha", 0.0) < 0:
            raise ValueError(f"train.mixup_alpha must be >= 0, got {config.train.mixup_alpha}")
        if config.train.get("rotation_deg", 0.0) < 0 or config.train.get("crop_padding", 0) < 0:
            raise ValueError("train.rotation_deg and train.crop_padding must be >= 0")
        build = config.data.get("build") or {}
        if (config.data.get("face_norm") == "imagenet" and not build.get("face_color", False)
                and any(n in builders.DATABASE_BUILDERS
                        for n in sources.database_names(config.data))):
            raise ValueError("data.face_norm='imagenet' needs RGB faces: set "
                             "data.build.face_color=True")
        registry.check_config(config)
    except ConfigError:
        raise
    except ValueError as e:
        raise ConfigError(str(e)) from None


def train_and_evaluate(config, workdir: str) -> dict:
    """Runs the config's protocol; returns metrics.json's content (on every process;
    only process 0 writes files)."""
    check_config(config)
    workdir = pathlib.Path(workdir)
    started = time.time()
    watch = Stopwatch()
    # data that is missing, unreadable or not the same on every host fails here,
    # before anything is written. One process reads everything; with several, each
    # first reads the labels and names, then the views its devices' folds use.
    several = jax.process_count() > 1
    with watch("data"):
        data_sets = sources.prepare_all(config.data)
        data = prepared_data(config, records.read_builders(data_sets,
                                                           keep=[] if several else None))
    data_identity = identity.of_data(data_sets, data)
    distributed.check_same_data(identity.digest(data_identity["sources"]),
                                data_identity["samples"], len(data))
    main = distributed.is_main_process()
    if main:
        workdir.mkdir(parents=True, exist_ok=True)
    with logging_to(workdir / "log") if main else contextlib.nullcontext():
        return _run(config, workdir, data_sets, data, data_identity, started, main, watch)


prepared_data = registry.prepared_data  # records -> the model's inputs (also bench/)


def _run(config, workdir: pathlib.Path, data_sets: list, data, data_identity: dict,
         started: float, main: bool, watch: Stopwatch) -> dict:
    if main:
        atomic_files.write_text(workdir / "config.json",
                                config.to_json_best_effort(indent=2) + "\n")
    several = jax.process_count() > 1
    layout_file = workdir / LAYOUT_FILE  # a resumed run keeps the layout it started with
    chosen = json.loads(layout_file.read_text()) if layout_file.is_file() else None
    sweep = sweep_lib.build(config, data, chosen=chosen, final_dir=workdir / FINAL_DIR)
    if main and chosen is None:
        atomic_files.write_json(layout_file, sweep_lib.chosen_layout(sweep.plan))
    folds, seeds, instances, trainer, plan = (sweep.folds, sweep.seeds, sweep.instances,
                                              sweep.trainer, sweep.plan)
    _log_data(config, data, folds)
    if several:
        with watch("data"):
            data = prepared_data(config, records.read_builders(
                data_sets, keep=trainer.samples_needed(instances, plan)))
            trainer.set_views(data.views, data.view_row)
    logging.info("placement: %s", plan.facts)
    checkpoints = checkpoints_lib.SweepCheckpoints(
        workdir / "checkpoints", config.checkpoint.every_epochs, config.checkpoint.keep,
        _fingerprint(config, plan, instances, data_identity), config.checkpoint.get("min_seconds", 0.0))
    label = f"{config.name} ({folds.num_folds} folds" + (
        f" x {len(seeds)} seeds)" if len(seeds) > 1 else ")")
    progress = Progress(label, plan.folds_per_chunk) if main else None
    try:
        history = trainer.fit(instances, config.train.epochs, seeds, checkpoints=checkpoints,
                              on_epoch=progress, plan=plan)
    except KeyboardInterrupt:
        raise checkpoints.interrupted() from None
    # every run of this sweep (resumed ones: the earlier ones' time to their last checkpoint)
    train_seconds = checkpoints.train_seconds()
    if not main:
        return {}
    if history.final is not None:
        with watch("model folder"):
            folder = model_folder.write(workdir / "model", config, data, folds, history, seeds)
        logging.info("model folder: %s (python -m faceslueth_jax.predict --model=%s --clip=...)",
                     folder, folder)
    if config.protocol.name == "all":  # nothing to test: the loss curve and the model
        return run_results.write_trained(workdir, config, data, history,
                                         model_title=registry.title(config.model),
                                         train_seconds=train_seconds, started=started,
                                         time_split=dict(watch.rounded(),
                                                         **history.execution.pop("seconds", {})))
    with watch("baseline"):
        baseline, baseline_facts = baseline_logits(config, data, folds)
    tested = protocols.tested_samples(folds)
    if len(tested) < len(data):  # cross: the training databases' samples are not scored
        baseline = None if baseline is None else baseline[tested]
        data, folds = records.subset(data, tested), protocols.test_part(folds, tested)
    # the trainer's parts (compile, init and transfer, epochs, checkpoints) include the
    # compilation that planning did; "scoring and writing" is measured by run_results
    time_split = dict(watch.rounded(), **history.execution.pop("seconds", {}))
    summary = run_results.write(workdir, config, data, folds, history, baseline=baseline,
                                baseline_facts=baseline_facts,
                                model_title=registry.title(config.model),
                                au_dim=registry.au_dim(config.model),
                                train_seconds=train_seconds, started=started,
                                time_split=time_split)
    per_class = config.get("report", {}).get("attention_samples", 0)
    if per_class and history.final is not None:
        count = pictures.write_run_pictures(workdir / "attention",
                                            model_folder.restore(workdir / "model"), data,
                                            folds, per_class)
        logging.info("attention pictures of %d test samples in %s", count, workdir / "attention")
    return summary


def _log_data(config, data, folds) -> None:
    counts = np.bincount(data.label, minlength=len(data.class_names))
    logging.info("%s: %d samples, %d subjects, %d folds (%s), classes %s",
                 "+".join(sources.database_names(config.data)),
                 len(data), len(set(protocols.subject_keys(data.dataset, data.subject))),
                 folds.num_folds, config.protocol.name,
                 {n: int(k) for n, k in zip(data.class_names, counts)})


def _fingerprint(config, plan, folds, data_identity: dict) -> str:
    """What decides the sweep's numbers: the config less NOT_FINGERPRINTED, the
    data's identity (its content, not its folder), the placement, the fold tables."""
    numbers = config.to_dict()
    for field in NOT_FINGERPRINTED:
        *parents, leaf = field.split(".")
        node = numbers
        for key in parents:
            node = node.get(key, {})
        node.pop(leaf, None)
    decided_by = {k: plan.facts[k] for k in ("fold_groups", "data_parallel", "folds_per_chunk",
                                              "num_chunks", "steps_per_epoch",
                                              "conv_formulation")}
    return checkpoints_lib.fingerprint(numbers, data_identity, decided_by, folds.names, folds.train_idx,
                                       folds.test_idx)


BASELINE_TUNINGS = ("inner_cv", "fixed")


def baseline_logits(config, data, folds):
    """(the logistic regression's (N, K) logits on 28x28 flow under the same folds, its
    facts), or (None, None). ``baseline.tuning``: 'inner_cv' (default; class-balanced,
    l2 chosen per fold by an inner CV over the training subjects) or 'fixed' (l2 1e-2)."""
    if not config.baseline.logistic_regression:
        return None, None
    if not data.complete:
        logging.warning("logistic regression baseline skipped: process 0 holds the views of "
                        "only %d of %d samples", int((data.rows >= 0).sum()), len(data))
        return None, None
    flow = records.resize(data.views["flow"][data.rows], BASELINE_FLOW_SIZE)
    k = len(data.class_names)
    fixed = {"tuning": "fixed", "l2": 1e-2, "class_weights": "none"}
    if config.baseline.get("tuning", "inner_cv") == "fixed":
        return logistic_regression.fold_logits(flow, data.label, folds, k), fixed
    subjects = protocols.subject_keys(data.dataset, data.subject)
    # as many inner folds as the fold with the fewest training subjects allows, up to 5
    fewest = min(len(set(subjects[folds.train_samples(f)].tolist()))
                 for f in range(folds.num_folds))
    inner = min(logistic_regression.INNER_FOLDS, fewest)
    if inner < 2:
        logging.warning("logistic regression baseline: a fold has %d training subject(s), too "
                        "few for an inner cross-validation; fitting the fixed l2 instead", fewest)
        return (logistic_regression.fold_logits(flow, data.label, folds, k),
                dict(fixed, why=f"a fold has {fewest} training subject(s): no inner CV"))
    logits, chosen = logistic_regression.tuned_fold_logits(flow, data.label, folds, subjects, k,
                                                           inner_folds=inner)
    return logits, {"tuning": "inner_cv", "class_weights": "balanced",
                    "l2_grid": list(logistic_regression.L2_GRID), "inner_folds": inner,
                    "chosen_l2_per_fold": chosen}
