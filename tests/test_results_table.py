"""The results table of finished runs, from metrics.json / config.json files
written by hand: columns, the logistic-regression baseline row, run numbers tied
to the commands, and the circular-mean theta column (new and old metrics.json).
Labels, formats, folders and errors: tests/test_report_formats.py."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from faceslueth_jax.evaluation import results_table
from tests.conftest import REPO


def _result(selection, uf1, uar, accuracy, per_group=None):
    result = dict(selection=selection, optimistic=selection == "best_test_epoch", uf1=uf1,
                  uar=uar, accuracy=accuracy)
    if per_group:
        result["per_group"] = per_group
    return result


def _scores(uf1, uar, accuracy=0.5):
    return dict(uf1=uf1, uar=uar, accuracy=accuracy)


def _write_run(path, *, command="python run.py --config=configs/loso_synthetic.py",
               baseline=None, theta=None, model="FaceSleuth-R", data="synthetic_me",
               headline=None, other=None, config=None, **fields):
    """A finished run's directory: metrics.json (``fields`` added to it or replacing
    its own) and config.json (``config``, else just data.name)."""
    path.mkdir(parents=True)
    metrics = {
        "model": model, "preset": "compact", "protocol": "loso", "selection": "last_epoch",
        "headline": headline or _result("last_epoch", 0.5, 0.4, 0.6),
        "other_selections": {"best_test_epoch": other or _result("best_test_epoch", 0.7, 0.65,
                                                                 0.8)},
        "logistic_regression_baseline": baseline, "final_theta_deg": theta,
        "num_samples": 12, "epochs": 2, "wall_seconds": 120.0,
        "execution": {"platform": "cpu", "host_cpus": 2, "device": "cpu", "num_devices": 1},
        "command": command, **fields,
    }
    (path / "metrics.json").write_text(json.dumps(metrics))
    (path / "config.json").write_text(json.dumps(config or {"data": {"name": data}}))
    return path


def _table(markdown: str) -> list:
    """The table's rows as dicts keyed by the header."""
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    split = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    header = split[0]
    assert all(len(cells) == len(header) for cells in split[2:]), "ragged table"
    return [dict(zip(header, cells)) for cells in split[2:]]


def test_accuracy_column_and_a_baseline_row(tmp_path):
    baseline = dict(uf1=0.3, uar=0.35, accuracy=0.45, per_group={})
    run = _write_run(tmp_path / "a", baseline=baseline)
    rows = _table(results_table.markdown([run]))
    assert [r["selection"] for r in rows] == ["last epoch", "best test epoch (OPTIMISTIC)",
                                             "fixed (no epochs)"]
    assert [r["acc"] for r in rows] == ["0.6000", "0.8000", "0.4500"]
    lr = rows[2]
    assert lr["model"] == "logistic regression (baseline)"
    assert (lr["UF1"], lr["UAR"], lr["protocol"]) == ("0.3000", "0.3500", "LOSO")
    assert lr["data (samples)"] == rows[0]["data (samples)"] == "synthetic (12)"
    assert lr["run"] == rows[0]["run"] == "[1]"


def test_baseline_row_per_database(tmp_path):
    per_group = {"casme2": _scores(0.5, 0.55), "samm": _scores(0.25, 0.3)}
    headline = _result("last_epoch", 0.5, 0.4, 0.6, per_group)
    baseline = dict(uf1=0.3, uar=0.35, accuracy=0.45,
                    per_group={"casme2": _scores(0.1, 0.2), "samm": _scores(0.3, 0.4)})
    run = _write_run(tmp_path / "a", baseline=baseline, headline=headline)
    rows = _table(results_table.markdown([run]))
    assert rows[0]["CASME II UF1 / UAR"] == "0.5000 / 0.5500"
    assert rows[1]["CASME II UF1 / UAR"] == ""  # no per-database scores in that result
    assert rows[2]["CASME II UF1 / UAR"] == "0.1000 / 0.2000"
    assert rows[2]["SAMM UF1 / UAR"] == "0.3000 / 0.4000"


def test_no_baseline_row_without_a_baseline(tmp_path):
    rows = _table(results_table.markdown([_write_run(tmp_path / "a")]))
    assert len(rows) == 2 and "logistic regression (baseline)" not in [r["model"] for r in rows]


