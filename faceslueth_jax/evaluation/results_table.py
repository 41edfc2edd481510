r"""One table from finished runs, a row per run and selection rule, in four formats.

Every run directory holds ``metrics.json`` and ``config.json`` (written by
``pipeline.experiment``); a folder that is not itself a run stands for the runs
under it (``find_runs``). A run gives two rows, its headline rule first:
``last epoch`` (honest) and ``best test epoch (OPTIMISTIC)``. A run of several
seeds (``protocol.seeds``) shows each rule's mean over seeds, then its seed
ensemble (averaged probabilities) as a row of its own. The
``logistic regression (baseline)`` row, selection ``fixed (no epochs)``, follows
the first run holding it, once for all runs of the same data and protocol whose
baseline scored the same (its run cell lists them). A run trained on every sample
(``protocol.name='all'``) has no test scores: its row says so.

Columns: run ([n], the number of the command listed under the table), config (the
config name, then ``field=value`` for each config field that tells the runs shown
apart: ``labels``), model, preset, data, protocol, selection, UF1, UAR and
accuracy pooled over every fold, UF1 / UAR per source database (for LOSO the
database's own samples; for LODO the held-out database), a marker (k) for the
row's intervals, the learned SOA angles after the last epoch as circular mean ±
circular spread over folds per layer (``angles``; only when some run has SOA
layers), epochs, wall time and the device the run used. Score cells hold the
score alone; under the table, line (k) gives that row's 95% subject-bootstrap
intervals and, for several seeds, the std over seeds (``seed_scores``).

    UF1 = mean_k 2 TP_k / (2 TP_k + FP_k + FN_k),   UAR = mean_k TP_k / N_k,
    accuracy = sum_k TP_k / N

The table is one ``Table`` (header, rows, notes under it) that ``to_markdown``,
``to_csv`` (the intervals and the command as columns of their own), ``to_latex``
(a booktabs tabular) and ``to_html`` (a standalone page) render.
"""

from __future__ import annotations

import csv
import dataclasses
import html
import io
import json
import pathlib
import re
import shlex

import numpy as np

from faceslueth_jax import cli
from faceslueth_jax.evaluation import angles, run_results

DATABASE_TITLES = {"casme2": "CASME II", "samm": "SAMM", "smic": "SMIC-HS",
                   "casme3": "CAS(ME)^3"}
DATA_TITLES = {"htnet_composite": "MEGC2019 composite, HTNet release",
               "megc2019_composite": "MEGC2019 composite", "synthetic_me": "synthetic"}


BASELINE_MODEL = "logistic regression (baseline)"
BASELINE_SELECTION = "fixed (no epochs)"  # a convex fit: no epoch to choose
THETA_HEADER = "θ per SOA layer (circ. mean ± spread)"
INTERVAL_HEADER = "CI"
INTERVALS_HEADING = ("95% subject-bootstrap intervals (and, for several seeds, the std over "
                     "seeds) of row (k):")
# config fields that say where files are or how the run was driven, never what was run
IGNORED_FIELDS = ("name", "data.data_dir", "data.manual_dir", "data.manual_dirs", "checkpoint",
                  "coordinator_address", "process_id")


class ReportError(ValueError):
    """What the report cannot do, as one line."""


class NotAFinishedRun(ReportError):
    pass


DAMAGED_HEADING = "Unreadable runs, left out (the file, and why):"
# what rendering a run's rows raises when its files are JSON of another shape
SHAPE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError)


