"""Sweep checkpoints with orbax: save every N epochs and at the end, resume after a kill.

A save is due after every N-th epoch of a chunk and after a chunk's last epoch, once
at least ``min_seconds`` have passed since the previous save by process 0's clock,
which decides for every process since the save is collective (the sweep's very last
step is always saved). So a kill loses at most about that much training, and short
chunks (a compact fold takes seconds on a CPU) do not pay a save each (what the saves
cost without the interval: ``bench/README.md``, "The compact composite sweep").

A checkpoint at step t holds everything a sweep needs to go on exactly where it
stopped, t = (chunk epochs finished) = c * E + e for chunk c after e epochs:

  state     the chunk's fold-stacked FoldState (params, BatchNorm statistics,
            optimiser state, divergence flags) and its per-fold PRNG keys;
  history   every fold's records so far (loss, test logits, divergence and the
            probes, e.g. theta; (F, E, ...) arrays, unfilled entries zero),
            from which the best-epoch rule is recomputed;
  progress  chunk, epochs done, and a fingerprint of everything that decides
            the numbers (config, the data's content but not its folder,
            placement, fold tables), so a checkpoint is never resumed under
            another experiment, and is resumed when the data moved.

Saving is asynchronous (the arrays are copied to host memory, then written in
the background); orbax writes each step into a temporary folder and renames it
when complete, so a kill mid-save leaves the previous steps intact.

Reading a step tells three cases apart:
  unreadable  its files are truncated, corrupt or missing: reported, moved to
              ``<dir>.corrupt/<step>``, and the next older step is used;
  mismatch    it reads, but holds another sweep (fingerprint) or arrays of
              other names or shapes (e.g. written by another version of the
              code): ``CheckpointMismatch``, nothing is moved;
  any other error (a file system that cannot be read right now): raised as
              it is, nothing is moved, so rerunning later resumes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging as std_logging
import pathlib
import shutil
import signal
import threading
import time

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
    """The workdir's checkpoints belong to another experiment, placement or code version."""


class _Unreadable(Exception):
    """A step's files cannot be decoded (truncated, corrupt, missing)."""


# Errors of decoding a step's files (orbax, tensorstore, JSON) that mean the step is
# damaged; an OSError other than a missing file is the file system's, not the step's.
_DAMAGE = (ValueError, KeyError, EOFError, FileNotFoundError, json.JSONDecodeError)


def _chain(error: BaseException) -> list:
    """``error`` and what caused it, outermost first (each once: a cycle ends it)."""
    chain, seen = [], set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        chain.append(error)
        error = error.__cause__ or error.__context__
    return chain


def _is_damage(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it: orbax wraps tensorstore's ValueError, e.g.
    OUT_OF_RANGE for a truncated data file, in a plain Exception) says the step's files
    are damaged, rather than that the file system failed (permissions, a lost mount)."""
    chain = _chain(error)
    if any(isinstance(e, OSError) and not isinstance(e, FileNotFoundError) for e in chain):
        return False
    if any("PERMISSION_DENIED" in str(e) or "UNAVAILABLE" in str(e) for e in chain):
        return False
    return any(isinstance(e, _DAMAGE) for e in chain)


def fingerprint(*parts) -> str:
    """A short hash of JSON-able parts (config, placement, fold tables)."""
    text = json.dumps(parts, sort_keys=True, default=lambda a: np.asarray(a).tolist())
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@contextlib.contextmanager
def _interrupt_deferred():
    """Within (on the main thread): SIGINT is noted, not raised; KeyboardInterrupt is
    raised on leaving when one came."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda *_: caught.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


class Interrupted(Exception):
    """A sweep stopped by Ctrl-C; ``step``: the newest checkpoint (None: none yet)."""

    def __init__(self, step: int | None):
        self.step = step
        super().__init__(
            f"interrupted at step {step}; rerun the same command to resume" if step
            else "interrupted before the first checkpoint; rerun the same command to start")


