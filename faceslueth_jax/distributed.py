"""Multi-host sweeps: one process per host, started together, one global device mesh.

``jax.distributed.initialize`` connects the processes (every host then sees all
devices in ``jax.devices()``, its own in ``jax.local_devices()``). It runs when
the config asks (``distributed=True``, with ``coordinator_address``,
``num_processes`` and ``process_id``, or none of them where JAX can detect the
cluster) or when the environment is a multi-process one: a TPU pod slice (more
than one worker in TPU_WORKER_HOSTNAMES), SLURM with several tasks, or Open MPI
with several ranks. Process 0 alone writes the run's files.
"""

from __future__ import annotations

import os

import jax
import numpy as np


def multi_process_environment(environ=None) -> bool:
    env = os.environ if environ is None else environ
    tpu_workers = [h for h in env.get("TPU_WORKER_HOSTNAMES", "").split(",") if h]
    return (len(tpu_workers) > 1 or int(env.get("SLURM_NTASKS", "1") or 1) > 1
            or int(env.get("OMPI_COMM_WORLD_SIZE", "1") or 1) > 1)


def initialize(config) -> bool:
    """Connect this process to the others when the config or environment says so;
    True when the run is distributed."""
    if not (config.distributed or multi_process_environment()):
        return False
    kwargs = {}
    if config.coordinator_address:
        kwargs = dict(coordinator_address=config.coordinator_address,
                      num_processes=config.num_processes, process_id=config.process_id)
    jax.distributed.initialize(**kwargs)
    return True


def is_main_process() -> bool:
    return jax.process_index() == 0


def all_true(flag: bool) -> bool:
    """True when ``flag`` is true on every process (one process: ``flag``)."""
    if jax.process_count() == 1:
        return bool(flag)
    from jax.experimental import multihost_utils
    return bool(multihost_utils.process_allgather(np.array(bool(flag))).all())


def sync(name: str) -> None:
    """Wait until every process reaches the barrier ``name`` (no-op on one process)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils
        multihost_utils.sync_global_devices(name)


class HostsDisagree(RuntimeError):
    """The processes of one run hold different data."""


def _gathered(values: np.ndarray) -> np.ndarray:
    from jax.experimental import multihost_utils
    return np.asarray(multihost_utils.process_allgather(values))


def check_same_data(sources_digest: str, samples_digest: str, num_samples: int) -> None:
    """Raise HostsDisagree (one line, on every process) unless every process holds the
    data process 0 holds: the same data set sources (builder, options, sheets, frame
    folders, skip list: ``faceslueth_jax.data.identity``) and the same samples in the
    same order. No-op on one process."""
    if jax.process_count() == 1:
        return
    mine = np.frombuffer(bytes.fromhex(sources_digest + samples_digest), np.uint8)
    every = _gathered(np.concatenate([mine, np.array([num_samples], np.int32).view(np.uint8)]))
    sources, samples = every[:, :8], every[:, 8:16]
    counts = every[:, 16:].copy().view(np.int32)[:, 0]
    for p in range(1, len(every)):
        if not np.array_equal(sources[p], sources[0]):
            raise HostsDisagree(
                f"process {p} built its data from another source than process 0 (the data "
                "sets' sheets, frame folders, build options or on_error skip list differ): "
                "give every host the same records (a shared data_dir) or build each from "
                "the same database with the same data.build options")
        if not np.array_equal(samples[p], samples[0]):
            raise HostsDisagree(
                f"process {p} reads other samples than process 0 ({counts[p]} against "
                f"{counts[0]}, or the same number with other ids, labels or order): give "
                "every host the same records (a shared data_dir)")


def broadcast_from_main(flag: bool) -> bool:
    """Process 0's ``flag`` on every process (one process: ``flag``)."""
    if jax.process_count() == 1:
        return bool(flag)
    from jax.experimental import multihost_utils
    return bool(multihost_utils.broadcast_one_to_all(np.array(bool(flag))))
