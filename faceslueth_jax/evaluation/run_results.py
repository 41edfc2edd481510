"""A finished sweep's evaluation and files: every selection rule scored, the
baseline beside them, the probes' records, metrics.json and summary.txt (the
figures and pages drawn from these files: ``pipeline.views``).

The config's ``protocol.selection`` is the headline (predictions.csv, the
confusion matrix); the other rule is scored too and reported beside it.
"""

from __future__ import annotations

import json
import os
import pathlib
import shlex
import sys
import time

import numpy as np

from faceslueth_jax import atomic_files
from faceslueth_jax.evaluation import angles, metrics, run_files, seed_scores, selection

# the folder, inside a workdir, of a run too many of whose folds diverged: its files
# for inspection, never tabled with the finished runs
DIVERGED_DIR = "DIVERGED"
HONEST_NOTE = "honest: every fold scored after the fixed schedule's last epoch"


def execution_facts(execution: dict) -> dict:
    """The trainer's placement facts with this process's devices and CPUs (jax imported
    here: reading finished runs, as ``report`` does, never needs it)."""
    import jax
    device = jax.devices()[0]
    return dict(execution, num_processes=jax.process_count(), device=device.device_kind,
                num_devices=jax.device_count(), host_cpus=os.cpu_count(),
                platform=device.platform)


def data_title(config) -> str:
    """The data a run read: data.name, or its several data.names joined by '+'."""
    return "+".join(config.data.get("names") or ()) or config.data.name


def au_leak_note(au_dim: int) -> str | None:
    """The warning a run whose model reads ground-truth action units must carry, or None."""
    if not au_dim:
        return None
    return (f"LABEL LEAK: model.faceslueth_r.au_dim={au_dim} feeds the model each sample's "
            "ground-truth FACS action units from the database's coding sheet, at test time as "
            "well as in training (the reference's practice). The coders' AUs largely determine "
            "the emotion label, so these figures do not estimate recognition from video; "
            "au_dim=0 is the honest setting")


DIVERGED_SCORING = ("each is tested with the weights it had before the step that diverged "
                    "(a non-finite loss, gradient or weight), and those predictions count "
                    "in the pooled scores like any fold's")


def diverged_account(history, folds, instance_names: list) -> dict:
    """What the diverged folds contribute to the scores: their names, the epoch each
    diverged in (1-based), their test samples, and test logits that are not finite
    (0 when every fold kept finite weights; such a sample's argmax would be class 0)."""
    flags = np.asarray(history.diverged)
    diverged = np.flatnonzero(flags[:, -1])
    num_folds = folds.num_folds
    logits = np.asarray(history.test_logits)  # (F, E, S, K)
    # a test sample counts once however many of its epochs' logits are not finite
    non_finite = sum(int((~np.isfinite(logits[f, :, :folds.num_test[f % num_folds]]))
                         .any(axis=(0, 2)).sum()) for f in range(len(flags)))
    return {"folds": [instance_names[f] for f in diverged],
            "epoch": {instance_names[f]: int(np.argmax(flags[f])) + 1 for f in diverged},
            "test_samples": int(sum(folds.num_test[f % num_folds] for f in diverged)),
            "non_finite_test_logits": non_finite,
            "scoring": DIVERGED_SCORING if len(diverged) else ""}


def logits_scores(data, logits) -> dict:
    """Pooled scores (and per database, when there are several) of (N, K) logits."""
    return metrics.pooled_scores(data.label, logits.argmax(-1), len(data.class_names),
                                 groups=selection.database_groups(data))


