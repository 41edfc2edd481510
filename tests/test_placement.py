"""Mesh shapes, fold chunks and the multi-process switch (pure functions)."""

from __future__ import annotations

import pytest

from faceslueth_jax import distributed
from faceslueth_jax.train import placement


@pytest.mark.parametrize("folds, devices, batch, shape", [
    (68, 8, 32, (8, 1)),   # more folds than devices: every device trains folds
    (8, 8, 32, (8, 1)),
    (3, 8, 32, (4, 2)),    # LODO on 8 devices: 4 groups of 2 (one inert fold)
    (2, 8, 32, (2, 4)),
    (1, 8, 32, (1, 8)),
    (3, 8, 6, (4, 2)),     # the batch must split: 6 over 2, not over 4
    (1, 8, 6, (4, 2)),
    (5, 1, 32, (1, 1)),
])
def test_default_mesh_shape(folds, devices, batch, shape):
    assert placement.default_mesh_shape(folds, devices, batch) == shape


def test_chunks_are_fewest_and_balanced():
    assert placement.chunks(68, 8, 100) == [list(range(68))]
    sizes = [len(c) for c in placement.chunks(68, 8, 4)]  # at most 32 per program
    assert sizes == [24, 24, 20]  # 3 chunks either way; 24 (3 per device) pads least
    assert [len(c) for c in placement.chunks(5, 2, 1)] == [2, 2, 1]
    assert sum(placement.chunks(26, 4, 2), []) == list(range(26))
    assert placement.padded([4, 5], 4) == [4, 5, 4, 4]


def test_make_mesh_checks_its_arguments():
    mesh = placement.make_mesh(num_folds=5, batch_size=8)
    assert mesh.axis_names == ("fold", "data") and mesh.size >= 1
    with pytest.raises(ValueError, match="devices"):
        placement.make_mesh(5, 8, num_devices=10_000)
    with pytest.raises(ValueError, match="needs 4 devices"):
        placement.make_mesh(5, 8, fold=2, data=2, num_devices=1)


def test_multi_process_environment_is_detected():
    assert not distributed.multi_process_environment({})
    assert not distributed.multi_process_environment({"TPU_WORKER_HOSTNAMES": "localhost"})
    assert distributed.multi_process_environment({"TPU_WORKER_HOSTNAMES": "w-0,w-1,w-2,w-3"})
    assert distributed.multi_process_environment({"SLURM_NTASKS": "2"})
    assert distributed.multi_process_environment({"OMPI_COMM_WORLD_SIZE": "4"})
