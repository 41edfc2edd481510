"""One experiment from a config, top to bottom, as the stages of ``pipeline``:
checks -> data -> fit -> results -> views -> artifacts. The model comes from
``models.registry`` by ``model.name``; no stage has a per-model branch."""

from __future__ import annotations

import contextlib
import logging as std_logging
import pathlib
import time

from faceslueth_jax import atomic_files, distributed
from faceslueth_jax.pipeline import artifacts, checks, data, fit, results, views, watch
from faceslueth_jax.stopwatch import Stopwatch


def train_and_evaluate(config, workdir: str) -> dict:
    """Runs the config's protocol; returns metrics.json's content (on every process;
    only process 0 writes files, and the others return {})."""
    checks.check_config(config)
    workdir = pathlib.Path(workdir)
    started = time.time()
    stopwatch = Stopwatch()
    with stopwatch("data"):  # missing, unreadable or differing data stops here, nothing written
        run_data = data.load(config)
    main = distributed.is_main_process()
    if main:
        workdir.mkdir(parents=True, exist_ok=True)
    with logging_to(workdir / "log") if main else contextlib.nullcontext():
        if main:
            atomic_files.write_text(workdir / "config.json",
                                    config.to_json_best_effort(indent=2) + "\n")
        fitted = fit.fit(config, workdir, run_data, stopwatch, main)
        if not main:
            return {}
        summary = results.write(config, workdir, fitted, stopwatch, started)
        summary = views.write(config, workdir, fitted, summary)
        artifacts.write(config, workdir, fitted)
        return summary


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
