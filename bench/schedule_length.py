r"""What a shortened schedule costs, read off finished runs' learning curves.

  python bench/schedule_length.py --epochs=50,100,150,200 \
      --out=bench/runs/leaderboard/schedule_length.md RUN [RUN ...]

Nothing in an epoch depends on how many epochs the schedule has (the learning rate
follows the step; tests/test_fold_trainer.py checks that the first E epochs of a longer
sweep are the E-epoch sweep), so the pooled UF1 a run records after epoch E is the
honest last-epoch figure of the same command with ``train.epochs=E``. Per run (a
folder with metrics.json; several folders of one config, e.g. one per seed, are joined
when their model and config are equal) and per E (and the run's last epoch): UF1 and
UAR, mean ± std over the seeds, and the change from the previous E. Where the curve
still rises at the run's last epoch, the full schedule would likely score higher; where
it is flat, the shortening costs little.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
from absl import app, flags

from faceslueth_jax import atomic_files, cli  # cli: the shared --out and one-line errors

flags.DEFINE_list("epochs", ["50", "100", "150", "200"], "epochs E to read the curves at")
flags.declare_key_flag("out")
FLAGS = flags.FLAGS


def per_seed_curves(run: pathlib.Path) -> tuple[str, dict]:
    """(model, {'uf1': (seeds, epochs), 'uar': ...}) from ``run``'s metrics.json."""
    try:
        metrics = json.loads((run / "metrics.json").read_text())
        curve = metrics["learning_curve"]
    except (OSError, ValueError, KeyError) as e:
        cli.fail(f"{run}: not a finished run's folder ({e})")
    per_seed = curve.get("per_seed")
    curves = {m: np.atleast_2d(np.asarray(per_seed[m] if per_seed else curve[m], float))
              for m in ("uf1", "uar")}
    return f"{metrics.get('model', '?')} ({metrics.get('config_name', run.name)})", curves


def _std(values) -> float:
    """The seeds' sample standard deviation (0 for one seed), as the leaderboard's."""
    return float(values.std(ddof=1)) if len(values) > 1 else 0.0


def table(runs: list, epochs: list) -> str:
    joined: dict = {}
    for run in runs:
        title, curves = per_seed_curves(pathlib.Path(run))
        into = joined.setdefault(title, {"uf1": [], "uar": []})
        for m in ("uf1", "uar"):
            into[m].append(curves[m])
    lines = ["| model | seeds | epochs | UF1 mean ± std | change | UAR mean ± std |",
             "|---|---|---|---|---|---|"]
    for title, got in joined.items():
        lengths = {c.shape[1] for c in got["uf1"]}
        if len(lengths) != 1:
            cli.fail(f"{title}: runs of different lengths {sorted(lengths)} cannot be joined")
        uf1, uar = np.concatenate(got["uf1"]), np.concatenate(got["uar"])
        previous = None
        for e in sorted({e for e in epochs if e <= uf1.shape[1]} | {uf1.shape[1]}):
            u, r = uf1[:, e - 1], uar[:, e - 1]
            change = "" if previous is None else f"{u.mean() - previous:+.3f}"
            lines.append(f"| {title} | {len(u)} | {e} | {u.mean():.3f} ± {_std(u):.3f} | "
                         f"{change} | {r.mean():.3f} ± {_std(r):.3f} |")
            previous = u.mean()
    return "\n".join(lines) + "\n"


def main(argv):
    runs = argv[1:]
    if not runs:
        cli.fail("give one or more run folders")
    try:
        epochs = sorted({int(e) for e in FLAGS.epochs})
    except ValueError:
        cli.fail(f"--epochs takes integers, got {FLAGS.epochs}")
    if not epochs or epochs[0] < 1:
        cli.fail(f"--epochs takes integers >= 1, got {FLAGS.epochs}")
    text = table(runs, epochs)
    print(text, end="")
    if FLAGS.out:
        atomic_files.write_text(FLAGS.out, text)


if __name__ == "__main__":
    app.run(main)
