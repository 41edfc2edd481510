r"""Train and evaluate FaceSleuth-R under a cross-validation protocol.

  python run.py --config=configs/loso_synthetic.py [--workdir=runs/x] [--config.train.epochs=5]

Every config field can be overridden as --config.a.b=value. Results go to
--workdir (default runs/<config name>-<time>); rerunning the same command with
the same --workdir resumes from its newest checkpoint.
"""

from __future__ import annotations

import sys
import time

from absl import app, flags
from ml_collections import config_flags

from faceslueth_jax.data.sources import DataUnavailable
from tfds_builders.errors import BadInputError

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", None, "Experiment config file.", lock_config=True)
flags.DEFINE_string("workdir", None, "Output folder; default runs/<config name>-<time>.")
flags.mark_flags_as_required(["config"])


def main(argv):
    del argv
    import jax

    from faceslueth_jax import distributed

    config = FLAGS.config
    distributed.initialize(config)  # before anything touches a device
    # after flag parsing (keeps --help fast) and after joining the other processes
    from faceslueth_jax.train import experiment
    from faceslueth_jax.train.checkpoints import CheckpointMismatch

    if not FLAGS.workdir and jax.process_count() > 1:
        print("error: a multi-host run needs --workdir (the same path on every host)",
              file=sys.stderr)
        return 2
    workdir = FLAGS.workdir or f"runs/{config.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        summary = experiment.train_and_evaluate(config, workdir)
    except (DataUnavailable, BadInputError, CheckpointMismatch, MemoryError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if distributed.is_main_process():
        print(summary["summary_text"])
    return 0


if __name__ == "__main__":
    app.run(main)