def test_each_row_names_the_command_that_made_it(tmp_path):
    a = _write_run(tmp_path / "a", command="python run.py --config=A",
                   baseline=dict(uf1=0.3, uar=0.35, accuracy=0.45))
    b = _write_run(tmp_path / "b", command="python run.py --config=B")
    c = _write_run(tmp_path / "c", command=None)
    text = results_table.markdown([a, b, c])
    rows = _table(text)
    assert [r["run"] for r in rows] == ["[1]"] * 3 + ["[2]"] * 2 + ["[3]"] * 2
    lines = text.splitlines()
    assert "- [1] `python run.py --config=A`" in lines
    assert "- [2] `python run.py --config=B`" in lines
    assert any(line.startswith("- [3] ") and "no command recorded" in line and str(c) in line
               for line in lines)


def test_not_run_rows_fill_every_column(tmp_path):
    text = results_table.markdown([_write_run(tmp_path / "a")],
                                  ["FaceSleuth-R paper, LOSO: no GPU"])
    rows = _table(text)  # asserts the table is not ragged
    assert rows[-1]["model"] == "FaceSleuth-R paper, LOSO"
    assert rows[-1]["selection"] == "not run: no GPU" and rows[-1]["UF1"] == ""
    assert "| FaceSleuth-R paper, LOSO |" in text


THETA_HEADER = "θ per SOA layer (circ. mean ± spread)"


def test_theta_column_from_the_circular_summary(tmp_path):
    theta = {"per_fold": {"s1": [2.0, 80.0], "s2": [178.0, 100.0]},
             "circular_mean": [179.99999999, 90.0], "circular_spread": [2.0025, 10.1044],
             "resultant_length": [0.9976, 0.9397]}
    run = _write_run(tmp_path / "a", theta=theta, baseline=dict(uf1=0.3, uar=0.35, accuracy=0.4))
    rows = _table(results_table.markdown([run]))
    assert rows[0][THETA_HEADER] == "0.0 ± 2.0; 90.0 ± 10.1"  # the last-epoch row
    assert rows[1][THETA_HEADER] == "" and rows[2][THETA_HEADER] == ""


def test_theta_column_of_axes_without_a_mean_direction(tmp_path):
    theta = {"per_fold": {"s1": [0.0, 88.0], "s2": [90.0, 88.0]}, "circular_mean": [None, 88.0],
             "circular_spread": [None, 0.0], "resultant_length": [0.0, 1.0]}
    rows = _table(results_table.markdown([_write_run(tmp_path / "a", theta=theta)]))
    assert rows[0][THETA_HEADER] == "no mean direction (R = 0); 88.0 ± 0.0"


def test_theta_column_from_an_old_metrics_file(tmp_path):
    # before the circular statistics: per_fold as (F, L) lists and an arithmetic mean
    theta = {"per_fold": [[2.0, 80.0], [178.0, 100.0]], "mean": [90.0, 90.0]}
    rows = _table(results_table.markdown([_write_run(tmp_path / "a", theta=theta)]))
    assert rows[0][THETA_HEADER] == "0.0 ± 2.0; 90.0 ± 10.1"  # recomputed, not the mean 90


def test_theta_column_blank_for_models_without_soa_and_absent_without_any(tmp_path):
    theta = {"per_fold": {"s1": [88.0]}, "circular_mean": [88.0], "circular_spread": [0.0],
             "resultant_length": [1.0]}
    soa = _write_run(tmp_path / "a", theta=theta)
    htnet = _write_run(tmp_path / "b", model="HTNet")
    rows = _table(results_table.markdown([soa, htnet]))
    assert rows[0][THETA_HEADER] == "88.0 ± 0.0" and rows[2][THETA_HEADER] == ""
    assert THETA_HEADER not in results_table.markdown([htnet])


def test_report_cli_writes_the_table(tmp_path):
    run = _write_run(tmp_path / "a", baseline=dict(uf1=0.3, uar=0.35, accuracy=0.45))
    out = tmp_path / "table.md"
    proc = subprocess.run([sys.executable, "-m", "faceslueth_jax.evaluation.report", str(run),
                           f"--out={out}"], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert out.read_text() == results_table.markdown([run])
    assert "| [1] |  | logistic regression (baseline) |" in out.read_text()


@pytest.mark.parametrize("missing", ["headline", "wall_seconds"])
def test_a_file_missing_a_field_is_named(tmp_path, missing):
    run = _write_run(tmp_path / "a")
    metrics = json.loads((run / "metrics.json").read_text())
    del metrics[missing]
    (run / "metrics.json").write_text(json.dumps(metrics))
    with pytest.raises(results_table.NotAFinishedRun, match=f"no '{missing}' field"):
        results_table.markdown([run])