class SweepCheckpoints:
    def __init__(self, directory, every_epochs: int, keep: int, fingerprint_: str,
                 min_seconds: float = 0.0, clock=time.monotonic):
        if every_epochs < 1 or keep < 1 or min_seconds < 0:
            raise ValueError(f"checkpoint every {every_epochs} epochs keeping {keep}: both "
                             f"must be >= 1; min_seconds {min_seconds} must be >= 0")
        self.min_seconds = min_seconds
        self.clock = clock  # seconds; on several processes only process 0's is read
        self._started = time.monotonic()
        self.earlier_seconds = 0.0
        self._last_save = self.clock()
        self.directory = pathlib.Path(directory).absolute()
        self.every = every_epochs
        self.fingerprint = fingerprint_
        self.skipped: list[dict] = []  # unreadable steps met while resuming
        self.manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(
                max_to_keep=keep, create=True, cleanup_tmp_directories=True,
                enable_async_checkpointing=True))

    def holds_steps(self) -> bool:
        """Whether the folder holds any step to resume from (readable or not)."""
        return bool(self.manager.all_steps())

    def due(self, epochs_done: int, epochs: int, last_step: bool = False) -> bool:
        """Whether to save after ``epochs_done`` of a chunk's ``epochs`` (see the module
        docstring); ``last_step``: the sweep's final one, always saved."""
        if last_step:
            return True
        at_mark = epochs_done % self.every == 0 or epochs_done == epochs
        # the save is collective: process 0's clock decides for every process
        return at_mark and distributed.broadcast_from_main(
            self.clock() - self._last_save >= self.min_seconds)

    def save(self, step: int, progress: dict, state, history: dict) -> None:
        """Start an asynchronous save (returns once the arrays are on the host); a
        Ctrl-C meanwhile is raised once the save has started whole (orbax's writer
        threads wait for the step folder that an interrupted start never makes)."""
        self._last_save = self.clock()
        with _interrupt_deferred():
            self._save(step, progress, state, history)

    def _save(self, step: int, progress: dict, state, history: dict) -> None:
        self.manager.save(step, args=ocp.args.Composite(
            state=ocp.args.StandardSave(state),
            history=ocp.args.StandardSave(history),
            progress=ocp.args.JsonSave(dict(progress, fingerprint=self.fingerprint,
                                            train_seconds=self.train_seconds()))))

    def train_seconds(self) -> float:
        """Seconds trained by this sweep: the earlier runs' up to their last checkpoint
        (``earlier_seconds``, from the step resumed) and this run's since it started."""
        return self.earlier_seconds + time.monotonic() - self._started

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
            self.earlier_seconds = float(progress.get("train_seconds", 0.0))
            logging.info("resuming from checkpoint step %d in %s", step, self.directory)
            return progress, state, history
        return None

    def _read(self, step: int, abstract_state, history_like: dict):
        """((progress, state, history), None), or (None, why the step is unreadable).
        Raises CheckpointMismatch for a readable step of another sweep or layout."""
        try:
            progress = self.manager.restore(step, args=ocp.args.Composite(
                progress=ocp.args.JsonRestore()))["progress"]
        except Exception as e:  # noqa: BLE001 - damage or not is decided by _is_damage
            if not _is_damage(e):
                raise
            return None, _why(e)
        if progress.get("fingerprint") != self.fingerprint:
            raise CheckpointMismatch(
                f"{self.directory} holds checkpoints of another experiment or placement "
                f"(fingerprint {progress.get('fingerprint')}, this run {self.fingerprint}): "
                f"use a new --workdir, or the config and devices that wrote them")
        self._check_layout(step, abstract_state, history_like)
        try:
            restored = self.manager.restore(step, args=ocp.args.Composite(
                state=ocp.args.StandardRestore(abstract_state),
                history=ocp.args.StandardRestore(history_like)))
        except Exception as e:  # noqa: BLE001 - damage or not is decided by _is_damage
            if not _is_damage(e):
                raise
            return None, _why(e)
        history = jax.tree.map(np.asarray, dict(restored["history"]))  # nested: final variables
        return (progress, restored["state"], history), None

    def _check_layout(self, step: int, abstract_state, history_like: dict) -> None:
        """CheckpointMismatch unless the step's saved arrays have the names and shapes
        this sweep restores (its metadata is read, not its arrays)."""
        wanted = {"state": abstract_state, "history": history_like}
        for part, like in wanted.items():
            try:
                saved = _shapes(ocp.StandardCheckpointHandler().metadata(
                    self.directory / str(step) / part))
            except (*_DAMAGE, TypeError, AttributeError):
                return  # no readable metadata: the restore itself decides (unreadable)
            want = _shapes(like)
            if sorted(saved.values()) != sorted(want.values()):
                missing = sorted(set(want) - set(saved))[:3]
                extra = sorted(set(saved) - set(want))[:3]
                raise CheckpointMismatch(
                    f"checkpoint step {step} in {self.directory} holds a {part} of another "
                    f"layout ({len(saved)} arrays, this sweep has {len(want)}; missing "
                    f"{missing}, unexpected {extra}), e.g. written by another version of the "
                    f"code: use a new --workdir, or the code that wrote it; nothing was moved")

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

    def interrupted(self) -> "Interrupted":
        """After Ctrl-C: let a save in flight finish, remove the temporary folders of
        one that cannot, and say which step a rerun resumes from."""
        for finish in (self.manager.wait_until_finished, self.manager.close):
            try:
                finish()  # joins the background writer, so nothing is written after this
            except Exception:  # noqa: BLE001 - a save cut short: its folder goes below
                pass
        for temporary in self.directory.glob("*.orbax-checkpoint-tmp*"):
            shutil.rmtree(temporary, ignore_errors=True)
        steps = [int(p.name) for p in self.directory.iterdir() if p.name.isdigit()] \
            if self.directory.is_dir() else []
        return Interrupted(max(steps) if steps else None)

    def close(self) -> None:
        """Wait for the last save to be complete on disk."""
        self.manager.wait_until_finished()
        self.manager.close()


def _shapes(tree) -> dict:
    """{'a/b/c': shape} of a tree of arrays, abstract arrays or orbax array metadata."""
    def name(key) -> str:
        for field in ("key", "name", "idx"):
            if hasattr(key, field):
                return str(getattr(key, field))
        return str(key)
    return {"/".join(name(k) for k in path): tuple(getattr(v, "shape", np.shape(v)))
            for path, v in jax.tree_util.tree_leaves_with_path(tree)}


def _why(error: BaseException) -> str:
    """The deepest cause's type and first line (orbax's wrapper repeats the array spec)."""
    error = _chain(error)[-1]
    return f"{type(error).__name__}: {str(error).splitlines()[0][:300] if str(error) else ''}"
