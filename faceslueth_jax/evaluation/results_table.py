"""One Markdown table from finished runs: a row per run and selection rule.

Every run directory holds ``metrics.json`` and ``config.json`` (written by
``pipeline.experiment``). A run gives two rows, its headline rule first:
``last epoch`` (honest) and ``best test epoch (OPTIMISTIC)``, and a third,
``logistic regression (baseline)`` with selection ``fixed (no epochs)``, when
its metrics.json holds the baseline's scores. A run of several seeds
(``protocol.seeds``) shows each rule's mean over seeds, then its seed ensemble
(averaged probabilities) as a row of its own; its score cells read
'mean ± std over seeds [95% subject-bootstrap interval]' (``seed_scores``). Columns: run ([n], the number of
the command listed under the table), model, preset, data, protocol, selection,
UF1, UAR and accuracy pooled over every fold, UF1 / UAR per source database (for
LOSO the database's own samples; for LODO the held-out database), the learned
SOA angles after the last epoch as circular mean ± circular spread over folds
per layer (``angles``; only when some run has SOA layers), epochs, wall time
and the device the run used.

    UF1 = mean_k 2 TP_k / (2 TP_k + FP_k + FN_k),   UAR = mean_k TP_k / N_k,
    accuracy = sum_k TP_k / N
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

from faceslueth_jax.evaluation import angles, seed_scores

DATABASE_TITLES = {"casme2": "CASME II", "samm": "SAMM", "smic": "SMIC-HS",
                   "casme3": "CAS(ME)^3"}
DATA_TITLES = {"htnet_composite": "MEGC2019 composite, HTNet release",
               "megc2019_composite": "MEGC2019 composite", "synthetic_me": "synthetic"}


BASELINE_MODEL = "logistic regression (baseline)"
BASELINE_SELECTION = "fixed (no epochs)"  # a convex fit: no epoch to choose
THETA_HEADER = "θ per SOA layer (circ. mean ± spread)"


class NotAFinishedRun(ValueError):
    pass


def load_run(run_dir) -> dict:
    """metrics.json and config.json of a finished run; a clear error otherwise."""
    run_dir = pathlib.Path(run_dir)
    metrics_path = run_dir / "metrics.json"
    if not metrics_path.is_file():
        raise NotAFinishedRun(f"{run_dir}: no metrics.json, so not a finished run (still "
                              "training, stopped, or not a run directory)")
    try:
        metrics = json.loads(metrics_path.read_text())
        config_path = run_dir / "config.json"
        config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    except json.JSONDecodeError as e:
        raise NotAFinishedRun(f"{run_dir}: unreadable JSON ({e})") from e
    for key in ("headline", "selection", "protocol", "epochs", "wall_seconds"):
        if key not in metrics:
            raise NotAFinishedRun(f"{metrics_path}: no {key!r} field; not written by this "
                                  "project's run.py")
    return {"dir": run_dir, "metrics": metrics, "config": config}


def wall_time(seconds: float) -> str:
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def device(execution: dict) -> str:
    """e.g. '2-core CPU', 'NVIDIA H200 x1', 'TPU v5 lite x8'."""
    kind = execution.get("device", "?")
    count = execution.get("num_devices", 1)
    if execution.get("platform") == "cpu":
        cpus = execution.get("host_cpus")
        return f"{cpus}-core CPU" if cpus else "CPU"
    return f"{kind} x{count}"


def selection_title(result: dict) -> str:
    name = result["selection"].replace("_", " ")
    name = f"{name} (OPTIMISTIC)" if result["optimistic"] else name
    if "ensemble_of_seeds" in result:
        return f"{name}, ensemble of seeds {_seed_list(result['ensemble_of_seeds'])}"
    seeds = (result.get("seeds") or {}).get("seed_values")
    if not seeds:
        return name
    return f"{name}, seed{'s' if len(seeds) > 1 else ''} {_seed_list(seeds)}"


def _seed_list(seeds) -> str:
    return ",".join(str(s) for s in seeds)


def _results(metrics: dict) -> list:
    """The run's results, headline rule first, each rule's seed ensemble after it."""
    ensembles = metrics.get("seed_ensembles") or {}
    out = []
    for result in [metrics["headline"]] + list(metrics.get("other_selections", {}).values()):
        out += [result] + ([ensembles[result["selection"]]]
                           if result["selection"] in ensembles else [])
    return out


def _baseline(metrics: dict) -> dict | None:
    return metrics.get("logistic_regression_baseline")


def databases(runs: list) -> list:
    results = [r for run in runs for r in _results(run["metrics"]) + [_baseline(run["metrics"])]
               if r]
    seen = {g for r in results for g in r.get("per_group", {})}
    ordered = [d for d in DATABASE_TITLES if d in seen]
    return ordered + sorted(seen - set(ordered))


def final_theta(metrics: dict) -> tuple[list, list] | None:
    """(circular mean, circular spread) per SOA layer after the last epoch, or None
    (no SOA layers). metrics.json written before the circular statistics holds
    per_fold as (F, L) lists beside an arithmetic mean; its statistics are
    recomputed from per_fold (``angles``), the arithmetic mean is not shown."""
    theta = metrics.get("final_theta_deg")
    if not theta:
        return None
    if "circular_mean" in theta:
        return theta["circular_mean"], theta["circular_spread"]
    per_fold = theta.get("per_fold")
    per_fold = list(per_fold.values()) if isinstance(per_fold, dict) else per_fold
    if not per_fold or not len(per_fold[0]):
        return None
    mean, spread, _ = angles.axial_stats(np.asarray(per_fold, np.float64), axis=0)
    return mean.tolist(), spread.tolist()


def theta_cell(metrics: dict) -> str:
    """e.g. '87.9 ± 1.2; 90.3 ± 0.8': per layer the circular mean ± spread over folds."""
    theta = final_theta(metrics)
    if theta is None:
        return ""
    return "; ".join(_theta_layer(mean, spread) for mean, spread in zip(*theta))


def _theta_layer(mean, spread) -> str:
    """None (how JSON holds a non-finite value) or NaN: no mean direction, R = 0."""
    if mean is None or not np.isfinite(mean) or spread is None:
        return "no mean direction (R = 0)"
    return f"{angles.format_axis(mean)} ± {spread:.1f}"


def _with_uncertainty(value: float, uncertainty: dict | None, metric: str) -> str:
    """'0.6300 ± 0.0120 [0.5800, 0.6700]': ± the std over seeds (several seeds) and
    the 95% subject-bootstrap interval, when the run has them."""
    return f"{value:.4f}{seed_scores.uncertainty_text(uncertainty, metric)}"


def _score_cells(result: dict, database_names: list) -> list:
    per_group, u = result.get("per_group", {}), result.get("seeds")
    group_u = (u or {}).get("per_group", {})
    return ([_with_uncertainty(result["uf1"], u, "uf1"),
             _with_uncertainty(result["uar"], u, "uar"), f"{result['accuracy']:.4f}"]
            + [f"{_with_uncertainty(per_group[d]['uf1'], group_u.get(d), 'uf1')} / "
               f"{_with_uncertainty(per_group[d]['uar'], group_u.get(d), 'uar')}"
               if d in per_group else "" for d in database_names])


def rows(run: dict, number: int, database_names: list, theta_column: bool) -> list:
    """Table cells of one run, one list per selection rule (headline first), then the
    logistic-regression baseline's when the run has one. Every row starts with the
    run's number, '[n]', which the command list under the table repeats. The theta
    cell is filled on the last-epoch row only: the final angles are those of the
    last epoch's models, not of the models best test epoch picks."""
    metrics, config = run["metrics"], run["config"]
    data = config.get("data", {}).get("name", "?")
    data_cell = f"{DATA_TITLES.get(data, data)} ({metrics.get('num_samples', '?')})"
    model = metrics.get("model", "FaceSleuth-R")
    if metrics.get("au_leak_note"):
        model += " (LABEL LEAK: test-time AUs)"
    preset = metrics.get("preset") or config.get("model", {}).get("preset", "")
    run_cell, protocol = f"[{number}]", metrics["protocol"].upper()
    run_device = device(metrics.get("execution", {}))
    out = []
    for result in _results(metrics):
        cells = ([run_cell, model, preset, data_cell, protocol, selection_title(result)]
                 + _score_cells(result, database_names))
        if theta_column:
            cells.append(theta_cell(metrics) if result["selection"] == "last_epoch"
                         and "ensemble_of_seeds" not in result else "")
        cells += [str(metrics["epochs"]), wall_time(metrics["wall_seconds"]), run_device]
        out.append(cells)
    baseline = _baseline(metrics)
    if baseline:
        tuned = baseline.get("fit", {}).get("tuning") == "inner_cv"
        model_cell = BASELINE_MODEL + (", l2 by inner CV, balanced" if tuned else "")
        cells = ([run_cell, model_cell, "", data_cell, protocol, BASELINE_SELECTION]
                 + _score_cells(baseline, database_names))
        cells += [""] * theta_column + ["", "", run_device]
        out.append(cells)
    return out


