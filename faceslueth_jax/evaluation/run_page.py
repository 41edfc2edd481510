"""``WORKDIR/index.html``: one self-contained page per run (figures embedded as data
URIs, no scripts, no outside requests): the headline with its intervals and the
OPTIMISTIC rule beside it, per database, the worst subjects first, per class, the
curves, theta, the confusion matrices, the config and the command that reproduces
the run. Everything on it is read from the run's files."""

from __future__ import annotations

import base64
import csv
import html
import json
import pathlib

from faceslueth_jax import atomic_files
from faceslueth_jax.evaluation import run_files, seed_scores

FILE = "index.html"
STYLE = """
body { font: 14px/1.45 "DejaVu Sans", Helvetica, Arial, sans-serif; color: #222;
       max-width: 1100px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.35em; } h2 { font-size: 1.1em; margin-top: 2em;
     border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { padding: .2em .7em; border-bottom: 1px solid #eee; text-align: right; }
th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
tr.optimistic td { color: #a33; } .note { color: #555; font-size: .92em; }
.warning { background: #fff3e0; border-left: 4px solid #e69f00; padding: .4em .8em; }
figure { display: inline-block; margin: .5em 1em .5em 0; vertical-align: top; }
figure img { max-width: 520px; } pre { background: #f7f7f7; padding: .7em; overflow-x: auto; }
.scroll { max-height: 28em; max-width: 100%; overflow: auto; display: inline-block; }
"""


def _table(header, rows, row_class=None) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{row_class(i, row)}"' if row_class and row_class(i, row) else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row)
                    + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _interval(result: dict, metric: str) -> str:
    return seed_scores.uncertainty_text(result.get("seeds"), metric).strip()


def _score_rows(metrics: dict) -> list:
    results = [metrics["headline"], *metrics.get("other_selections", {}).values()]
    results += list(metrics.get("seed_ensembles", {}).values())
    rows = [[run_files.result_label(r), f"{r['uf1']:.4f}", _interval(r, "uf1"),
             f"{r['uar']:.4f}", _interval(r, "uar"), f"{r['accuracy']:.4f}"] for r in results]
    base = metrics.get("logistic_regression_baseline")
    if base:
        rows.append([run_files.baseline_label(base) + " (baseline)", f"{base['uf1']:.4f}",
                     _interval(base, "uf1"), f"{base['uar']:.4f}", _interval(base, "uar"),
                     f"{base['accuracy']:.4f}"])
    return rows


def _csv(path: pathlib.Path) -> tuple[list, list]:
    if not path.is_file():
        return [], []
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return (rows[0], rows[1:]) if rows else ([], [])


def _image(path: pathlib.Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    name = html.escape(path.stem.replace("_", " "))
    return (f'<figure><img alt="{name}" src="data:image/png;base64,{data}">'
            f"<figcaption>{name} (<code>{html.escape(path.stem)}.pdf</code>)</figcaption></figure>")


def page(workdir, metrics: dict, figures: list) -> str:
    """The page's HTML."""
    workdir = pathlib.Path(workdir)
    parts = [f"<h1>{html.escape(metrics.get('title', metrics['model']))}</h1>",
             f"<p class='note'>{html.escape(metrics.get('note', ''))}</p>"]
    for warning in (metrics.get("au_leak_note"),
                    "diverged folds: " + ", ".join(metrics["diverged_folds"])
                    if metrics.get("diverged_folds") else None):
        if warning:
            parts.append(f"<p class='warning'>{html.escape(warning)}</p>")
    if "headline" in metrics:
        several = run_files.several_seeds(
            [metrics["headline"], *metrics.get("other_selections", {}).values(),
             *metrics.get("seed_ensembles", {}).values(),
             metrics.get("logistic_regression_baseline")])
        spread = (("± std over seeds [95% subject-bootstrap CI]", "± std [95% CI]") if several
                  else ("[95% subject-bootstrap CI]", "[95% CI]"))
        parts += ["<h2>Scores, pooled over every fold</h2>", _table(
            ["selection", "UF1", spread[0], "UAR", spread[1], "accuracy"], _score_rows(metrics),
            lambda i, row: "optimistic" if "OPTIMISTIC" in row[0] else ""),
            f"<p class='note'>{html.escape(run_files.OPTIMISTIC_NOTE)}</p>"]
        groups = metrics["headline"].get("per_group")
        if groups:
            parts += [f"<h2>Per database ({html.escape(run_files.result_label(metrics['headline']))})</h2>",
                      _table(["database", "samples", "UF1", "UAR", "accuracy"],
                             [[name, g["num_samples"], f"{g['uf1']:.4f}", f"{g['uar']:.4f}",
                               f"{g['accuracy']:.4f}"] for name, g in groups.items()])]
        header, rows = _csv(workdir / "per_subject.csv")
        if rows:
            rule = metrics["selection"]
            mine = [r for r in rows if r[3] == rule]
            last = mine[-1][5] if mine else ""
            mine = sorted((r for r in mine if r[5] == last), key=lambda r: float(r[7] or 0))
            parts += [f"<h2>Per subject, worst first ({html.escape(rule)}, {html.escape(last)}; "
                      "every rule: <code>per_subject.csv</code>)</h2>",
                      "<div class='scroll'>" + _table(
                          ["subject", "database", "samples", "correct", "accuracy", "UF1"],
                          [[r[0], r[1], r[2], r[6], r[7], r[8]] for r in mine]) + "</div>"]
        header, rows = _csv(workdir / "per_class.csv")
        if rows:
            rule = metrics["selection"]
            mine = [r for r in rows if r[0] == rule]
            last = mine[-1][2] if mine else ""
            parts += [f"<h2>Per class ({html.escape(rule)}, {html.escape(last)}; "
                      "every rule: <code>per_class.csv</code>)</h2>",
                      _table(["scope", "class", "precision", "recall", "F1", "support",
                              "predicted"], [r[3:] for r in mine if r[2] == last])]
    if figures:
        parts += ["<h2>Figures</h2>"] + [_image(pathlib.Path(f)) for f in figures]
    header, rows = _csv(workdir / "curves.csv")
    if rows:
        parts += ["<h2>Per epoch (<code>curves.csv</code>)</h2>",
                  "<p class='note'>learning_curve_*: pooled test scores with every fold at "
                  "that epoch, a diagnostic; choosing the best of them would be the "
                  "optimistic rule.</p>", "<div class='scroll'>" + _table(header, rows) + "</div>"]
    parts += ["<h2>Reproduce</h2>", f"<pre>{html.escape(metrics.get('command', ''))}</pre>"]
    config = workdir / "config.json"
    if config.is_file():
        parts += ["<h2>Config</h2>",
                  f"<pre>{html.escape(json.dumps(json.loads(config.read_text()), indent=2))}</pre>"]
    if metrics.get("summary_text"):
        parts += ["<h2>summary.txt</h2>", f"<pre>{html.escape(metrics['summary_text'])}</pre>"]
    title = html.escape(metrics.get("title", metrics["model"]))
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>{title}</title><style>{STYLE}</style></head><body>\n"
            + "\n".join(parts) + "\n</body></html>\n")


def write(workdir, metrics: dict, figures: list) -> pathlib.Path:
    return atomic_files.write_text(pathlib.Path(workdir) / FILE, page(workdir, metrics, figures))
