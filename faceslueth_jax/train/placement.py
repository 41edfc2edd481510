"""Where a sweep's folds run: the ('fold', 'data') device mesh and the fold chunks.

A sweep of F folds runs on a mesh of G x D devices. Mesh axis ``fold`` has G
device groups, each training its own folds; axis ``data`` splits every step's
batch of B samples over the D devices of a group (B / D each; gradients and
BatchNorm's sums and counts summed over ``data``, dropout drawn per sample of the
whole batch, so the step is the one a single device would take, up to float
summation order).

A chunk is K = G * k folds run by one compiled program, k per device group
(vmapped). F folds take C = ceil(F / K) chunks; chunks are balanced and the
last one padded with inert copies of a real fold, whose results are dropped.
"""

from __future__ import annotations

import math

import jax
import numpy as np
from jax.sharding import Mesh

FOLD, DATA = "fold", "data"


def default_mesh_shape(num_folds: int, num_devices: int, batch_size: int) -> tuple[int, int]:
    """(G, D): with at least as many folds as devices, every device trains folds
    (D = 1); otherwise the largest D (dividing the device count and the batch)
    that still leaves every fold its own group of devices (G >= F)."""
    fits = [d for d in range(1, num_devices + 1)
            if num_devices % d == 0 and batch_size % d == 0 and num_devices // d >= num_folds]
    data = max(fits, default=1)
    return num_devices // data, data


def make_mesh(num_folds: int, batch_size: int, fold: int = 0, data: int = 0,
              num_devices: int = 0, devices=None) -> Mesh:
    """A (fold, data) mesh over the first ``num_devices`` of ``devices`` (default
    ``jax.devices()``, every process's; 0 = all). ``fold``/``data`` fix the split
    (0 = ``default_mesh_shape``). Devices are laid out by ``device_grid``."""
    devices = list(jax.devices() if devices is None else devices)
    if num_devices:
        if num_devices > len(devices):
            raise ValueError(f"asked for {num_devices} devices, {len(devices)} available")
        devices = devices[:num_devices]
    n = len(devices)
    if not fold and not data:
        fold, data = default_mesh_shape(num_folds, n, batch_size)
    elif not (fold and data):
        given = fold or data
        if n % given:
            raise ValueError(f"mesh axis of size {given} does not divide {n} devices")
        fold, data = (fold, n // fold) if fold else (n // data, data)
    if fold * data != n:
        raise ValueError(f"mesh {fold}x{data} (fold x data) needs {fold * data} devices, "
                         f"have {n}")
    if batch_size % data:
        raise ValueError(f"train.batch_size={batch_size} does not split over data={data} "
                         f"devices")
    processes = {d.process_index for d in devices}
    everyone = set(range(jax.process_count())) if devices[0] in jax.devices() else processes
    left_out = everyone - processes
    if left_out:
        raise ValueError(f"the mesh's {n} devices leave out processes {sorted(left_out)}: "
                         f"every process must hold devices of the mesh (mesh.num_devices)")
    return Mesh(device_grid(devices, fold, data), (FOLD, DATA))


def device_grid(devices: list, fold: int, data: int) -> np.ndarray:
    """(fold, data) array of ``devices`` laid out by the physical topology
    (``mesh_utils.create_device_mesh``): on a TPU slice the D devices of a fold's
    data-parallel group are neighbouring chips, so its gradient sums travel one link.
    Devices without a topology (CPU, GPU) keep their order, as does a split the
    topology cannot give (then rows of the plain order)."""
    from jax.experimental import mesh_utils
    if getattr(devices[0], "coords", None) is None or len(devices) == 1:
        return np.array(devices).reshape(fold, data)
    for split in (False, True):
        try:
            return mesh_utils.create_device_mesh((fold, data), devices=devices,
                                                 allow_split_physical_axes=split)
        except (NotImplementedError, ValueError, AssertionError):
            continue
    return np.array(devices).reshape(fold, data)


def runs_here(mesh: Mesh) -> bool:
    """Whether the mesh's devices belong to this run (not a target compiled for)."""
    return mesh.devices.flat[0] in jax.devices()


def on_cpu(mesh: Mesh) -> bool:
    return mesh.devices.flat[0].platform == "cpu"


def chunks(num_folds: int, fold_groups: int, folds_per_group: int) -> list[list[int]]:
    """The fewest chunks of at most G * k folds, as even as whole device groups allow."""
    per_chunk = fold_groups * max(1, folds_per_group)
    count = math.ceil(num_folds / per_chunk)
    k = math.ceil(num_folds / (count * fold_groups))  # balance: same k, less padding
    size = fold_groups * k
    return [list(range(s, min(s + size, num_folds))) for s in range(0, num_folds, size)]


def padded(fold_ids: list[int], size: int) -> list[int]:
    """A chunk filled up to ``size`` with inert copies of its first fold."""
    return fold_ids + [fold_ids[0]] * (size - len(fold_ids))


def local_fold_groups(mesh: Mesh) -> list[int]:
    """Indices along ``fold`` of the device groups with a device of this process."""
    mine = {d.id for d in jax.local_devices()}
    return [g for g in range(mesh.devices.shape[0])
            if any(d.id in mine for d in mesh.devices[g])]
