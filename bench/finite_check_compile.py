r"""What the training step's finiteness check costs the compiler: the epoch program
compiled with the check as one reduction per leaf (the old form) against one reduction
over every leaf laid end to end (``fold_step.all_finite``), same config, same machine,
one run.

  python bench/finite_check_compile.py --out=/tmp/finite_check.json \
      [--config_file=configs/loso_synthetic.py] [--rounds=2] [--override=...]

A step is applied only when the loss, every gradient and every new weight are finite.
Checked leaf by leaf, that is a reduction per parameter, gradient and statistic in the
loop body; XLA:CPU emits each as its own kernel, so the compile grows with the number
of leaves. Both variants compute the same boolean, so the runs' results are equal
(the bench checks the last-epoch UF1). Each variant runs ``run.py`` in a fresh process
(no compilation cache), alternating, ``--rounds`` times; the figure is the compile
seconds that ``metrics.json`` records. The default overrides are the tests' tiny
FaceSleuth-R (``tests/test_run.py``'s ``TINY_RUN``); ``--override=`` (empty) times
the config as it is.
"""

from __future__ import annotations

import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

import jax
import jax.numpy as jnp
from absl import app, flags

from faceslueth_jax import atomic_files, cli  # noqa: F401  (cli: the shared --out)

REPO = pathlib.Path(__file__).resolve().parents[1]
TINY = [  # a copy of tests/test_run.py's TINY_RUN: importing the tests sets their XLA flags
    "--config.data.synthetic.num_subjects=3", "--config.data.synthetic.clips_per_subject=4",
    "--config.data.synthetic.size=64", "--config.train.epochs=2",
    "--config.data.flow_size=16", "--config.data.face_size=32",
    "--config.model.faceslueth_r.motion.stem_widths=(4,)",
    "--config.model.faceslueth_r.motion.widths=(4,8)",
    "--config.model.faceslueth_r.motion.strides=(2,2)",
    "--config.model.faceslueth_r.appearance.embed_dim=8",
    "--config.model.faceslueth_r.appearance.num_heads=(1,)",
    "--config.model.faceslueth_r.appearance.window_size=4",
    "--config.model.faceslueth_r.head_widths=(16,8)", "--config.train.batch_size=6"]
flags.DEFINE_string("config_file", "configs/loso_synthetic.py", "the config to compile")
flags.DEFINE_integer("rounds", 2, "runs of each variant, alternating")
flags.DEFINE_multi_string("override", TINY, "config overrides of every run")
flags.declare_key_flag("out")
FLAGS = flags.FLAGS
VARIANTS = ("per_leaf", "end_to_end")


def per_leaf_all_finite(tree) -> jax.Array:
    """The old form: one reduction per leaf, then one over their results."""
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)
              if jnp.issubdtype(x.dtype, jnp.inexact)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)


# the child: run.py with fold_step.all_finite replaced by the variant named first
CHILD = ("import runpy, sys\n"
         "from faceslueth_jax.train import fold_step\n"
         "if sys.argv.pop(1) == 'per_leaf':\n"
         "    from bench.finite_check_compile import per_leaf_all_finite\n"
         "    fold_step.all_finite = per_leaf_all_finite\n"
         "sys.argv[0] = 'run.py'\n"
         "runpy.run_path('run.py', run_name='__main__')\n")


def run(variant: str, workdir: pathlib.Path, data_dir: pathlib.Path) -> dict:
    command = [sys.executable, "-c", CHILD, variant, f"--config={FLAGS.config_file}",
               f"--workdir={workdir}", f"--config.data.data_dir={data_dir}",
               "--config.baseline.logistic_regression=False", *FLAGS.override]
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if proc.returncode:
        tail = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""
        sys.exit(f"error: the {variant} run exited {proc.returncode}: {tail}")
    metrics = json.loads((workdir / "metrics.json").read_text())
    return {"compile_seconds": metrics["time_split_seconds"]["compile"],
            "wall_seconds": metrics["wall_seconds"], "uf1": metrics["headline"]["uf1"]}


def main(argv):
    del argv
    runs = {v: [] for v in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        for r in range(FLAGS.rounds):
            for variant in VARIANTS:
                runs[variant].append(run(variant, tmp / f"{variant}{r}", tmp / "tfds"))
                print(variant, r, runs[variant][-1], flush=True)
    uf1s = {run["uf1"] for v in VARIANTS for run in runs[v]}
    if len(uf1s) != 1:
        sys.exit(f"error: the variants' results differ (UF1 {sorted(uf1s)})")
    median = {v: statistics.median(r["compile_seconds"] for r in runs[v]) for v in VARIANTS}
    result = {"config_file": FLAGS.config_file, "overrides": FLAGS.override,
              "runs": runs, "median_compile_seconds": median,
              "ratio_per_leaf_to_end_to_end": median["per_leaf"] / median["end_to_end"],
              "xla_flags": os.environ.get("XLA_FLAGS", ""),
              "device": jax.devices()[0].device_kind, "jax": jax.__version__}
    print(json.dumps({k: result[k] for k in ("median_compile_seconds",
                                             "ratio_per_leaf_to_end_to_end")}))
    if FLAGS.out:
        atomic_files.write_text(FLAGS.out, json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    app.run(main)