def write(workdir, config, data, folds, history, *, baseline, model_title: str, au_dim: int,
          baseline_facts: dict | None = None, linear_validation=None,
          train_seconds: float, started: float, time_split: dict | None = None) -> dict:
    """Score, write the run's files (each atomically) and return metrics.json's content
    plus ``summary_text``. ``baseline``: the logistic regression's (N, K) logits or None.
    ``time_split``: seconds per part of the run; this adds "scoring and writing"."""
    workdir = pathlib.Path(workdir)
    writing_started = time.perf_counter()
    headline_rule = config.protocol.selection
    rules = [headline_rule] + [r for r in selection.rules_of(history) if r != headline_rule]
    title = (f"{model_title} {config.protocol.name.upper()} on {data_title(config)}: "
             f"{len(data)} samples, {folds.num_folds} folds, {config.train.epochs} epochs")
    seeds = history.seeds
    if len(seeds) > 1:
        title += f", {len(seeds)} seeds"
    results, ensembles, probabilities = {}, {}, {}
    for rule in rules:
        results[rule], ensemble, fold_of, probs = seed_scores.evaluate(
            history.per_seed(), seeds, folds, data, rule)
        probabilities[rule] = probs
        if ensemble is not None:
            ensembles[rule] = ensemble
        if rule == headline_rule:  # with several seeds: the seed ensemble's probabilities
            run_files.write_predictions(workdir, data, folds.names, fold_of, probs.mean(0))
    run_files.write_probabilities(workdir, data, seeds, probabilities)
    # a nested run's validation curves V_f(e), per seed: its record and nested.npz
    curves = (None if history.nested is None else
              [selection.validation_uf1(h, data.label) for h in history.per_seed()])
    if curves is not None:  # what ensembles chosen on inner validation read
        run_files.write_nested(workdir, data, folds, history, [c.argmax(-1) for c in curves],
                               linear_validation, baseline)
    baseline_scores = None if baseline is None else dict(
        logits_scores(data, baseline), fit=baseline_facts or {},
        seeds=seed_scores.uncertainty(data, baseline.argmax(-1)[None]))
    instance_names = run_files.instance_names(folds.names, seeds)
    theta = history.probes.get("theta_deg")  # absent without SOA layers (FoldTrainer)
    if theta is not None:
        run_files.write_theta(workdir, theta, instance_names)
    divergence = diverged_account(history, folds, instance_names)
    diverged = divergence["folds"]
    optimistic = selection.OPTIMISTIC[headline_rule]
    summary = {
        "config_name": config.name,
        "title": title,
        "model": model_title,
        "preset": config.model.get("preset", ""),
        "protocol": config.protocol.name,
        "selection": headline_rule,
        "optimistic": optimistic,
        "note": run_files.OPTIMISTIC_NOTE if optimistic else HONEST_NOTE,
        "headline": results[headline_rule],
        "other_selections": {r: results[r] for r in rules[1:]},
        "seeds": list(seeds),
        "seed_ensembles": ensembles,  # rule -> the averaged probabilities' scores (>1 seed)
        "logistic_regression_baseline": baseline_scores,
        "num_samples": len(data),
        "num_folds": folds.num_folds,
        "class_names": list(data.class_names),
        "epochs": config.train.epochs,
        "final_theta_deg": (angles.final_theta_summary(theta, instance_names)
                            if theta is not None else None),
        "loss_per_fold_epoch": history.loss.tolist(),
        # every epoch's test scores, all folds at that epoch: a diagnostic, not a rule
        "learning_curve": selection.learning_curve(history.per_seed(), folds, data),
        "nested": None if curves is None else nested_record(curves, history.nested.groups),
        "diverged_folds": diverged,
        "divergence": divergence,  # what the diverged folds contribute to the headline
        "au_leak_note": au_leak_note(au_dim),
        "execution": execution_facts(history.execution),
        "command": shlex.join(["python"] + sys.argv),  # as this process was started
        "train_seconds": train_seconds,
        "wall_seconds": time.time() - started,
    }
    summary["time_split_seconds"] = dict(
        time_split or {}, **{"scoring and writing": round(time.perf_counter() - writing_started, 2)})
    summary = _keep_first_timing(workdir, summary)
    atomic_files.write_json(workdir / "metrics.json", summary)
    heading = (f"{title}, {summary['wall_seconds'] / 60:.1f} min on "
               f"{summary['execution']['device']}")
    if summary["execution"].get("resumed_from_step"):  # this run went on from a checkpoint
        heading += f" (resumed; {summary['train_seconds'] / 60:.1f} min of training in all runs)"
    summary["summary_text"] = run_files.summary_table(
        heading, [results[r] for r in rules], baseline_scores, theta, divergence, workdir,
        ensembles=[ensembles[r] for r in rules if r in ensembles])
    atomic_files.write_text(workdir / "summary.txt", summary["summary_text"] + "\n")
    return summary


