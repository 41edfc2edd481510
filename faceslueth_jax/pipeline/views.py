"""Stage 5: what a researcher looks at, drawn from the scored run's files
(metrics.json, probabilities.npz, theta.csv's array):

  curves.csv, learning_curve.png/.pdf   per epoch (``evaluation.curves``)
  per_subject.csv, per_class.csv        where it fails (``evaluation.breakdowns``); the
                                        worst subjects are added to summary.txt
  confusion_matrix[_<database>].png/.pdf, theta.png/.pdf  (``evaluation.run_files``)
  tensorboard/                          the end-of-run part (``evaluation.tensorboard_log``)
  index.html                            one self-contained page (``evaluation.run_page``)
"""

from __future__ import annotations

import pathlib
import sys
import types

import numpy as np

from faceslueth_jax import atomic_files, cli
from faceslueth_jax.evaluation import (breakdowns, curves, run_files, run_page,
                                       tensorboard_log)
from faceslueth_jax.pipeline import watch

WORST_SUBJECTS = 5


def write(config, workdir: pathlib.Path, fitted, summary: dict) -> dict:
    """Writes the files above; returns ``summary`` with the worst subjects added to its
    ``summary_text``."""
    workdir = pathlib.Path(workdir)
    theta = fitted.history.probes.get("theta_deg")
    title = summary.get("title", summary["model"])
    figures = []
    if "headline" in summary:
        npz = dict(np.load(workdir / "probabilities.npz"))
        summary = _breakdowns(workdir, npz, summary)
        rule = summary["selection"]
        scored = types.SimpleNamespace(label=npz["label"], dataset=npz["dataset"],
                                       class_names=[str(c) for c in npz["class_names"]])
        headline = summary["seed_ensembles"].get(rule) or summary["headline"]
        figures += run_files.plot_confusions(workdir, headline, scored,
                                             npz[f"probs_{rule}"].mean(0).argmax(-1), title)
    if theta is not None:
        figures += run_files.plot_theta(workdir, theta, title)
    figures += curves.plot(workdir, summary, title)
    curves.write(workdir, summary, theta, watch.learning_rates(config))
    pngs = [f for f in figures if f.suffix == ".png"]
    tensorboard_log.write_final(workdir, summary, theta, overrides(config, sys.argv), pngs)
    run_page.write(workdir, summary, pngs)
    return summary


def overrides(config, argv) -> dict:
    """The command line's --config.* fields with their resolved values."""
    values = {}
    for field in cli.override_fields(argv):
        node = config
        for key in field.split("."):
            node = node[key]
        values[field] = node.to_dict() if hasattr(node, "to_dict") else node
    return values


def _breakdowns(workdir, npz, summary) -> dict:
    subject_rows = breakdowns.per_subject_rows(npz)
    atomic_files.write_csv(workdir / "per_subject.csv", breakdowns.SUBJECT_HEADER, subject_rows)
    atomic_files.write_csv(workdir / "per_class.csv", breakdowns.CLASS_HEADER,
                           breakdowns.per_class_rows(npz))
    worst = breakdowns.worst_subjects(subject_rows, summary["selection"], WORST_SUBJECTS)
    lines = [f"worst subjects ({worst_scope(subject_rows, summary['headline'])}; "
             "all subjects: per_subject.csv)"] + [
        f"  {name:<30} {correct}/{samples} correct  accuracy {accuracy}"
        for name, samples, correct, accuracy in worst]
    text = summary["summary_text"]
    marker = "\nresults: "
    head, _, tail = text.rpartition(marker)
    text = (f"{head}\n" + "\n".join(lines) + f"\n{marker}{tail}" if head
            else text + "\n\n" + "\n".join(lines))
    atomic_files.write_text(workdir / "summary.txt", text + "\n")
    return dict(summary, summary_text=text)


def worst_scope(subject_rows: list, headline: dict) -> str:
    """'last_epoch, ensemble of 2 seeds': the rule and aggregate the worst subjects are of."""
    aggregates = [r[5] for r in subject_rows if r[3] == headline["selection"]]
    seeds = len(headline.get("seeds", {}).get("seed_values", [0]))
    aggregate = {"ensemble": f"ensemble of {seeds} seeds"}.get(aggregates[-1], "")
    return run_files.selection_label(headline) + (f", {aggregate}" if aggregate else "")