def load_run(run_dir) -> dict:
    """metrics.json and config.json of a finished run, checked to render (``_check_shape``);
    a clear one-line error otherwise (NotAFinishedRun: the file and why)."""
    run_dir = pathlib.Path(run_dir)
    metrics_path = run_dir / "metrics.json"
    if not metrics_path.is_file():
        raise NotAFinishedRun(f"{run_dir}: no metrics.json, so not a finished run (still "
                              "training, stopped, or not a run directory)")
    metrics, config = _read_json(metrics_path), {}
    if (run_dir / "config.json").is_file():
        config = _read_json(run_dir / "config.json")
    required = (("protocol", "epochs", "wall_seconds") if metrics.get("protocol") == "all"
                else ("headline", "selection", "protocol", "epochs", "wall_seconds"))
    for key in required:
        if key not in metrics:
            raise NotAFinishedRun(f"{metrics_path}: no {key!r} field; not written by this "
                                  "project's run.py")
    run = {"dir": run_dir, "metrics": metrics, "config": config}
    _check_shape(run, metrics_path)
    return run


def _check_shape(run: dict, metrics_path: pathlib.Path) -> None:
    """Render the run's rows alone (``_render_one``), first with no config (a fault is
    metrics.json's), then with its config.json; NotAFinishedRun naming the file whose
    fields are not what run.py writes (a list where a result goes, a text score ...)."""
    for blamed, config in ((metrics_path, {}), (run["dir"] / "config.json", run["config"])):
        try:
            _render_one(dict(run, config=config))
        except SHAPE_ERRORS as e:
            raise NotAFinishedRun(f"{blamed}: not as run.py writes it "
                                  f"({type(e).__name__}: {e})") from e


def _render_one(run: dict) -> None:
    """Everything ``table`` computes from one run (raises what a malformed run raises)."""
    names = databases([run])
    run_rows(run, 1, labels([run])[0], names, theta_column=True)
    baseline = _baseline(run["metrics"])
    if baseline:
        _baseline_row(run, baseline, names, theta_column=True)
        _baseline_key(run, baseline)
    commands([run])


def load_runs(run_dirs: list) -> tuple[list, list]:
    """(the runs that load, one line per run left out: 'FILE: why'). None loading of
    several raises NotAFinishedRun naming each; of one, that run's own error."""
    runs, left_out = [], []
    for run_dir in run_dirs:
        try:
            runs.append(load_run(run_dir))
        except NotAFinishedRun as e:
            left_out.append(" ".join(str(e).split()))
    if left_out and not runs:
        if len(left_out) == 1:
            raise NotAFinishedRun(left_out[0])
        raise NotAFinishedRun(f"none of the {len(left_out)} runs can be tabled: "
                              + "; ".join(left_out))
    return runs, left_out


def _read_json(path: pathlib.Path) -> dict:
    try:
        content = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise NotAFinishedRun(f"{path}: unreadable JSON ({e})") from e
    if not isinstance(content, dict):
        raise NotAFinishedRun(f"{path}: not a JSON object")
    return content


def find_runs(paths) -> tuple[list, list]:
    """(run directories, unfinished runs left out) of the paths given: a run directory
    (metrics.json, or config.json without it: an error, not finished) stands for
    itself; any other folder for every directory below it holding metrics.json,
    sorted, and those holding config.json alone are the unfinished ones."""
    runs, unfinished = [], []
    for path in map(pathlib.Path, paths):
        if not path.is_dir() or (path / "metrics.json").exists() or (
                path / "config.json").exists():
            runs.append(path)
            continue
        found = sorted(p.parent for p in path.rglob("metrics.json")
                       if run_results.DIVERGED_DIR not in p.parts)
        if not found:
            raise NotAFinishedRun(f"{path}: no metrics.json in it or in any folder below it, "
                                  "so no finished run there")
        runs += found
        unfinished += sorted(p.parent for p in path.rglob("config.json")
                             if not (p.parent / "metrics.json").exists())
    return runs, unfinished


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


def rule_title(rule: str, optimistic: bool) -> str:
    """e.g. 'last epoch', 'best test epoch (OPTIMISTIC)'."""
    name = rule.replace("_", " ")
    return f"{name} (OPTIMISTIC)" if optimistic else name


