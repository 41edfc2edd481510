"""One Markdown table from finished runs: a row per run and selection rule.

Every run directory holds ``metrics.json`` and ``config.json`` (written by
``train.experiment``). A run gives two rows, its headline rule first:
``last epoch`` (honest) and ``best test epoch (OPTIMISTIC)``. Columns: model,
preset, data, protocol, selection, UF1 and UAR pooled over every fold, UF1 / UAR
per source database (for LOSO the database's own samples; for LODO the held-out
database), epochs, wall time and the device the run used.

    UF1 = mean_k 2 TP_k / (2 TP_k + FP_k + FN_k),   UAR = mean_k TP_k / N_k
"""

from __future__ import annotations

import json
import pathlib

DATABASE_TITLES = {"casme2": "CASME II", "samm": "SAMM", "smic": "SMIC-HS",
                   "casme3": "CAS(ME)^3"}
DATA_TITLES = {"htnet_composite": "MEGC2019 composite, HTNet release",
               "megc2019_composite": "MEGC2019 composite", "synthetic_me": "synthetic"}


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
    return f"{name} (OPTIMISTIC)" if result["optimistic"] else name


def _results(metrics: dict) -> list:
    return [metrics["headline"]] + list(metrics.get("other_selections", {}).values())


def databases(runs: list) -> list:
    seen = {g for run in runs for r in _results(run["metrics"]) for g in r.get("per_group", {})}
    ordered = [d for d in DATABASE_TITLES if d in seen]
    return ordered + sorted(seen - set(ordered))


def rows(run: dict, database_names: list) -> list:
    """Table cells of one run, one list per selection rule (headline first)."""
    metrics, config = run["metrics"], run["config"]
    data = config.get("data", {}).get("name", "?")
    model = metrics.get("model", "FaceSleuth-R")
    if metrics.get("au_leak_note"):
        model += " (LABEL LEAK: test-time AUs)"
    preset = metrics.get("preset") or config.get("model", {}).get("preset", "")
    out = []
    for result in _results(metrics):
        per_group = result.get("per_group", {})
        cells = [model, preset, f"{DATA_TITLES.get(data, data)} ({metrics.get('num_samples', '?')})",
                 metrics["protocol"].upper(), selection_title(result),
                 f"{result['uf1']:.4f}", f"{result['uar']:.4f}"]
        cells += [f"{per_group[d]['uf1']:.4f} / {per_group[d]['uar']:.4f}" if d in per_group
                  else "" for d in database_names]
        cells += [str(metrics["epochs"]), wall_time(metrics["wall_seconds"]),
                  device(metrics.get("execution", {}))]
        out.append(cells)
    return out


def markdown(run_dirs: list, not_run: list = ()) -> str:
    """The table for ``run_dirs``; ``not_run``: 'what: why' lines shown as rows that
    say the configuration was not run (never a number)."""
    runs = [load_run(d) for d in run_dirs]
    names = databases(runs)
    header = (["model", "preset", "data (samples)", "protocol", "selection", "UF1", "UAR"]
              + [f"{DATABASE_TITLES.get(d, d)} UF1 / UAR" for d in names]
              + ["epochs", "wall time", "device"])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for run in runs:
        lines += ["| " + " | ".join(cells) + " |" for cells in rows(run, names)]
    for entry in not_run:
        what, _, why = entry.partition(":")
        cells = [what.strip(), "", "", "", f"not run: {why.strip()}"] + [""] * (len(header) - 5)
        lines.append("| " + " | ".join(cells) + " |")
    commands = [f"- `{run['metrics']['command']}`" for run in runs if run["metrics"].get("command")]
    if commands:
        lines += ["", "Commands:"] + commands
    return "\n".join(lines) + "\n"
