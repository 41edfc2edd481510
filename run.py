r"""Train and evaluate a model under a cross-validation protocol.

  python run.py --config=configs/loso_synthetic.py [--workdir=runs/x] [--config.train.epochs=5]
  python run.py --config=configs/loso_synthetic.py --print_config   # the config as resolved
  python run.py --config=configs/loso_synthetic.py --helpfull       # flags and config fields

Every config field can be overridden as --config.a.b=value. Results go to
--workdir (default runs/<config name>-<time>); rerunning the same command with
the same --workdir resumes from its newest checkpoint. A config that cannot be
loaded, an override that names no field or has a bad value, and data that cannot
be had each stop the run with one line ``error: ...`` and exit status 2.

The command lives in the package (``faceslueth_jax.pipeline.command``); installed,
it is also ``faceslueth-jax run --config=...``.
"""

from __future__ import annotations

from absl import flags

from faceslueth_jax.pipeline import command
from faceslueth_jax.pipeline.command import DIVERGED, INTERRUPTED, main  # noqa: F401

# --workdir, --print_config and --config are this script's own flags in --help
flags.adopt_module_key_flags(command)


if __name__ == "__main__":
    command.run("run.py")