def selection_title(result: dict) -> str:
    name = rule_title(result["selection"], result["optimistic"])
    if "ensemble_of_seeds" in result:
        return f"{name}, ensemble of seeds {_seed_list(result['ensemble_of_seeds'])}"
    seeds = (result.get("seeds") or {}).get("seed_values")
    if not seeds:
        return name
    return f"{name}, seed{'s' if len(seeds) > 1 else ''} {_seed_list(seeds)}"


def _seed_list(seeds) -> str:
    return ",".join(str(s) for s in seeds)


def _results(metrics: dict) -> list:
    """The run's results, headline rule first, each rule's seed ensemble after it
    (none for a run trained on every sample)."""
    if "headline" not in metrics:
        return []
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


def config_name(run: dict) -> str:
    """metrics.json's config_name, else config.json's name, else '?'."""
    return run["metrics"].get("config_name") or run["config"].get("name") or "?"


def _preset(run: dict) -> str:
    return run["metrics"].get("preset") or run["config"].get("model", {}).get("preset", "")


def flat_config(config: dict, prefix: str = "") -> dict:
    """config.json's fields as {dotted name: value}, leaves only."""
    out = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            out.update(flat_config(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _ignored(field: str) -> bool:
    """Paths (data_dir, manual_dir(s), workdir-like fields), the name, checkpointing."""
    last = field.rpartition(".")[2]
    return (any(field == f or field.startswith(f + ".") for f in IGNORED_FIELDS)
            or "workdir" in last or last.endswith(("_dir", "_dirs", "_path")))


def _value_text(value) -> str:
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _overridden(run: dict) -> list:
    """The config fields the run's command overrides (--config.FIELD=...)."""
    try:
        return cli.override_fields(shlex.split(run["metrics"].get("command") or ""))
    except ValueError:  # a command line shlex cannot split
        return []


def labels(runs: list) -> list:
    """Per run: its config name, then 'field=value' for each config field (dotted, of
    the flattened config.json; paths and the name left out) whose value differs
    between it and another run shown of the same config name and preset, or that its
    command overrides and another run shown holds at another value. Runs of other
    configs or presets are told apart by those; a single run by its config name."""
    flat = [flat_config(run["config"]) for run in runs]
    kinds = [(config_name(run), _preset(run)) for run in runs]
    out = []
    for i, run in enumerate(runs):
        overridden = _overridden(run)
        differing = []
        for field, value in flat[i].items():
            if _ignored(field):
                continue
            peers = [j for j in range(len(runs)) if j != i and (
                kinds[j] == kinds[i]
                or any(field == o or field.startswith(o + ".") for o in overridden))]
            if any(field in flat[j] and flat[j][field] != value for j in peers):
                differing.append(f"{field}={_value_text(value)}")
        out.append(" ".join([kinds[i][0]] + differing))
    return out


@dataclasses.dataclass
class Row:
    """One row: its cells (one per column), its scores' intervals as (name, low, high,
    std over seeds or None), and the command that made it."""
    cells: list
    intervals: list = dataclasses.field(default_factory=list)
    command: str = ""


@dataclasses.dataclass
class Table:
    """What every format renders: a title line, the header, the rows, where the
    intervals' column goes (None: no intervals), and sections under the table, each
    (heading, lines). A line (and the title) is a tuple of text and code alternately."""
    header: list
    rows: list
    title: tuple = ()
    interval_column: int | None = None
    notes: list = dataclasses.field(default_factory=list)
    left_out: list = dataclasses.field(default_factory=list)  # 'FILE: why' per run left out


def _intervals(u: dict | None, name: str) -> list:
    """(name UF1 / UAR, low, high, std or None) of an uncertainty entry
    (``seed_scores.uncertainty``): the std only for several seeds."""
    if not u:
        return []
    several = u.get("num_seeds", 1) > 1
    return [(f"{name}{metric.upper()}".strip(), *u[metric]["ci95"],
             u[metric]["std"] if several else None) for metric in ("uf1", "uar")]


def _scores(result: dict, database_names: list) -> tuple[list, list]:
    """(score cells, intervals) of one result: pooled, then per database."""
    per_group, u = result.get("per_group", {}), result.get("seeds")
    group_u = (u or {}).get("per_group", {})
    cells = [f"{result['uf1']:.4f}", f"{result['uar']:.4f}", f"{result['accuracy']:.4f}"]
    intervals = _intervals(u, "")
    for d in database_names:
        cells.append(f"{per_group[d]['uf1']:.4f} / {per_group[d]['uar']:.4f}"
                     if d in per_group else "")
        if d in per_group:
            intervals += _intervals(group_u.get(d), f"{DATABASE_TITLES.get(d, d)} ")
    return cells, intervals


def _data_cell(run: dict) -> str:
    data = run["config"].get("data", {})
    name = "+".join(data.get("names") or ()) or data.get("name", "?")
    return f"{DATA_TITLES.get(name, name)} ({run['metrics'].get('num_samples', '?')})"


def run_rows(run: dict, number: int, label: str, database_names: list,
             theta_column: bool) -> list:
    """Rows of one run, one per selection rule (headline first), or the one row of a
    run trained on every sample. The theta cell is filled on the last-epoch row (and
    the trained-on-all row) only: the final angles are those of the last epoch's
    models, not of the models best test epoch picks."""
    metrics = run["metrics"]
    model = metrics.get("model", "FaceSleuth-R")
    if metrics.get("au_leak_note"):
        model += " (LABEL LEAK: test-time AUs)"
    start = [f"[{number}]", label, model, _preset(run), _data_cell(run),
             metrics["protocol"].upper()]
    end = [str(metrics["epochs"]), wall_time(metrics["wall_seconds"]),
           device(metrics.get("execution", {}))]
    command = metrics.get("command") or ""
    if metrics["protocol"] == "all":
        trained = (f"trained on all {metrics.get('num_samples', '?')} samples, no test "
                   "samples: no scores")
        return [Row(start + [trained] + [""] * (3 + len(database_names))
                    + [theta_cell(metrics)] * theta_column + end, command=command)]
    out = []
    for result in _results(metrics):
        cells, intervals = _scores(result, database_names)
        theta = [theta_cell(metrics) if result["selection"] == "last_epoch"
                 and "ensemble_of_seeds" not in result else ""] * theta_column
        out.append(Row(start + [selection_title(result)] + cells + theta + end, intervals,
                       command))
    return out


def _baseline_row(run: dict, baseline: dict, database_names: list, theta_column: bool) -> Row:
    tuned = baseline.get("fit", {}).get("tuning") == "inner_cv"
    cells, intervals = _scores(baseline, database_names)
    return Row(["", "", BASELINE_MODEL + (", l2 by inner CV, balanced" if tuned else ""), "",
                _data_cell(run), run["metrics"]["protocol"].upper(), BASELINE_SELECTION]
               + cells + [""] * theta_column
               + ["", "", device(run["metrics"].get("execution", {}))], intervals,
               run["metrics"].get("command") or "")


def _baseline_key(run: dict, baseline: dict) -> str:
    """Runs with equal keys share one baseline row: same data, protocol, fit, scores."""
    scores = {k: baseline.get(k) for k in ("uf1", "uar", "accuracy", "per_group")}
    return json.dumps([_data_cell(run), run["metrics"]["protocol"],
                       baseline.get("fit", {}).get("tuning"), scores], sort_keys=True)


def commands(runs: list) -> list:
    """'[n] command' per run, in the table's numbering (lines of text and code)."""
    lines = []
    for number, run in enumerate(runs, 1):
        command = run["metrics"].get("command")
        lines.append((f"[{number}] ", command) if command else
                     (f"[{number}] no command recorded (run directory ", str(run["dir"]), ")"))
    return lines


def table(run_dirs: list, not_run: list = (), unfinished: list = ()) -> Table:
    """The table for ``run_dirs``; ``not_run``: 'what: why' lines shown as rows that
    say the configuration was not run (never a number); ``unfinished``: run folders
    left out, listed under the table. Runs are numbered [1], [2], ... in the order
    given; the commands that made them follow the table. A run that cannot be read
    (metrics.json missing, cut short, or JSON of another shape: ``load_run``) is left
    out and named under the table (``left_out``); NotAFinishedRun when none can be."""
    runs, left_out = load_runs(run_dirs)
    names = databases(runs)
    theta_column = any(final_theta(run["metrics"]) is not None for run in runs)
    header = (["run", "config", "model", "preset", "data (samples)", "protocol", "selection",
               "UF1", "UAR", "acc"] + [f"{DATABASE_TITLES.get(d, d)} UF1 / UAR" for d in names])
    interval_column = len(header)
    header += [THETA_HEADER] * theta_column + ["epochs", "wall time", "device"]
    rows, shared = [], {}  # baseline key -> (its row, the numbers of the runs holding it)
    for number, (run, label) in enumerate(zip(runs, labels(runs)), 1):
        rows += run_rows(run, number, label, names, theta_column)
        baseline = _baseline(run["metrics"])
        if baseline:
            key = _baseline_key(run, baseline)
            if key not in shared:
                shared[key] = (_baseline_row(run, baseline, names, theta_column), [])
                rows.append(shared[key][0])
            shared[key][1].append(number)
    for row, numbers in shared.values():
        row.cells[0] = ", ".join(f"[{n}]" for n in numbers)
    for entry in not_run:
        what, _, why = entry.partition(":")
        cells = ["", "", what.strip(), "", "", "", f"not run: {why.strip()}"]
        rows.append(Row(cells + [""] * (len(header) - len(cells))))
    notes = [("Commands:", commands(runs))] if runs else []
    if unfinished:
        notes.append(("Not finished (config.json but no metrics.json), left out:",
                      [("", str(d)) for d in unfinished]))
    if left_out:
        notes.append((DAMAGED_HEADING, [(line,) for line in left_out]))
    return Table(header, rows, interval_column=interval_column, notes=notes, left_out=left_out)


def markdown(run_dirs: list, not_run: list = (), unfinished: list = ()) -> str:
    """``table`` as Markdown."""
    return to_markdown(table(run_dirs, not_run, unfinished))


def _interval_text(name: str, low, high, std) -> str:
    spread = "" if std is None else f", std {std:.4f}"
    return f"{name} [{low:.4f}, {high:.4f}]{spread}"


def _with_markers(t: Table) -> tuple[list, list, list]:
    """(header, cells per row, notes) with a column of markers (k) for the rows with
    intervals and, first under the table, line (k) of each one's intervals."""
    header, cells = list(t.header), [list(row.cells) for row in t.rows]
    if t.interval_column is None or not any(row.intervals for row in t.rows):
        return header, cells, t.notes
    header.insert(t.interval_column, INTERVAL_HEADER)
    footnotes = []
    for row, row_cells in zip(t.rows, cells):
        marker = f"({len(footnotes) + 1})" if row.intervals else ""
        row_cells.insert(t.interval_column, marker)
        if row.intervals:
            footnotes.append((f"{marker} " + "; ".join(_interval_text(*i)
                                                       for i in row.intervals),))
    return header, cells, [(INTERVALS_HEADING, footnotes)] + list(t.notes)


def _line(segments: tuple, text, code) -> str:
    """A line of text and code segments alternately, each escaped by its function."""
    return "".join((code if i % 2 else text)(s) for i, s in enumerate(segments))


def to_markdown(t: Table) -> str:
    header, cells, notes = _with_markers(t)

    def row(values):
        return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"

    lines = [_line(t.title, str, lambda s: f"`{s}`"), ""] if t.title else []
    lines += [row(header), "|" + "---|" * len(header)] + [row(c) for c in cells]
    for heading, note_lines in notes:
        lines += ["", heading] + ["- " + _line(n, str, lambda s: f"`{s}`") for n in note_lines]
    return "\n".join(lines) + "\n"


def to_csv(t: Table) -> str:
    """A header row and one row per table row; each interval's low and high end and
    the std over seeds as columns of their own, and the command that made the row."""
    names = list(dict.fromkeys(i[0] for row in t.rows for i in row.intervals))
    at = len(t.header) if t.interval_column is None else t.interval_column
    with_command = any(row.command for row in t.rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(t.header[:at] + [f"{n} {part}" for n in names
                                     for part in ("95% CI low", "95% CI high", "std over seeds")]
                    + t.header[at:] + ["command"] * with_command)
    for row in t.rows:
        values = {name: rest for name, *rest in row.intervals}
        extra = ["" if v is None else f"{v:.4f}" for n in names
                 for v in values.get(n, (None, None, None))]
        writer.writerow(row.cells[:at] + extra + row.cells[at:] + [row.command] * with_command)
    return buffer.getvalue()


_LATEX = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
          "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}",
          "±": r"$\pm$", "θ": r"$\theta$"}


def latex_escape(text: str) -> str:
    return re.sub("|".join(re.escape(c) for c in _LATEX), lambda m: _LATEX[m.group()], text)


def to_latex(t: Table) -> str:
    """A booktabs tabular (\\usepackage{booktabs}), the notes as paragraphs after it."""
    header, cells, notes = _with_markers(t)

    def code(s):
        return r"\texttt{" + latex_escape(s) + "}"

    def row(values):
        return " & ".join(latex_escape(v) for v in values) + r" \\"

    lines = [_line(t.title, latex_escape, code) + r"\par", ""] if t.title else []
    lines += [r"\begin{tabular}{" + "l" * len(header) + "}", r"\toprule", row(header),
              r"\midrule"] + [row(c) for c in cells] + [r"\bottomrule", r"\end{tabular}"]
    for heading, note_lines in notes:
        lines += ["", r"\smallskip", r"\noindent " + latex_escape(heading) + r"\par"]
        lines += [r"\noindent " + _line(n, latex_escape, code) + r"\par" for n in note_lines]
    return "\n".join(lines) + "\n"


def to_html(t: Table) -> str:
    """A standalone page: the title, the table, the notes as lists."""
    header, cells, notes = _with_markers(t)

    def code(s):
        return f"<code>{html.escape(s)}</code>"

    def row(tag, values):
        return "<tr>" + "".join(f"<{tag}>{html.escape(v)}</{tag}>" for v in values) + "</tr>"

    body = [f"<p>{_line(t.title, html.escape, code)}</p>"] if t.title else []
    body += ["<table>", "<thead>", row("th", header), "</thead>", "<tbody>"]
    body += [row("td", c) for c in cells] + ["</tbody>", "</table>"]
    for heading, note_lines in notes:
        body += [f"<p>{html.escape(heading)}</p>", "<ul>"]
        body += [f"<li>{_line(n, html.escape, code)}</li>" for n in note_lines] + ["</ul>"]
    style = ("table{border-collapse:collapse}th,td{border:1px solid #bbb;padding:2px 6px;"
             "text-align:left}body{font-family:sans-serif}")
    return "\n".join(["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
                      "<title>Results</title>", f"<style>{style}</style>", "</head>", "<body>"]
                     + body + ["</body>", "</html>"]) + "\n"


RENDERERS = {".md": to_markdown, ".csv": to_csv, ".tex": to_latex, ".html": to_html}


def renderer(path):
    """The renderer of ``path``'s suffix (Markdown without a path); ReportError for
    any other suffix."""
    if path is None:
        return to_markdown
    suffix = pathlib.Path(path).suffix.lower()
    if suffix not in RENDERERS:
        raise ReportError(f"--out={path}: unknown format {suffix or '(no suffix)'!r}; use one "
                          f"of {', '.join(RENDERERS)}")
    return RENDERERS[suffix]
