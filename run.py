r"""Train and evaluate a model under a cross-validation protocol.

  python run.py --config=configs/loso_synthetic.py [--workdir=runs/x] [--config.train.epochs=5]

Every config field can be overridden as --config.a.b=value. Results go to
--workdir (default runs/<config name>-<time>); rerunning the same command with
the same --workdir resumes from its newest checkpoint. A config that cannot be
loaded, an override that names no field or has a bad value, and data that cannot
be had each stop the run with one line ``error: ...`` and exit status 2.
"""

from __future__ import annotations

import logging as std_logging
import sys
import time

from absl import app, flags
from ml_collections import config_flags

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", None, "Experiment config file.", lock_config=True)
flags.DEFINE_string("workdir", None, "Output folder; default runs/<config name>-<time>.")


class _NoMissingTpuNotice(std_logging.Filter):
    """Drop jax's start-up notice that libtpu is absent (on every CPU/GPU machine)."""

    def filter(self, record) -> bool:
        return "Unable to initialize backend 'tpu'" not in record.getMessage()


def _fail(message: str) -> None:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    sys.exit(2)


def _config_error(error: Exception) -> str:
    """One line from ml_collections' errors: a config file that fails to load, an
    override naming no field (with its 'did you mean' hint) or of the wrong type."""
    text = str(error).strip()
    if "Error whilst parsing config file" in text:  # the config's get_config raised
        return f"{text.partition(': Error whilst')[0]}: {text.splitlines()[-1]}"
    if "Failed loading config file" in text or isinstance(error, OSError):
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        path = next((line for line in lines if line.endswith(".py") or ".py:" in line), "?")
        return f"cannot load --config={path}: {lines[-1] if lines else text}"
    if isinstance(error, (AttributeError, KeyError)):
        text = text.strip("'\"").replace("\\n", "\n").replace("\\'", "'")
        field, _, hint = text.partition("\n")
        return f"a --config.* override names no config field {field.strip(chr(39))}" + (
            f"; {hint}" if hint else "")
    return text


def parse_flags(argv):
    """absl's flag parsing, with each failure as one line on stderr and exit 2."""
    try:
        rest = FLAGS(argv)
        if FLAGS.config is None:
            _fail("--config is required, e.g. --config=configs/loso_synthetic.py")
        FLAGS.config.keys()  # a config file that failed to load raises here
        return rest
    except flags.Error as e:
        _fail(_config_error(e))
    except Exception as e:  # noqa: BLE001 - ml_collections raises many kinds
        _fail(_config_error(e))


def main(argv):
    del argv
    std_logging.getLogger("jax._src.xla_bridge").addFilter(_NoMissingTpuNotice())
    import jax

    from faceslueth_jax import distributed

    config = FLAGS.config
    distributed.initialize(config)  # before anything touches a device
    # after flag parsing (keeps --help fast) and after joining the other processes
    from faceslueth_jax.data.sources import DataUnavailable
    from faceslueth_jax.train import experiment
    from faceslueth_jax.train.checkpoints import CheckpointMismatch
    from tfds_builders.errors import BadInputError

    try:
        experiment.check_config(config)
    except experiment.ConfigError as e:
        _fail(str(e))
    if not FLAGS.workdir and jax.process_count() > 1:
        _fail("a multi-host run needs --workdir (the same path on every host)")
    workdir = FLAGS.workdir or f"runs/{config.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        summary = experiment.train_and_evaluate(config, workdir)
    except (DataUnavailable, BadInputError, CheckpointMismatch, MemoryError,
            experiment.ConfigError) as e:
        _fail(str(e))
    if distributed.is_main_process():
        print(summary["summary_text"])
    return 0


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
