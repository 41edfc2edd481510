r"""The results table of finished runs, as Markdown, CSV, LaTeX or HTML.

  python -m faceslueth_jax.evaluation.report RUN_DIR... [--out=results.md]
      [--not_run="FaceSleuth-R paper, LOSO: no GPU was available"]

One row per run and selection rule, one for each distinct logistic-regression
baseline, and one per run trained on every sample (no scores)
(``evaluation/results_table.py``): run number [n], the config name and the fields
that tell the runs apart, model, preset, data, protocol, selection, UF1 / UAR /
accuracy pooled, UF1 / UAR per database, a marker (k) of the row's intervals, the
learned SOA angles (circular mean ± spread over folds), epochs, wall time,
device; under the table the intervals, line (k) per row, and the command that
made each run, as '[n] python run.py ...'. A RUN_DIR that is not itself a run
stands for every run below it (``runs/``). ``--out`` writes the table atomically
in the format its suffix names: .md, .csv (intervals and command as columns),
.tex (a booktabs tabular) or .html (a standalone page); without it the table is
printed as Markdown. Then, for every run with a per_subject.csv, its five worst
subjects (lowest accuracy under the run's headline rule) are printed.

  python -m faceslueth_jax.evaluation.report --compare RUN_A RUN_B

compares two runs of the same samples, folds and seeds pair-wise: A - B of the
seed-mean UF1 / UAR per selection rule (best test epoch marked OPTIMISTIC), with
a paired subject-bootstrap 95% interval, and whether the difference exceeds it
(``evaluation/paired.py``); ``--out`` writes it in the same formats. Two paths of
one run (the same folder, or a byte-for-byte copy of it) are refused.

A run that cannot be read (its metrics.json missing, cut short, or JSON of another
shape than run.py writes) is left out of the table and named with why, on one
line 'warning: left out FILE: why' on stderr and under the table; the other runs
are tabled and the exit status is 0. When none of the runs given can be read, that
is an error.

Every error (a folder with no finished run, no readable run, runs that cannot be
compared, an unknown --out suffix, a bad flag) is one line 'error: ...' on
stderr, exit status 2, and nothing is written.
"""

from __future__ import annotations

import csv
import pathlib
import sys

from absl import app, flags

from faceslueth_jax import atomic_files, cli
from faceslueth_jax.evaluation import breakdowns, paired, results_table

flags.declare_key_flag("out")  # the table goes here instead of to stdout
_COMPARE = flags.DEFINE_bool("compare", False, "compare two runs pair-wise (A - B)")
_RULES = flags.DEFINE_string(
    "rules", None, "with --compare: 'RULE_A:RULE_B' pairs run A's RULE_A with run B's "
    "RULE_B; given one run, two of its rules (e.g. nested:last_epoch)")
_NOT_RUN = flags.DEFINE_multi_string(
    "not_run", [], "'WHAT: WHY' for a configuration that was not run; shown as a row "
    "without numbers")


def report(paths: list) -> tuple[str, list]:
    """(the text to write for the command line's RUN_DIRs, in --out's format, the runs
    left out as 'FILE: why' lines)."""
    render = results_table.renderer(cli.OUT.value)
    if not paths:
        raise results_table.ReportError("give one or more run directories (each with "
                                        "metrics.json), or a folder of them")
    run_dirs, unfinished = results_table.find_runs(paths)
    if not _COMPARE.value:
        t = results_table.table(run_dirs, _NOT_RUN.value, unfinished)
        return render(t), t.left_out
    rules = None
    if _RULES.value is not None:
        rules = tuple(_RULES.value.split(":"))
        if len(rules) != 2 or not all(rules):
            raise results_table.ReportError(f"--rules takes 'RULE_A:RULE_B' (e.g. "
                                            f"nested:last_epoch), got {_RULES.value!r}")
        if len(run_dirs) == 1:
            run_dirs = run_dirs * 2
    if len(run_dirs) != 2:
        raise results_table.ReportError(
            f"--compare takes exactly two runs; got {len(run_dirs)} (one run with --rules): "
            + ", ".join(map(str, run_dirs)))
    for run_dir in run_dirs:
        results_table.load_run(run_dir)  # a finished run, or the error says why not
    return render(paired.table(*run_dirs, rules)), []


def worst_subjects(paths: list, count: int = 5) -> str:
    """For each finished run among ``paths`` with a per_subject.csv, its ``count`` worst
    subjects under its headline rule (``breakdowns.worst_subjects``), numbered as in
    the table (runs that cannot be read are left out of both); a per_subject.csv that
    cannot be read is one line saying so."""
    run_dirs, _ = results_table.find_runs(paths)
    runs, _ = results_table.load_runs(run_dirs)
    lines = []
    for number, run in enumerate(runs, 1):
        path = pathlib.Path(run["dir"]) / "per_subject.csv"
        if not path.is_file():
            continue
        rule = run["metrics"]["selection"]
        try:
            with open(path, newline="") as f:
                rows = [[*r[:2], int(r[2]), *r[3:]] for r in list(csv.reader(f))[1:]]
            worst = breakdowns.worst_subjects(rows, rule, count)
        except (OSError, UnicodeDecodeError, ValueError, IndexError, TypeError) as e:
            lines.append(f"worst subjects of [{number}]: {path} cannot be read "
                         f"({' '.join(str(e).split())})")
            continue
        lines.append(f"worst subjects of [{number}] ({rule}; {path}):")
        lines += [f"  {name:<30} {correct}/{samples} correct  accuracy {accuracy}"
                  for name, samples, correct, accuracy in worst]
    return "\n".join(lines) + ("\n" if lines else "")


def parse_flags(argv):
    """absl's flag parsing (of report's own flags and --out), with a bad flag as one
    line on stderr and exit 2."""
    command = "python -m faceslueth_jax.evaluation.report"
    return cli.parse_flags(argv, command=command, takes=("out",), needs_config=False)


def main(argv):
    try:
        text, left_out = report(argv[1:])
    except results_table.ReportError as e:
        cli.fail(str(e))
    for line in left_out:
        print(f"warning: left out {line}", file=sys.stderr)
    if cli.OUT.value:
        try:
            atomic_files.write_text(cli.OUT.value, text)
        except OSError as e:
            cli.fail(f"cannot write --out={cli.OUT.value}: {e.strerror or e}")
    else:
        print(text, end="")
    if not _COMPARE.value:
        print(("\n" if not cli.OUT.value else "") + worst_subjects(argv[1:]), end="")


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
