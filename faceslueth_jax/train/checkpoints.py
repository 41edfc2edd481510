"""Sweep checkpoints with orbax: save every N epochs and at the end, resume after a kill.

A checkpoint at step t holds everything a sweep needs to go on exactly where it
stopped, t = (chunk epochs finished) = c * E + e for chunk c after e epochs:

  state     the chunk's fold-stacked FoldState (params, BatchNorm statistics,
            optimiser state, divergence flags) and its per-fold PRNG keys;
  history   every fold's records so far (loss, test logits, theta, divergence;
            (F, E, ...) arrays, unfilled entries zero), from which the
            best-epoch rule is recomputed;
  progress  chunk, epochs done, and a fingerprint of everything that decides
            the numbers (config, placement, fold tables), so a checkpoint is
            never resumed under another experiment.

Saving is asynchronous (the arrays are copied to host memory, then written in
the background); orbax writes each step into a temporary folder and renames it
when complete, so a kill mid-save leaves the previous steps intact. A step that
is complete but unreadable (truncated or corrupt files) is reported, moved to
``<dir>.corrupt/<step>`` and the next older step is used.
"""

from __future__ import annotations

import hashlib
import json
import logging as std_logging
import pathlib
import shutil

import jax
import numpy as np
import orbax.checkpoint as ocp
from absl import logging

from faceslueth_jax import distributed


class _QuietOrbax(std_logging.Filter):
    """Keep orbax's per-save INFO chatter out of the console and the run's log."""

    def filter(self, record) -> bool:
        return record.levelno >= std_logging.WARNING or "/orbax/" not in record.pathname


std_logging.getLogger("absl").addFilter(_QuietOrbax())
logging.get_absl_handler().addFilter(_QuietOrbax())


class CheckpointMismatch(RuntimeError):
    """The workdir's checkpoints belong to another experiment or placement."""


def _sized(history: dict) -> dict:
    """The history without its empty arrays (theta of a model without SOA layers),
    which orbax refuses to save; restoring gives them back as zeros of their shape."""
    return {k: v for k, v in history.items() if np.prod(np.shape(v)) > 0}


def fingerprint(*parts) -> str:
    """A short hash of JSON-able parts (config, placement, fold tables)."""
    text = json.dumps(parts, sort_keys=True, default=lambda a: np.asarray(a).tolist())
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class SweepCheckpoints:
    def __init__(self, directory, every_epochs: int, keep: int, fingerprint_: str):
        if every_epochs < 1 or keep < 1:
            raise ValueError(f"checkpoint every {every_epochs} epochs keeping {keep}: both "
                             f"must be >= 1")
        self.directory = pathlib.Path(directory).absolute()
        self.every = every_epochs
        self.fingerprint = fingerprint_
        self.skipped: list[dict] = []  # unreadable steps met while resuming
        self.manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(
                max_to_keep=keep, create=True, cleanup_tmp_directories=True,
                enable_async_checkpointing=True))

    def due(self, epochs_done: int, epochs: int) -> bool:
        return epochs_done % self.every == 0 or epochs_done == epochs

    def save(self, step: int, progress: dict, state, history: dict) -> None:
        """Start an asynchronous save (returns once the arrays are on the host)."""
        self.manager.save(step, args=ocp.args.Composite(
            state=ocp.args.StandardSave(state),
            history=ocp.args.StandardSave(_sized(history)),
            progress=ocp.args.JsonSave(dict(progress, fingerprint=self.fingerprint))))

    def restore_latest(self, abstract_state, history_like: dict):
        """(progress, state, history) of the newest step every process can read, or None.

        ``abstract_state``: the state's shapes/dtypes/shardings for a chunk;
        ``history_like``: arrays of the history's shapes and dtypes. Each process
        reads its own shards; a step is used only when all of them succeed.
        """
        for step in sorted(self.manager.all_steps(), reverse=True):
            restored, error = self._read(step, abstract_state, history_like)
            if not distributed.all_true(error is None):
                self._set_aside(step, error or "unreadable on another process")
                continue
            progress, state, history = restored
            if progress.get("fingerprint") != self.fingerprint:
                raise CheckpointMismatch(
                    f"{self.directory} holds checkpoints of another experiment or placement "
                    f"(fingerprint {progress.get('fingerprint')}, this run "
                    f"{self.fingerprint}): use a new --workdir, or the config and devices "
                    f"that wrote them")
            logging.info("resuming from checkpoint step %d in %s", step, self.directory)
            return progress, state, history
        return None

    def _read(self, step: int, abstract_state, history_like: dict):
        """((progress, state, history), None), or (None, what went wrong)."""
        try:
            progress = self.manager.restore(step, args=ocp.args.Composite(
                progress=ocp.args.JsonRestore()))["progress"]
            if progress.get("fingerprint") != self.fingerprint:
                return (progress, None, None), None  # refused by the caller, not corrupt
            restored = self.manager.restore(step, args=ocp.args.Composite(
                state=ocp.args.StandardRestore(abstract_state),
                history=ocp.args.StandardRestore(_sized(history_like))))
            history = {k: np.asarray(v) for k, v in restored["history"].items()}
            history.update({k: np.zeros(np.shape(v), v.dtype) for k, v in history_like.items()
                            if k not in history})  # the empty arrays not saved
            if any(history[k].shape != np.shape(v) for k, v in history_like.items()):
                raise ValueError("history arrays have the wrong shapes")
        except Exception as e:  # noqa: BLE001 - any unreadable step is skipped
            return None, f"{type(e).__name__}: {str(e)[:300]}"
        return (progress, restored["state"], history), None

    def _set_aside(self, step: int, error: str) -> None:
        message = (f"checkpoint step {step} in {self.directory} is unreadable ({error}); "
                   f"skipped for the previous one")
        logging.warning(message)
        self.skipped.append({"step": step, "error": message})
        distributed.sync(f"every process done reading checkpoint {step}")
        if jax.process_index() == 0:
            target = self.directory.with_name(self.directory.name + ".corrupt") / str(step)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(target, ignore_errors=True)
            shutil.move(str(self.directory / str(step)), str(target))
        distributed.sync(f"set aside checkpoint {step}")
        self.manager.reload()

    def close(self) -> None:
        """Wait for the last save to be complete on disk."""
        self.manager.wait_until_finished()
        self.manager.close()
