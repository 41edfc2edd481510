"""One experiment from a config, top to bottom: data, folds, placement, model,
training (resumable), evaluation under both selection rules, baseline, and the
run's files."""

from __future__ import annotations

import contextlib
import logging as std_logging
import os
import pathlib
import shlex
import sys
import time

import jax
import numpy as np
from absl import logging

from faceslueth_jax import atomic_files, distributed
from faceslueth_jax.data import augment, records, sources
from faceslueth_jax.evaluation import metrics, run_files, selection
from faceslueth_jax.models import logistic_regression
from faceslueth_jax.models.faceslueth_r import MOTION_INPUTS, FaceSleuthR
from faceslueth_jax.models.soa import SOA_MODES
from faceslueth_jax.train import checkpoints as checkpoints_lib
from faceslueth_jax.train import fold_trainer, placement, protocols
from faceslueth_jax.train.progress import Progress
from tfds_builders import registry


# model.name -> the name printed in results; HTNet and FDP are the baselines.
MODEL_NAMES = {"faceslueth_r": "FaceSleuth-R", "htnet": "HTNet", "fdp": "FDP"}


def model_name(model_cfg) -> str:
    return model_cfg.get("name", "faceslueth_r")


def build_model(model_cfg, num_classes: int):
    """The Flax module of ``model.name``; every one maps a dict of batched views to logits."""
    name = model_name(model_cfg)
    if name == "htnet":
        from faceslueth_jax.models import htnet
        return htnet.from_config(model_cfg, num_classes)
    if name == "fdp":
        from faceslueth_jax.models import fdp
        return fdp.from_config(model_cfg, num_classes)
    return FaceSleuthR(
        num_classes=num_classes,
        motion=dict(model_cfg.motion),
        appearance=dict(model_cfg.appearance),
        head_widths=tuple(model_cfg.head_widths),
        motion_input=model_cfg.motion_input,
        au_dim=model_cfg.get("au_dim", 0))


BASELINE_FLOW_SIZE = 28  # the logistic regression always sees 28x28 flow


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


def check_config(config) -> None:
    """Reject misspelt choices and options that cannot work together before any data
    is built or any epoch is trained."""
    choices = {"model.name": (model_name(config.model), tuple(MODEL_NAMES)),
               "protocol.name": (config.protocol.name, protocols.PROTOCOLS),
               "protocol.selection": (config.protocol.selection, selection.RULES),
               "data.flow_norm": (config.data.flow_norm, records.FLOW_NORMS),
               "data.face_norm": (config.data.get("face_norm", "standardise"), records.FACE_NORMS),
               "model.motion_input": (config.model.motion_input, MOTION_INPUTS),
               "model.motion.soa_mode": (config.model.motion.soa_mode, SOA_MODES),
               "train.augment_recipe": (config.train.get("augment_recipe", "shift"),
                                        augment.RECIPES)}
    for field, (value, allowed) in choices.items():
        if value not in allowed:
            raise ValueError(f"{field} must be one of {allowed}, got {value!r}")
    build = config.data.get("build") or {}
    frame_difference = config.model.motion_input == "frame_difference"
    if build.get("jitter_frames", 0) and not frame_difference:
        raise ValueError("data.build.jitter_frames > 0 jitters the onset and apex faces, but the "
                         "flow is computed once from the sheet's onset and apex: it needs "
                         "model.motion_input='frame_difference'")
    if config.train.get("augment_recipe", "shift") == "reference" and not frame_difference:
        raise ValueError("train.augment_recipe='reference' rotates and crops faces only (the "
                         "reference has no flow input): it needs "
                         "model.motion_input='frame_difference'")
    if config.train.get("rotation_deg", 0.0) < 0 or config.train.get("crop_padding", 0) < 0:
        raise ValueError("train.rotation_deg and train.crop_padding must be >= 0")
    if (config.data.get("face_norm") == "imagenet" and config.data.name in registry.DATABASE_BUILDERS
            and not build.get("face_color", False)):
        raise ValueError("data.face_norm='imagenet' needs RGB faces: set data.build.face_color=True")
    au_dim = config.model.get("au_dim", 0)
    if au_dim:
        from tfds_builders.action_units import AU_DIM
        name = config.data.name
        if (name not in registry.DATABASE_BUILDERS
                or not registry.database_builder(name).HAS_ACTION_UNITS):
            raise ValueError(f"model.au_dim={au_dim} feeds the coding sheet's FACS action units, "
                             f"but data.name={name!r} has no AU codes (the casme2, samm and "
                             f"casme3 sheets have them; SMIC has no sheet): set model.au_dim=0")
        if au_dim != AU_DIM:
            raise ValueError(f"model.au_dim must be 0 or {AU_DIM} (the records' multi-hot AU "
                             f"vector), got {au_dim}")


