"""Stage 3: the sweep of a config trained, resumable: folds, seeds, mesh and plan
(``train.sweep``), then every fold instance trained from the newest checkpoint of
this sweep, if any. The layout a run chose (``layout.json``) is kept, so a resumed
run trains exactly the sweep it started."""

from __future__ import annotations

import dataclasses
import json
import pathlib

import jax
import numpy as np
from absl import logging

from faceslueth_jax import atomic_files
from faceslueth_jax.data import sources
from faceslueth_jax.pipeline import watch as epoch_watch
from faceslueth_jax.stopwatch import Stopwatch
from faceslueth_jax.train import checkpoints as checkpoints_lib
from faceslueth_jax.train import protocols
from faceslueth_jax.train import sweep as sweep_lib

LAYOUT_FILE = "layout.json"  # the folds per program and convolutions a run chose
FINAL_DIR = "final_variables"  # every fold model's variables, one file each (model folder)

# Config fields that do not change a sweep's numbers: a checkpoint stays valid across
# them. protocol.selection only picks the reported rule (both are always computed);
# where the data is stored is not fingerprinted: its content is (data.identity).
NOT_FINGERPRINTED = ("name", "checkpoint", "distributed", "coordinator_address",
                     "num_processes", "process_id", "protocol.selection", "data.data_dir",
                     "data.manual_dir", "data.manual_dirs", "data.build.overwrite",
                     "data.max_side", "train.max_diverged_share")


@dataclasses.dataclass
class Fitted:
    """A trained sweep: its folds and seeds, the data as trained on, every instance's
    records (``fold_trainer.History``) and the seconds trained over every run."""
    sweep: sweep_lib.Sweep
    data: object
    history: object
    train_seconds: float


def fit(config, workdir: pathlib.Path, run_data, watch: Stopwatch, main: bool) -> Fitted:
    layout_file = workdir / LAYOUT_FILE
    chosen = json.loads(layout_file.read_text()) if layout_file.is_file() else None
    data = run_data.data
    sweep = sweep_lib.build(config, data, chosen=chosen, final_dir=workdir / FINAL_DIR)
    if main and chosen is None:
        atomic_files.write_json(layout_file, sweep_lib.chosen_layout(sweep.plan))
    _log_data(config, data, sweep.folds)
    if jax.process_count() > 1:  # now that this host's folds are known: their views
        with watch("data"):
            data = run_data.views_for(config, sweep.trainer.samples_needed(sweep.instances,
                                                                          sweep.plan))
            sweep.trainer.set_views(data.views, data.view_row)
    logging.info("placement: %s", sweep.plan.facts)
    checkpoints = checkpoints_lib.SweepCheckpoints(
        workdir / "checkpoints", config.checkpoint.every_epochs, config.checkpoint.keep,
        fingerprint(config, sweep.plan, sweep.instances, run_data.identity),
        config.checkpoint.get("min_seconds", 0.0))
    folds, seeds = sweep.folds, sweep.seeds
    label = f"{config.name} ({folds.num_folds} folds" + (
        f" x {len(seeds)} seeds)" if len(seeds) > 1 else ")")
    try:
        with epoch_watch.watchers(config, workdir, sweep, main, label) as on_epoch:
            history = sweep.trainer.fit(sweep.instances, config.train.epochs, seeds,
                                        checkpoints=checkpoints, on_epoch=on_epoch,
                                        plan=sweep.plan, keys=sweep.keys)
    except KeyboardInterrupt:
        raise checkpoints.interrupted() from None
    # every run of this sweep (resumed ones: the earlier ones' time to their last checkpoint)
    return Fitted(sweep, data, sweep.split(history), checkpoints.train_seconds())


def _log_data(config, data, folds) -> None:
    counts = np.bincount(data.label, minlength=len(data.class_names))
    logging.info("%s: %d samples, %d subjects, %d folds (%s), classes %s",
                 "+".join(sources.database_names(config.data)),
                 len(data), len(set(protocols.subject_keys(data.dataset, data.subject))),
                 folds.num_folds, config.protocol.name,
                 {n: int(k) for n, k in zip(data.class_names, counts)})


def drop_not_fingerprinted(numbers: dict) -> dict:
    """``numbers`` (a config as a dict) less the NOT_FINGERPRINTED fields, in place."""
    for field in NOT_FINGERPRINTED:
        *parents, leaf = field.split(".")
        node = numbers
        for key in parents:
            node = node.get(key, {})
        node.pop(leaf, None)
    return numbers


def decisive_config(config) -> dict:
    """The config fields that decide a sweep's numbers (all but NOT_FINGERPRINTED)."""
    return drop_not_fingerprinted(config.to_dict())


def fingerprint(config, plan, folds, data_identity: dict) -> str:
    """What decides the sweep's numbers: the config less NOT_FINGERPRINTED, the
    data's identity (its content, not its folder), the placement, the fold tables."""
    decided_by = {k: plan.facts[k] for k in ("fold_groups", "data_parallel", "folds_per_chunk",
                                              "num_chunks", "steps_per_epoch",
                                              "conv_formulation")}
    return checkpoints_lib.fingerprint(decisive_config(config), data_identity, decided_by,
                                       folds.names, folds.train_idx, folds.test_idx)
