r"""The spotting study on the built-in synthetic long videos: both spotters under LOSO,
then the effect of the main choices, one variant at a time.

  python bench/spotting_study.py [--out=bench/runs/spotting] [--seeds=3]

Variants of configs/spot_synthetic.py (everything else as the config):
  main              both spotters; the learned spotter with ``--seeds`` seeds
  mdmd_z3           its threshold z fixed at 3 noise units for every fold
  mdmd_z10          z fixed at 10
  learned_window8   its window 8 positions (~0.5 s) instead of 16
  learned_window32  32 positions (~2.1 s)
Each variant's config.json, metrics.json, per_subject.csv, intervals.json and curves.csv
go to <out>/<variant>/,
and <out>/table.md holds every F1 with its 95% interval (bootstrap over subjects).
"""

from __future__ import annotations

import json
import pathlib
import shutil
import sys
import tempfile

from absl import app, flags


from configs import spot_synthetic
from faceslueth_jax import atomic_files
from faceslueth_jax.spotting import experiment

flags.DEFINE_string("out", "bench/runs/spotting", "where the variants' files go")
flags.DEFINE_integer("seeds", 3, "the learned spotter's seeds")
FLAGS = flags.FLAGS
KEPT = ("config.json", "metrics.json", "per_subject.csv", "intervals.json", "curves.csv")


def variants(seeds: int) -> dict:
    def make(**changes):
        c = spot_synthetic.get_config()
        c.protocol.seeds = seeds
        c.model_folder = False
        c.report.timelines = 0
        for path, value in changes.items():
            node = c
            *parents, leaf = path.split(".")
            for p in parents:
                node = node[p]
            node[leaf] = value
        return c
    return {"main": make(),
            "mdmd_z3": make(**{"spotters": ("mdmd",), "mdmd.z": 3.0}),
            "mdmd_z10": make(**{"spotters": ("mdmd",), "mdmd.z": 10.0}),
            "learned_window8": make(**{"spotters": ("learned",), "learned.window": 8}),
            "learned_window32": make(**{"spotters": ("learned",), "learned.window": 32})}


def cell(s: dict) -> str:
    lo, hi = s["f1_interval95"]
    return f"{s['f1'] or 0:.3f} [{lo:.3f}, {hi:.3f}]"


def main(argv):
    del argv
    out = pathlib.Path(FLAGS.out)
    rows = ["| variant | spotter | micro F1 | macro F1 | overall F1 | TP / FP / FN (overall) |",
            "|---|---|---|---|---|---|"]
    for name, config in variants(FLAGS.seeds).items():
        with tempfile.TemporaryDirectory() as work:
            summary = experiment.spot_and_evaluate(config, work)
            (out / name).mkdir(parents=True, exist_ok=True)
            for f in KEPT:
                if (pathlib.Path(work) / f).is_file():
                    shutil.copyfile(pathlib.Path(work) / f, out / name / f)
        for spotter, s in summary["spotters"].items():
            o = s["overall"]
            rows.append(f"| {name} | {spotter} | {cell(s['micro'])} | {cell(s['macro'])} | "
                        f"{cell(o)} | {o['tp']} / {o['fp']} / {o['fn']} |")
        print(rows[-1], flush=True)
    data = summary["data"]
    atomic_files.write_text(out / "table.md", "\n".join(
        [f"Spotting on {data['name']} ({data['videos']} videos, {data['subjects']} subjects, "
         f"{data['frames']} frames at 30 fps, {data['true_micro']} micro- and "
         f"{data['true_macro']} macro-expressions), LOSO; {summary['selection']}; the learned "
         f"spotter's {FLAGS.seeds} seeds' probabilities averaged; 95% intervals from a "
         "bootstrap over subjects (2000 draws).", ""] + rows) + "\n")
    print(json.dumps({"written": str(out)}))
    return 0


if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)))
