"""What a run shows while it trains, after every epoch of every chunk of folds: the
progress bar (stderr), one line in the run's ``log`` file only (``EpochLog``, through
``EPOCH_LOG``, which does not reach the console) and TensorBoard's live scalars
(``tensorboard_log``), all from the main process only."""

from __future__ import annotations

import contextlib
import functools
import logging

import numpy as np

from faceslueth_jax.evaluation import angles, run_files, tensorboard_log
from faceslueth_jax.train import optimizer
from faceslueth_jax.train.progress import Progress

EPOCH_LOG = logging.getLogger("faceslueth_jax.epochs")
EPOCH_LOG.propagate = False  # the console has the progress bar; the run's log file the lines
EPOCH_LOG.setLevel(logging.INFO)


class EpochLog:
    """'epoch e/E, chunk c/C, folds A..B (n): loss L, lr R, theta_deg t0 t1 ...': the
    chunk's mean training loss, the learning rates and each probe's mean over its
    folds (angles, ``*_deg``, as axial circular means)."""

    def __init__(self, learning_rates, instance_names: list):
        self.learning_rates = learning_rates
        self.names = list(instance_names)

    def __call__(self, chunk: int, num_chunks: int, epoch: int, epochs: int, record) -> None:
        ids = np.asarray(record["instances"])
        loss = np.asarray(record["loss"], np.float64)
        finite = loss[np.isfinite(loss)]
        folds = self.names[ids[0]] if len(ids) == 1 else (
            f"{self.names[ids[0]]}..{self.names[ids[-1]]} ({len(ids)})")
        lrs = self.learning_rates(epoch)
        parts = [f"epoch {epoch + 1}/{epochs}, chunk {chunk + 1}/{num_chunks}, folds {folds}:",
                 f"loss {finite.mean():.4f}," if finite.size else "loss nan,",
                 f"lr {lrs['weights']:.4g}"]
        if len(finite) < len(loss):
            parts.append(f"({len(loss) - len(finite)} diverged)")
        for key, value in record.items():
            if key.startswith("probe_"):
                value = np.asarray(value, np.float64)
                mean = angles.axial_mean(value, axis=0) if key.endswith("_deg") else value.mean(0)
                parts.append(f"{key[len('probe_'):]} " + " ".join(
                    f"{v:.2f}" for v in np.atleast_1d(mean)))
        EPOCH_LOG.info(" ".join(parts))


def learning_rates(config):
    """epoch -> {group: lr} of the config's optimiser."""
    return functools.partial(optimizer.epoch_learning_rates, config.train.optimizer)


@contextlib.contextmanager
def watchers(config, workdir, sweep, main: bool, label: str):
    """The ``on_epoch`` callback of a run (None on the other processes), its
    TensorBoard writer closed when the block ends."""
    if not main:
        yield None
        return
    names = run_files.instance_names(sweep.folds.names, sweep.seeds)
    if sweep.nested is not None:  # the inner folds' instances follow the outer ones'
        names += run_files.instance_names(sweep.nested.folds.names, sweep.seeds)
    board = tensorboard_log.TensorBoardEpochs(workdir, learning_rates(config))
    each = (Progress(label, sweep.plan.folds_per_chunk), EpochLog(learning_rates(config), names),
            board)
    try:
        yield lambda *args: [watch(*args) for watch in each]
    finally:
        board.close()