# Config fields that do not change a sweep's numbers: a checkpoint stays valid across them.
NOT_FINGERPRINTED = ("name", "checkpoint", "distributed", "coordinator_address",
                     "num_processes", "process_id")


def train_and_evaluate(config, workdir: str) -> dict:
    """Runs the config's protocol; returns metrics.json's content (on every process;
    only process 0 writes files)."""
    check_config(config)
    workdir = pathlib.Path(workdir)
    started = time.time()
    builder = sources.prepare(config.data)  # fails here, before any output, when data is missing
    main = distributed.is_main_process()
    if main:
        workdir.mkdir(parents=True, exist_ok=True)
    with logging_to(workdir / "log") if main else contextlib.nullcontext():
        return _run(config, workdir, builder, started, main)


def _prepared(config, data):
    data = records.prepare(data, config.data.flow_size, config.data.face_size,
                           config.data.flow_norm, config.data.use_onset,
                           config.data.get("face_norm", "standardise"))
    if model_name(config.model) == "htnet":  # its input: four landmark patches of the flow
        from faceslueth_jax.data import htnet_patches
        data = htnet_patches.tile(data, config.model)
    return data


def _run(config, workdir: pathlib.Path, builder, started: float, main: bool) -> dict:
    if main:
        atomic_files.write_text(workdir / "config.json",
                                config.to_json_best_effort(indent=2) + "\n")
    # One process reads everything; with several, each first reads the labels and
    # names, then the views of the samples its devices' folds use.
    several = jax.process_count() > 1
    data = _prepared(config, records.read_builder(builder, keep=[] if several else None))
    folds = protocols.make_folds(config.protocol.name, data.dataset, data.subject)
    counts = np.bincount(data.label, minlength=len(data.class_names))
    logging.info("%s: %d samples, %d subjects, %d folds (%s), classes %s", config.data.name,
                 len(data), len(set(protocols.subject_keys(data.dataset, data.subject))),
                 folds.num_folds, config.protocol.name,
                 {n: int(k) for n, k in zip(data.class_names, counts)})

    model = build_model(config.model, len(data.class_names))
    mesh = placement.make_mesh(folds.num_folds, config.train.batch_size, **config.mesh)
    trainer = fold_trainer.FoldTrainer(model, config.train, data.views, data.label, mesh,
                                       records.u_mirror_offset(config.data.flow_norm),
                                       data.view_row)
    plan = trainer.plan(folds, config.max_folds_per_chunk, config.device_memory_bytes)
    if several:
        data = _prepared(config, records.read_builder(
            builder, keep=trainer.samples_needed(folds, plan)))
        trainer.set_views(data.views, data.view_row)
    logging.info("placement: %s", plan[1])
    numbers = {k: v for k, v in config.to_dict().items() if k not in NOT_FINGERPRINTED}
    decided_by = {k: plan[1][k] for k in ("fold_groups", "data_parallel", "folds_per_chunk",
                                          "num_chunks", "steps_per_epoch")}
    checkpoints = checkpoints_lib.SweepCheckpoints(
        workdir / "checkpoints", config.checkpoint.every_epochs, config.checkpoint.keep,
        checkpoints_lib.fingerprint(numbers, decided_by, folds.names, folds.train_idx,
                                    folds.test_idx))
    progress = Progress(f"{config.name} ({folds.num_folds} folds)") if main else None
    t0 = time.time()
    history = trainer.fit(folds, config.train.epochs, config.seed, checkpoints=checkpoints,
                          on_epoch=progress, plan=plan)
    train_seconds = time.time() - t0
    if not main:
        return {}

    # The config's rule is the headline (predictions.csv, the confusion matrix);
    # the other rule is scored too and reported beside it.
    rules = [config.protocol.selection] + [r for r in selection.RULES
                                           if r != config.protocol.selection]
    results = {}
    for rule in rules:
        results[rule], fold_of, probs = selection.evaluate(history, folds, data, rule)
        if rule == config.protocol.selection:
            run_files.write_predictions(workdir, data, folds.names, fold_of, probs)
            run_files.plot_confusion(workdir, results[rule], data.class_names)

    baseline = None
    if config.baseline.logistic_regression and not data.complete:
        logging.warning("logistic regression baseline skipped: process 0 holds the views of "
                        "only %d of %d samples", int((data.rows >= 0).sum()), len(data))
    elif config.baseline.logistic_regression:
        flow = records.resize(data.views["flow"][data.rows], BASELINE_FLOW_SIZE)
        logits = logistic_regression.fold_logits(flow, data.label, folds, len(data.class_names))
        baseline = metrics.pooled_scores(data.label, logits.argmax(-1), len(data.class_names),
                                         groups=selection.database_groups(data))

    has_soa = history.theta_deg.shape[2] > 0  # not the baselines HTNet and FDP
    if has_soa:
        run_files.write_theta(workdir, history, folds.names)
        run_files.plot_theta(workdir, history)
    diverged = [folds.names[f] for f in np.flatnonzero(history.diverged[:, -1])]
    summary = {
        "config_name": config.name,
        "model": MODEL_NAMES[model_name(config.model)],
        "preset": config.model.get("preset", ""),
        "protocol": config.protocol.name,
        "selection": config.protocol.selection,
        "optimistic": selection.OPTIMISTIC[config.protocol.selection],
        "note": run_files.OPTIMISTIC_NOTE if selection.OPTIMISTIC[config.protocol.selection] else
                "honest: every fold scored after the fixed schedule's last epoch",
        "headline": results[config.protocol.selection],
        "other_selections": {r: results[r] for r in rules[1:]},
        "logistic_regression_baseline": baseline,
        "num_samples": len(data),
        "num_folds": folds.num_folds,
        "class_names": list(data.class_names),
        "epochs": config.train.epochs,
        "final_theta_deg": {"per_fold": history.theta_deg[:, -1].tolist(),
                            "mean": history.theta_deg[:, -1].mean(0).tolist()} if has_soa else None,
        "loss_per_fold_epoch": history.loss.tolist(),
        "diverged_folds": diverged,
        "au_leak_note": run_files.au_leak_note(config),
        "execution": dict(history.execution, num_processes=jax.process_count(),
                          device=jax.devices()[0].device_kind, num_devices=jax.device_count(),
                          host_cpus=os.cpu_count(),
                          platform=jax.devices()[0].platform),
        "command": shlex.join(["python"] + sys.argv),  # as this process was started
        "train_seconds": train_seconds,
        "wall_seconds": time.time() - started,
    }
    atomic_files.write_json(workdir / "metrics.json", summary)
    title = (f"{summary['model']} {config.protocol.name.upper()} on {config.data.name}: "
             f"{len(data)} samples, {folds.num_folds} folds, {config.train.epochs} epochs, "
             f"{summary['wall_seconds'] / 60:.1f} min on {summary['execution']['device']}")
    summary["summary_text"] = run_files.summary_table(
        title, [results[r] for r in rules], baseline, history, diverged, workdir)
    atomic_files.write_text(workdir / "summary.txt", summary["summary_text"] + "\n")
    return summary
