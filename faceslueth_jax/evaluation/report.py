r"""The results table of finished runs, as Markdown.

  python -m faceslueth_jax.evaluation.report RUN_DIR... [--out=results.md]
      [--not_run="FaceSleuth-R paper, LOSO: no GPU was available"]

One row per run and selection rule, and one for the run's logistic-regression
baseline when it has one (``evaluation/results_table.py``): run number [n],
model, preset, data, protocol, selection, UF1 / UAR / accuracy pooled, UF1 / UAR
per database, the learned SOA angles (circular mean ± spread over folds),
epochs, wall time, device; then the command that made each run, as
'[n] `python run.py ...`'. ``--out`` writes the table atomically; without it
the table is printed.

  python -m faceslueth_jax.evaluation.report --compare RUN_A RUN_B

compares two runs of the same samples, folds and seeds pair-wise: A - B of the
seed-mean UF1 / UAR per selection rule, with a paired subject-bootstrap 95%
interval, and whether the difference exceeds it (``evaluation/paired.py``).
"""

from __future__ import annotations

import sys

from absl import app, flags

from faceslueth_jax import atomic_files, cli
from faceslueth_jax.evaluation import paired, results_table

flags.declare_key_flag("out")  # the table goes here instead of to stdout
_COMPARE = flags.DEFINE_bool("compare", False, "compare two runs pair-wise (A - B)")
_NOT_RUN = flags.DEFINE_multi_string(
    "not_run", [], "'WHAT: WHY' for a configuration that was not run; shown as a row "
    "without numbers")


def main(argv):
    run_dirs = argv[1:]
    if not run_dirs:
        raise app.UsageError("give one or more run directories (each with metrics.json)")
    if _COMPARE.value and len(run_dirs) != 2:
        raise app.UsageError("--compare takes exactly two run directories")
    try:
        table = (paired.markdown(*run_dirs) if _COMPARE.value
                 else results_table.markdown(run_dirs, _NOT_RUN.value))
    except (results_table.NotAFinishedRun, paired.NotComparable) as e:
        sys.exit(f"error: {e}")
    if cli.OUT.value:
        atomic_files.write_text(cli.OUT.value, table)
    else:
        print(table, end="")


if __name__ == "__main__":
    app.run(main)
