r"""Train and evaluate a model under a cross-validation protocol.

  python run.py --config=configs/loso_synthetic.py [--workdir=runs/x] [--config.train.epochs=5]
  python run.py --config=configs/loso_synthetic.py --print_config   # the config as resolved
  python run.py --config=configs/loso_synthetic.py --helpfull       # flags and config fields
  faceslueth-jax run --config=configs/loso_synthetic.py             # the same, installed

Every config field can be overridden as --config.a.b=value. Results go to
--workdir (default runs/<config name>-<time>); rerunning the same command with
the same --workdir resumes from its newest checkpoint. A config that cannot be
loaded, an override that names no field or has a bad value, and data that cannot
be had each stop the run with one line ``error: ...`` and exit status 2.
(run.py and the console script's ``run``, ``faceslueth_jax.console``, run this module.)
"""

from __future__ import annotations

import logging as std_logging
import sys
import time

from absl import app, flags

from faceslueth_jax import cli, config_text

FLAGS = flags.FLAGS
flags.declare_key_flag("config")
flags.DEFINE_string("workdir", None, "Output folder; default runs/<config name>-<time>.")
flags.DEFINE_bool("print_config", False, "Print the config as resolved (the file's fields "
                  "with every --config.* override applied and checked) and exit.")


INTERRUPTED = 130  # the shell's status for a process stopped by Ctrl-C (128 + SIGINT)
DIVERGED = 3  # the sweep ran, but too many fold models diverged to publish a result


class _NoMissingTpuNotice(std_logging.Filter):
    """Drop jax's start-up notice that libtpu is absent (on every CPU/GPU machine)."""

    def filter(self, record) -> bool:
        return "Unable to initialize backend 'tpu'" not in record.getMessage()


def main(argv):
    del argv
    std_logging.getLogger("jax._src.xla_bridge").addFilter(_NoMissingTpuNotice())
    import jax

    from faceslueth_jax import distributed

    if cli.program():  # started as 'faceslueth-jax run': the command the run records
        # (metrics.json, index.html: 'python' + sys.argv) is then one that reruns it
        sys.argv[:1] = ["-m", "faceslueth_jax", *cli.program()[1:]]
    config = FLAGS.config
    if config.get("task") == "spotting":
        return spotting_main(config)
    from faceslueth_jax.pipeline import checks
    try:  # before the run's own imports: a config error answers sooner
        checks.check_config(config)
    except checks.ConfigError as e:
        cli.fail(str(e))
    if FLAGS.print_config:
        print(config_text.config_text(config), end="")
        return 0
    distributed.initialize(config)  # before anything touches a device
    # after flag parsing (keeps --help fast) and after joining the other processes
    from faceslueth_jax.data.sources import DataUnavailable
    from faceslueth_jax.pipeline import experiment, workdir as workdir_lib
    from faceslueth_jax.train.checkpoints import CheckpointMismatch, Interrupted
    from tfds_builders.errors import BadInputError

    if not FLAGS.workdir and jax.process_count() > 1:
        cli.fail("a multi-host run needs --workdir (the same path on every host)")
    workdir = FLAGS.workdir or f"runs/{config.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        summary = experiment.train_and_evaluate(config, workdir)
    except Interrupted as e:
        print(e, file=sys.stderr)
        return INTERRUPTED
    except KeyboardInterrupt:  # outside the sweep's training: nothing half-done is kept
        print("interrupted; rerun the same command to go on (it resumes from the newest "
              "checkpoint)", file=sys.stderr)
        return INTERRUPTED
    except jax.errors.JaxRuntimeError as e:
        if "RESOURCE_EXHAUSTED" not in str(e):
            raise
        cli.fail(f"out of device memory ({str(e).splitlines()[0][:200]}): lower "
                 f"train.batch_size ({config.train.batch_size}), data.face_size and "
                 "data.flow_size, or set max_folds_per_chunk to train fewer folds at once")
    except experiment.RunDiverged as e:
        print(f"error: {e}", file=sys.stderr)
        return DIVERGED
    except (DataUnavailable, BadInputError, CheckpointMismatch, MemoryError,
            checks.ConfigError, workdir_lib.WorkdirError, distributed.HostsDisagree) as e:
        cli.fail(str(e))
    if distributed.is_main_process():
        print(summary["summary_text"])
    return 0


def spotting_main(config) -> int:
    """A spotting run (``faceslueth_jax.spotting.experiment``): one process."""
    from faceslueth_jax.pipeline import checks
    from faceslueth_jax.spotting import experiment
    from tfds_builders.errors import BadInputError

    try:
        checks.check_config(config)
    except checks.ConfigError as e:
        cli.fail(str(e))
    if FLAGS.print_config:
        print(config_text.config_text(config), end="")
        return 0

    workdir = FLAGS.workdir or f"runs/{config.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        summary = experiment.spot_and_evaluate(config, workdir)
    except (BadInputError, ValueError) as e:
        cli.fail(str(e).splitlines()[0] if isinstance(e, ValueError) and
                 not isinstance(e, BadInputError) else str(e))
    print(experiment.summary_text(summary, workdir))
    return 0


def run(command: str = "run.py") -> None:
    """Parse the command line (``cli.parser``) and run ``main``; exits with its status."""
    app.run(main, flags_parser=cli.parser(command))


if __name__ == "__main__":
    run()
