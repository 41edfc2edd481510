r"""Train and evaluate FaceSleuth-R under a cross-validation protocol.

  python run.py --config=configs/loso_synthetic.py [--workdir=runs/x] [--config.train.epochs=5]

Every config field can be overridden as --config.a.b=value. Results go to
--workdir (default runs/<config name>-<time>).
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
    from faceslueth_jax.train import experiment  # after flag parsing: keeps --help fast

    config = FLAGS.config
    workdir = FLAGS.workdir or f"runs/{config.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        summary = experiment.train_and_evaluate(config, workdir)
    except (DataUnavailable, BadInputError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(summary["summary_text"])
    return 0


if __name__ == "__main__":
    app.run(main)
