"""One experiment from a config, top to bottom, as the stages of ``pipeline``:
checks -> workdir -> data -> fit -> results -> views -> artifacts. A sweep whose folds
mostly diverged publishes nothing: its files go to ``<workdir>/DIVERGED`` and
``RunDiverged`` is raised. The model comes from
``models.registry`` by ``model.name``; no stage has a per-model branch."""

from __future__ import annotations

import contextlib
import logging as std_logging
import pathlib
import time

import numpy as np

from faceslueth_jax import atomic_files, distributed
from faceslueth_jax.pipeline import artifacts, checks, data, fit, results, views, watch
from faceslueth_jax.evaluation import run_results
from faceslueth_jax.pipeline import workdir as workdir_lib
from faceslueth_jax.stopwatch import Stopwatch


def train_and_evaluate(config, workdir: str) -> dict:
    """Runs the config's protocol; returns metrics.json's content (on every process;
    only process 0 writes files, and the others return {})."""
    checks.check_config(config)
    workdir = pathlib.Path(workdir)
    workdir_lib.claim(workdir, config)  # another experiment's folder: refused untouched
    started = time.time()
    stopwatch = Stopwatch()
    with stopwatch("data"):  # missing, unreadable or differing data stops here, nothing written
        run_data = data.load(config)
    checks.check_against_data(config, run_data.data)
    workdir_lib.check_data(workdir, run_data.identity)
    main = distributed.is_main_process()
    if main:
        try:
            workdir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise workdir_lib.WorkdirError(f"--workdir={workdir} cannot be made "
                                           f"({e.strerror or e})") from None
        workdir_lib.record(workdir, config, run_data.identity)
    with logging_to(workdir / "log") if main else contextlib.nullcontext():
        if main:
            atomic_files.write_text(workdir / "config.json",
                                    config.to_json_best_effort(indent=2) + "\n")
        fitted = fit.fit(config, workdir, run_data, stopwatch, main)
        if diverged_share(fitted) > config.train.get("max_diverged_share", MAX_DIVERGED_SHARE):
            if main:
                (workdir / DIVERGED_DIR).mkdir(exist_ok=True)
                results.write(config, workdir / DIVERGED_DIR, fitted, stopwatch, started)
            raise diverged_error(config, workdir, fitted)
        if not main:
            return {}
        summary = results.write(config, workdir, fitted, stopwatch, started)
        summary = views.write(config, workdir, fitted, summary)
        artifacts.write(config, workdir, fitted)
        return summary


MAX_DIVERGED_SHARE = 0.5  # more folds than this diverged: the run is not a result
DIVERGED_DIR = run_results.DIVERGED_DIR  # where such a run's files go, for inspection


class RunDiverged(RuntimeError):
    """More than ``train.max_diverged_share`` of the fold instances diverged."""


def diverged_share(fitted) -> float:
    """The share of fold instances (folds x seeds) whose loss or weights turned
    non-finite at any epoch."""
    flags = np.asarray(fitted.history.diverged)
    return float(flags[:, -1].mean()) if flags.size else 0.0


def diverged_error(config, workdir: pathlib.Path, fitted) -> RunDiverged:
    flags = np.asarray(fitted.history.diverged)
    limit = config.train.get("max_diverged_share", MAX_DIVERGED_SHARE)
    first = int(np.argmax(flags.any(0))) + 1
    return RunDiverged(
        f"{int(flags[:, -1].sum())} of {len(flags)} fold models diverged (non-finite loss or "
        f"weights, the first in epoch {first}), more than train.max_diverged_share={limit:g}: "
        f"no model or results were published; the run's files are in "
        f"{workdir / DIVERGED_DIR} for inspection. Lower train.optimizer.lr (now "
        f"{config.train.optimizer.lr:g}) and use a new --workdir")


@contextlib.contextmanager
def logging_to(path: pathlib.Path):
    """Also send absl/Python log records, and the epoch lines, to ``path`` while the
    block runs."""
    handler = std_logging.FileHandler(path)
    handler.setFormatter(std_logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    loggers = (std_logging.getLogger(), watch.EPOCH_LOG)
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
        handler.close()