def nested_record(curves: list, inner_folds: int) -> dict:
    """A nested run's choice: the inner folds per outer fold, each seed's validation
    UF1 V_f(e) per outer fold and epoch (``curves``, (F, E) a seed), and the epoch
    (1-based) it chose."""
    return {"inner_folds": inner_folds,
            "rule": "each outer fold's epoch by its inner folds' pooled validation UF1 "
                    "(the earliest best); no test label used",
            "validation_uf1": [np.round(c, 4).tolist() for c in curves],
            "chosen_epoch": [(c.argmax(-1) + 1).tolist() for c in curves]}


def _keep_first_timing(workdir: pathlib.Path, summary: dict) -> dict:
    """A rerun that found the sweep already finished (it trained nothing, e.g. to
    report another selection rule) keeps the timing of the run that trained it and
    records its own as ``rerun_seconds``."""
    execution = summary["execution"]
    finished = execution.get("resumed_from_step") == execution["num_chunks"] * summary["epochs"]
    previous = workdir / "metrics.json"
    if not (finished and previous.is_file()):
        return summary
    try:
        old = json.loads(previous.read_text())
    except json.JSONDecodeError:
        return summary
    if "train_seconds" not in old:
        return summary
    kept = {k: old[k] for k in ("train_seconds", "wall_seconds", "time_split_seconds") if k in old}
    return dict(summary, **kept, rerun_seconds=summary["wall_seconds"])


def write_trained(workdir, config, data, history, *, model_title: str, train_seconds: float,
                  started: float, time_split: dict | None = None) -> dict:
    """metrics.json and summary.txt of a run with no test samples (``protocol.name='all'``):
    what was trained, on what, its training loss and angles; the model is in
    ``<workdir>/model``. Returns metrics.json's content plus ``summary_text``."""
    workdir = pathlib.Path(workdir)
    seeds = history.seeds
    names = run_files.instance_names(("all",), seeds)
    theta = history.probes.get("theta_deg")
    summary = {
        "config_name": config.name,
        "title": f"{model_title} trained on all {len(data)} samples of {data_title(config)}",
        "model": model_title,
        "preset": config.model.get("preset", ""),
        "protocol": "all",
        "note": "trained on every sample, no test samples: a model to predict with "
                "(python -m faceslueth_jax.predict --model=<workdir>/model); no scores",
        "seeds": list(seeds),
        "num_samples": len(data),
        "class_names": list(data.class_names),
        "epochs": config.train.epochs,
        "final_theta_deg": (angles.final_theta_summary(theta, names)
                            if theta is not None else None),
        "loss_per_fold_epoch": history.loss.tolist(),
        "diverged_folds": [names[f] for f in np.flatnonzero(history.diverged[:, -1])],
        "execution": execution_facts(history.execution),
        "command": shlex.join(["python"] + sys.argv),
        "train_seconds": train_seconds,
        "wall_seconds": time.time() - started,
        "time_split_seconds": time_split or {},
    }
    atomic_files.write_json(workdir / "metrics.json", summary)
    lines = [f"{model_title} trained on all {len(data)} samples of {data_title(config)} "
             f"({config.train.epochs} epochs, seeds {', '.join(map(str, seeds))}), "
             f"{summary['wall_seconds'] / 60:.1f} min on {summary['execution']['device']}",
             "no test samples, so no scores; model folder: " + str(workdir / "model")]
    for name, loss in zip(names, history.loss[:, -1]):
        lines.append(f"  {name}: training loss at the last epoch {loss:.4f}")
    if theta is not None:
        lines.append("  SOA angles at the last epoch (deg): " + ", ".join(
            f"{t:.1f}" for t in np.asarray(theta)[:, -1].mean(axis=0)))
    summary["summary_text"] = "\n".join(lines)
    atomic_files.write_text(workdir / "summary.txt", summary["summary_text"] + "\n")
    return summary
