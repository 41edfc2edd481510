"""Stage 4: a trained sweep scored and written: the logistic-regression baseline on
the same folds, every selection rule, ``metrics.json``, ``summary.txt`` and the rest
of the run's files (``evaluation.run_results``). A 'cross' run scores only its test
databases' samples; an 'all' run has no test and writes its training record."""

from __future__ import annotations

import pathlib

from faceslueth_jax.data import records
from faceslueth_jax.evaluation import baseline, run_results
from faceslueth_jax.models import registry
from faceslueth_jax.stopwatch import Stopwatch
from faceslueth_jax.train import protocols


def scored_part(fitted):
    """(data, folds, their sample indices or None when all) of the samples the
    protocol tests (all but a 'cross' run's training databases)."""
    data, folds = fitted.data, fitted.sweep.folds
    tested = protocols.tested_samples(folds)
    if len(tested) < len(data):
        return records.subset(data, tested), protocols.test_part(folds, tested), tested
    return data, folds, None


def write(config, workdir: pathlib.Path, fitted, watch: Stopwatch, started: float) -> dict:
    """metrics.json's content plus ``summary_text``."""
    history = fitted.history
    title = registry.title(config.model)
    # the trainer's parts (compile, init and transfer, epochs, checkpoints) include the
    # compilation that planning did; "scoring and writing" is measured by run_results
    if config.protocol.name == "all":  # nothing to test: the loss curve and the model
        return run_results.write_trained(
            workdir, config, fitted.data, history, model_title=title,
            train_seconds=fitted.train_seconds, started=started,
            time_split=dict(watch.rounded(), **history.execution.pop("seconds", {})))
    linear_validation = None
    with watch("baseline"):
        logits, facts = baseline.logits(config, fitted.data, fitted.sweep.folds)
        if fitted.sweep.nested is not None and logits is not None:  # for ensembles
            linear_validation = baseline.validation_logits(config, fitted.data,
                                                           fitted.sweep.nested)
    data, folds, tested = scored_part(fitted)
    if tested is not None and logits is not None:
        logits = logits[tested]
    time_split = dict(watch.rounded(), **history.execution.pop("seconds", {}))
    return run_results.write(workdir, config, data, folds, history, baseline=logits,
                             baseline_facts=facts, linear_validation=linear_validation,
                             model_title=title,
                             au_dim=registry.au_dim(config.model),
                             train_seconds=fitted.train_seconds, started=started,
                             time_split=time_split)