def commands(runs: list) -> list:
    """'- [n] `command`' per run, in the table's numbering."""
    lines = []
    for number, run in enumerate(runs, 1):
        command = run["metrics"].get("command")
        lines.append(f"- [{number}] `{command}`" if command else
                     f"- [{number}] no command recorded (run directory `{run['dir']}`)")
    return lines


def markdown(run_dirs: list, not_run: list = ()) -> str:
    """The table for ``run_dirs``; ``not_run``: 'what: why' lines shown as rows that
    say the configuration was not run (never a number). Runs are numbered [1], [2],
    ... in the order given; the commands that made them follow the table."""
    runs = [load_run(d) for d in run_dirs]
    names = databases(runs)
    theta_column = any(final_theta(run["metrics"]) is not None for run in runs)
    header = (["run", "model", "preset", "data (samples)", "protocol", "selection", "UF1",
               "UAR", "acc"]
              + [f"{DATABASE_TITLES.get(d, d)} UF1 / UAR" for d in names]
              + [THETA_HEADER] * theta_column + ["epochs", "wall time", "device"])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for number, run in enumerate(runs, 1):
        lines += ["| " + " | ".join(cells) + " |" for cells in rows(run, number, names,
                                                                      theta_column)]
    for entry in not_run:
        what, _, why = entry.partition(":")
        cells = ["", what.strip(), "", "", "", f"not run: {why.strip()}"]
        lines.append("| " + " | ".join(cells + [""] * (len(header) - len(cells))) + " |")
    if runs:
        lines += ["", "Commands:"] + commands(runs)
    return "\n".join(lines) + "\n"
