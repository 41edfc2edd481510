r"""What nested selection costs: one config trained plain and nested, one after the
other on the same machine, their wall and training seconds and the ratio.

  python bench/nested_cost.py --out=/tmp/nested_cost.json \
      [--config=configs/loso_synthetic.py] [--epochs=5] [--inner_folds=4]

A nested sweep trains, besides the F outer folds, G inner folds per outer fold on
(G - 1) / G of its training subjects, so about G times the fold-epochs of the plain
sweep (plus the inner folds' validation passes); the measured ratio says what the
trainer makes of that. Both runs use the config's own placement (on CPU one fold per
program, the faster there) and write to a temporary folder; the data is built once
before either is timed.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import tempfile
import time

from absl import app, flags

from faceslueth_jax import atomic_files, cli  # noqa: F401  (cli: the shared --out)

REPO = pathlib.Path(__file__).resolve().parents[1]
flags.DEFINE_string("config_file", "configs/loso_synthetic.py", "the config to time")
flags.DEFINE_integer("epochs", 5, "epochs of both runs")
flags.DEFINE_integer("inner_folds", 4, "protocol.nested.inner_folds of the nested run")
flags.DEFINE_multi_string("override", ["--config.model.faceslueth_r.use_appearance=False"],
                          "more config overrides for both runs (default: the motion stream)")
flags.declare_key_flag("out")
FLAGS = flags.FLAGS


def run(workdir: pathlib.Path, data_dir: pathlib.Path, *extra) -> dict:
    command = [sys.executable, "run.py", f"--config={FLAGS.config_file}",
               f"--workdir={workdir}", f"--config.data.data_dir={data_dir}",
               f"--config.train.epochs={FLAGS.epochs}", *FLAGS.override, *extra]
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"error: {' '.join(command[1:])} exited {proc.returncode}: "
                 f"{proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ''}")
    metrics = json.loads((workdir / "metrics.json").read_text())
    return {"command": " ".join(command[1:]), "seconds": time.perf_counter() - started,
            "train_seconds": metrics["train_seconds"],
            "programs_run": metrics["execution"].get("num_chunks"),
            "uf1": {r: round(metrics["headline"]["uf1"], 4) if r == metrics["selection"] else
                    round(metrics["other_selections"][r]["uf1"], 4)
                    for r in [metrics["selection"], *metrics["other_selections"]]}}


def main(argv):
    del argv
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        run(tmp / "warm", tmp / "tfds", "--config.train.epochs=1")  # builds the data
        plain = run(tmp / "plain", tmp / "tfds")
        nested = run(tmp / "nested", tmp / "tfds", "--config.protocol.selection=nested",
                     f"--config.protocol.nested.inner_folds={FLAGS.inner_folds}")
    out = {"config": FLAGS.config_file, "epochs": FLAGS.epochs,
           "inner_folds": FLAGS.inner_folds, "plain": plain, "nested": nested,
           "wall_ratio": round(nested["seconds"] / plain["seconds"], 2),
           "train_ratio": round(nested["train_seconds"] / plain["train_seconds"], 2)}
    text = json.dumps(out, indent=1)
    if FLAGS.out:
        atomic_files.write_text(FLAGS.out, text + "\n")
    print(text)


if __name__ == "__main__":
    app.run(main)
