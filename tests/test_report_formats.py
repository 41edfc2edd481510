"""The report command beyond the table's columns, on run folders written by hand:
run labels from what differs, one shared baseline row, intervals under the table,
OPTIMISTIC in --compare, the four --out formats, folders of runs, a run trained
on every sample, and every error as one line with exit status 2."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest

from faceslueth_jax.evaluation import paired, results_table
from tests.conftest import REPO
from tests.test_results_table import _result, _table, _write_run


def _config(name, soa="steerable", data_dir="~/tensorflow_datasets", preset="compact"):
    return {"name": name, "seed": 0,
            "data": {"name": "synthetic_me", "data_dir": data_dir, "manual_dir": "",
                     "manual_dirs": {"samm": data_dir}},
            "model": {"name": "faceslueth_r", "preset": preset,
                      "faceslueth_r": {"motion": {"soa_mode": soa}, "au_dim": 0}},
            "checkpoint": {"every_epochs": 5}, "train": {"epochs": 2}}


def _report(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "faceslueth_jax.evaluation.report",
                           *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def _uncertainty(low, high, std=None, seeds=1):
    entry = dict(ci95=[low, high], std=std or 0.0)
    return dict(uf1=entry, uar=dict(entry, ci95=[low - 0.1, high - 0.1]), num_seeds=seeds)


def test_runs_are_labelled_by_what_differs(tmp_path):
    full = _write_run(tmp_path / "full", config=_config("loso_synthetic"))
    no_soa = _write_run(tmp_path / "no_soa",
                        config=_config("loso_synthetic", soa="none", data_dir="/elsewhere"))
    rows = _table(results_table.markdown([full, no_soa]))
    assert rows[0]["config"] == "loso_synthetic model.faceslueth_r.motion.soa_mode=steerable"
    assert rows[2]["config"] == "loso_synthetic model.faceslueth_r.motion.soa_mode=none"
    # a single run: its config name only; metrics.json's config_name comes first
    assert _table(results_table.markdown([no_soa]))[0]["config"] == "loso_synthetic"
    named = _write_run(tmp_path / "named", config=_config("x"), config_name="loso_x")
    assert _table(results_table.markdown([named]))[0]["config"] == "loso_x"


def test_other_configs_show_their_overrides_only(tmp_path):
    base = _write_run(tmp_path / "a", config=_config("loso_synthetic"))
    other = _config("loso_casme2", soa="none")
    other["data"]["name"], other["train"]["epochs"] = "casme2", 99
    casme2 = _write_run(tmp_path / "b", config=other, command="python run.py --config=configs/"
                        "loso_casme2.py --config.model.faceslueth_r.motion.soa_mode=none")
    paper = _write_run(tmp_path / "c", config=_config("loso_synthetic", preset="paper"),
                       preset="paper")
    labels = [r["config"] for r in _table(results_table.markdown([base, casme2, paper]))][::2]
    assert labels == ["loso_synthetic", "loso_casme2 model.faceslueth_r.motion.soa_mode=none",
                      "loso_synthetic"]


def test_one_baseline_row_for_runs_sharing_it(tmp_path):
    baseline = dict(uf1=0.3, uar=0.35, accuracy=0.45, fit={"tuning": "inner_cv"})
    a = _write_run(tmp_path / "a", baseline=baseline)
    b = _write_run(tmp_path / "b", baseline=baseline)
    c = _write_run(tmp_path / "c", baseline=dict(baseline, uf1=0.2))
    rows = _table(results_table.markdown([a, b, c]))
    lr = [r for r in rows if r["model"].startswith(results_table.BASELINE_MODEL)]
    assert [r["run"] for r in lr] == ["[1], [2]", "[3]"]
    assert [r["UF1"] for r in lr] == ["0.3000", "0.2000"]
    assert [r["run"] for r in rows] == ["[1]", "[1]", "[1], [2]", "[2]", "[2]", "[3]", "[3]",
                                        "[3]"]


def test_intervals_sit_under_the_table(tmp_path):
    per_group = {"casme2": dict(uf1=0.5, uar=0.55, accuracy=0.6)}
    headline = _result("last_epoch", 0.5, 0.4, 0.6, per_group)
    headline["seeds"] = dict(_uncertainty(0.45, 0.55, std=0.01, seeds=2), seed_values=[0, 1],
                             per_group={"casme2": _uncertainty(0.4, 0.6)})
    text = results_table.markdown([_write_run(tmp_path / "a", headline=headline)])
    rows = _table(text)
    assert (rows[0]["UF1"], rows[0]["UAR"]) == ("0.5000", "0.4000")
    assert rows[0]["CASME II UF1 / UAR"] == "0.5000 / 0.5500"
    assert rows[0]["selection"] == "last epoch, seeds 0,1"
    assert (rows[0]["CI"], rows[1]["CI"]) == ("(1)", "")  # no intervals in that result
    assert ("- (1) UF1 [0.4500, 0.5500], std 0.0100; UAR [0.3500, 0.4500], std 0.0100; "
            "CASME II UF1 [0.4000, 0.6000]; CASME II UAR [0.3000, 0.5000]") in text.splitlines()
    assert all("[" not in cell for row in rows for k, cell in row.items() if k != "run")


def _probabilities(path, predictions: list):
    """probabilities.npz of a one-seed run with these predicted classes under both rules."""
    labels = np.array([0, 1, 2, 0, 1, 2])
    probs = np.eye(3)[np.asarray(predictions)][None]
    np.savez(path / "probabilities.npz", sample_id=np.array([f"s{i}" for i in range(6)]),
             label=labels, subject=np.array(["d/a", "d/a", "d/b", "d/b", "d/c", "d/c"]),
             class_names=np.array(["x", "y", "z"]), seeds=np.array([0]),
             probs_last_epoch=probs, probs_best_test_epoch=probs)


def test_compare_marks_the_optimistic_rule(tmp_path):
    a, b = _write_run(tmp_path / "a"), _write_run(tmp_path / "b")
    _probabilities(a, [0, 1, 2, 0, 1, 2])
    _probabilities(b, [0, 0, 0, 0, 0, 0])
    rows = _table(paired.markdown(a, b))
    assert [r["selection"] for r in rows] == ["last epoch"] * 2 + [
        "best test epoch (OPTIMISTIC)"] * 2
    proc = _report("--compare", a, b, f"--out={tmp_path / 'pair.csv'}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    written = list(csv.DictReader(io.StringIO((tmp_path / "pair.csv").read_text())))
    assert written[2]["selection"] == "best test epoch (OPTIMISTIC)" and written[0]["A"] == "1.0000"


def test_two_runs_that_predict_alike_are_compared(tmp_path):
    """A second run of the same config may predict exactly as the first: that is a
    result (A - B = 0), not a mistake, so only one run under two paths is refused."""
    a = _write_run(tmp_path / "a", wall_seconds=120.0)
    b = _write_run(tmp_path / "b", wall_seconds=131.5)  # its own timings
    for run in (a, b):
        _probabilities(run, [0, 1, 2, 0, 0, 2])
    assert paired.same_run(a, b) is None
    proc = _report("--compare", a, b)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = _table(proc.stdout)
    assert {r["A - B"] for r in rows} == {"+0.0000"} and {r["beyond noise"] for r in rows} == {"no"}


def _two_runs(tmp_path):
    headline = _result("last_epoch", 0.5, 0.4, 0.6)
    headline["seeds"] = dict(_uncertainty(0.45, 0.55), seed_values=[0])
    a = _write_run(tmp_path / "runs" / "a_b", headline=headline, config=_config("loso_syn_x"),
                   baseline=dict(uf1=0.3, uar=0.35, accuracy=0.45), command="python run.py "
                   "--config=configs/loso_synthetic.py --workdir=runs/a_b#1 & 50%")
    b = _write_run(tmp_path / "runs" / "b", config=_config("loso_syn_x", soa="none"))
    return a, b


@pytest.mark.parametrize("suffix", [".md", ".csv", ".tex", ".html"])
def test_out_writes_the_format_its_suffix_names(tmp_path, suffix):
    a, b = _two_runs(tmp_path)
    out = tmp_path / f"table{suffix}"
    proc = _report(a, b, f"--out={out}")
    assert proc.returncode == 0 and not proc.stdout, proc.stderr[-2000:]
    text = out.read_text()
    t = results_table.table([a, b])
    if suffix == ".md":
        assert text == results_table.to_markdown(t) and text.startswith("| run | config |")
    elif suffix == ".csv":
        rows = list(csv.reader(io.StringIO(text)))
        header, body = rows[0], rows[1:]
        assert len(body) == len(t.rows) == 5 and all(len(r) == len(header) for r in body)
        row = dict(zip(header, body[0]))
        assert (row["UF1"], row["UF1 95% CI low"], row["UF1 95% CI high"]) == (
            "0.5000", "0.4500", "0.5500")
        assert row["UAR 95% CI low"] == "0.3500" and row["UF1 std over seeds"] == ""
        assert row["config"] == "loso_syn_x model.faceslueth_r.motion.soa_mode=steerable"
        assert row["command"].endswith("runs/a_b#1 & 50%") and "CI" not in header
    elif suffix == ".tex":
        assert "\\begin{tabular}" in text and "\\end{tabular}" in text
        assert all(rule in text for rule in ("\\toprule", "\\midrule", "\\bottomrule"))
        assert "loso\\_syn\\_x model.faceslueth\\_r.motion.soa\\_mode=none" in text
        assert "runs/a\\_b\\#1 \\& 50\\%" in text
        body = text.split("\\midrule")[1].split("\\bottomrule")[0]
        assert body.count("\\\\") == 5 and "loso_syn" not in text
    else:
        assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
        assert text.count("<table>") == 1 and text.count("<tr>") == 6
        assert "runs/a_b#1 &amp; 50%" in text and "<th>config</th>" in text


def test_a_folder_stands_for_the_runs_below_it(tmp_path):
    b = _write_run(tmp_path / "runs" / "z" / "deep")
    a = _write_run(tmp_path / "runs" / "a")
    (tmp_path / "runs" / "m").mkdir()
    (tmp_path / "runs" / "m" / "config.json").write_text("{}")  # still training
    assert results_table.find_runs([tmp_path / "runs"]) == ([a, b], [tmp_path / "runs" / "m"])
    proc = _report(tmp_path / "runs")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [r["run"] for r in _table(proc.stdout)] == ["[1]"] * 2 + ["[2]"] * 2
    lines = proc.stdout.splitlines()
    assert lines[lines.index("Not finished (config.json but no metrics.json), left out:")
                 + 1] == f"- `{tmp_path / 'runs' / 'm'}`"


def test_a_run_trained_on_every_sample_is_a_row_of_its_own(tmp_path):
    run = tmp_path / "all"
    run.mkdir()
    metrics = {"config_name": "loso_synthetic", "model": "FaceSleuth-R", "preset": "compact",
               "protocol": "all", "note": "trained on every sample", "seeds": [0],
               "num_samples": 194, "epochs": 30, "wall_seconds": 600.0,
               "execution": {"platform": "cpu", "host_cpus": 2}, "command": "python run.py"}
    (run / "metrics.json").write_text(json.dumps(metrics))
    (run / "config.json").write_text(json.dumps({"data": {"name": "synthetic_me"}}))
    tested = _write_run(tmp_path / "loso")
    rows = _table(results_table.markdown([tested, run]))
    row = rows[-1]
    assert row["selection"] == "trained on all 194 samples, no test samples: no scores"
    assert (row["run"], row["model"], row["data (samples)"], row["protocol"]) == (
        "[2]", "FaceSleuth-R", "synthetic (194)", "ALL")
    assert (row["epochs"], row["wall time"], row["UF1"]) == ("30", "10.0 min", "")
    assert "CI" not in row  # no row has intervals


def _unreadable(tmp_path):
    run = _write_run(tmp_path / "bad")
    (run / "metrics.json").write_text("{not json")
    return [run]


def _not_comparable(tmp_path):
    return ["--compare", _write_run(tmp_path / "a"), _write_run(tmp_path / "b")]


def _one_run_twice(tmp_path):
    run = _write_run(tmp_path / "a")
    _probabilities(run, [0, 1, 2, 0, 1, 2])
    (tmp_path / "link").symlink_to(run, target_is_directory=True)
    return ["--compare", run, tmp_path / "link"]  # the same folder through a link


def _a_run_and_its_copy(tmp_path):
    import shutil
    run = _write_run(tmp_path / "a")
    _probabilities(run, [0, 1, 2, 0, 1, 2])
    return ["--compare", run, shutil.copytree(run, tmp_path / "copy_of_a")]


ERRORS = {
    "one run twice": (_one_run_twice, "are the same run folder"),
    "a run and its copy": (_a_run_and_its_copy, "are copies of one run"),
    "not a finished run": (lambda p: [p / "missing"], "no metrics.json"),
    "unreadable JSON": (_unreadable, "unreadable JSON"),
    "no runs under a folder": (lambda p: [(p / "empty").mkdir() or p / "empty"],
                               "no metrics.json in it or in any folder below it"),
    "bad --out suffix": (lambda p: [_write_run(p / "a"), f"--out={p / 'table.txt'}"],
                         "unknown format '.txt'"),
    "not comparable": (_not_comparable, "probabilities.npz: missing"),
    "compare of three": (lambda p: ["--compare"] + [_write_run(p / n) for n in "abc"],
                         "exactly two runs; got 3"),
    "no run directory": (lambda p: [], "give one or more run directories"),
    "unknown flag": (lambda p: [_write_run(p / "a"), "--colour=red"], "colour"),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_every_error_is_one_line_and_exit_2(tmp_path, case):
    make, expected = ERRORS[case]
    args = make(tmp_path)
    out = tmp_path / "table.md"
    if not any(str(a).startswith("--out=") for a in args):
        args.append(f"--out={out}")
    proc = _report(*args)
    assert proc.returncode == 2, (proc.stdout + proc.stderr)[-2000:]
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], lines
    assert not proc.stdout and not out.exists() and not (tmp_path / "table.txt").exists()


def _per_subject(run, rule="last_epoch"):
    """A one-subject per_subject.csv (subject, database, samples, rule, seed, aggregate,
    correct, accuracy)."""
    (run / "per_subject.csv").write_text(
        "subject,database,samples,selection,seed,aggregate,correct,accuracy\n"
        f"sub01,casme2,4,{rule},0,seed 0,2,0.5000\n")


def _damaged_runs(tmp_path) -> tuple:
    """(a healthy run, {damaged run: what its line must say}): metrics.json cut to its
    first 100 bytes, missing, [] , {}, and a headline that is no result."""
    healthy = _write_run(tmp_path / "runs" / "healthy")
    _per_subject(healthy)
    damaged = {}
    truncated = _write_run(tmp_path / "runs" / "truncated")
    (truncated / "metrics.json").write_text((truncated / "metrics.json").read_text()[:100])
    _per_subject(truncated)
    damaged[truncated] = f"{truncated / 'metrics.json'}: unreadable JSON ("
    missing = _write_run(tmp_path / "runs" / "missing")
    (missing / "metrics.json").unlink()
    damaged[missing] = f"{missing}: no metrics.json"
    for name, content, why in (("list", "[]", "not a JSON object"),
                               ("empty", "{}", "no 'headline' field")):
        run = _write_run(tmp_path / "runs" / name)
        (run / "metrics.json").write_text(content)
        damaged[run] = f"{run / 'metrics.json'}: {why}"
    shapeless = _write_run(tmp_path / "runs" / "shapeless", headline=["last_epoch", 0.5])
    damaged[shapeless] = f"{shapeless / 'metrics.json'}: not as run.py writes it ("
    return healthy, damaged


def test_damaged_runs_are_named_and_the_healthy_ones_tabled(tmp_path):
    """One truncated metrics.json (or a missing one, or JSON of another shape) among
    several runs: the others are tabled, exit 0, and each damaged run is named with
    why, on one line of stderr and under the table."""
    healthy, damaged = _damaged_runs(tmp_path)
    proc = _report(healthy, *damaged)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert [r["run"] for r in _table(proc.stdout)] == ["[1]", "[1]"]
    warnings = proc.stderr.splitlines()
    assert len(warnings) == len(damaged), warnings
    for line, (run, why) in zip(warnings, damaged.items()):
        assert line.startswith(f"warning: left out {why}"), (line, why)
    lines = proc.stdout.splitlines()
    heading = lines.index(results_table.DAMAGED_HEADING)
    for line, why in zip(lines[heading + 1:], damaged.values()):
        assert line.startswith(f"- {why}"), (line, why)
    assert f"worst subjects of [1] (last_epoch; {healthy / 'per_subject.csv'}):" in lines
    assert "truncated" not in "".join(lines[heading + len(damaged) + 1:])

    out = tmp_path / "table.html"
    proc = _report(healthy, *damaged, f"--out={out}")
    assert proc.returncode == 0 and len(proc.stderr.splitlines()) == len(damaged), proc.stderr
    assert all(f"<li>{why}" in out.read_text().replace("&#x27;", "'")
               for why in damaged.values())


def test_a_folder_of_runs_with_a_damaged_one_tables_the_rest(tmp_path):
    healthy, damaged = _damaged_runs(tmp_path)
    proc = _report(tmp_path / "runs")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [r["run"] for r in _table(proc.stdout)] == ["[1]", "[1]"]
    named = [run for run in damaged if run.name != "missing"]  # unfinished: listed as such
    assert len(proc.stderr.splitlines()) == len(named), proc.stderr
    assert all(damaged[run] in proc.stderr for run in named)


def test_no_readable_run_is_one_line_naming_each(tmp_path):
    _, damaged = _damaged_runs(tmp_path)
    out = tmp_path / "table.md"
    proc = _report(*damaged, f"--out={out}")
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"error: none of the {len(damaged)} runs can be tabled: "), lines
    assert all(why in lines[0] for why in damaged.values()), lines[0]
    assert not proc.stdout and not out.exists()
