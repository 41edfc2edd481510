"""Every fold model's final variables on disk, one file per model, written once.

A sweep of I = S x F models writes instance i's variables after its last epoch, the
ones it is tested with ({"params", "batch_stats"}), to ``<dir>/<i>.msgpack``
(``flax.serialization``), each file atomically, from process 0. The trainer fetches
one instance at a time from its devices, so host memory holds one model's variables,
not I of them, and checkpoints never hold them: a resumed sweep finds the finished
chunks' files already written (they are written before the chunk's last checkpoint).
The model folder links these files (``inference.model_folder``).
"""

from __future__ import annotations

import pathlib

import flax
import jax
import numpy as np

from faceslueth_jax import atomic_files


class MemberFiles:
    """``<directory>/<i>.msgpack`` for instances i = 0 .. count - 1."""

    def __init__(self, directory, count: int):
        self.directory = pathlib.Path(directory)
        self.count = count

    def path(self, i: int) -> pathlib.Path:
        return self.directory / f"{i:05d}.msgpack"

    def write(self, i: int, variables: dict) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        atomic_files.write_bytes(self.path(i), flax.serialization.msgpack_serialize(
            jax.tree.map(np.asarray, variables)))

    def missing(self) -> list[int]:
        return [i for i in range(self.count) if not self.path(i).is_file()]

    def read(self, i: int) -> dict:
        return flax.serialization.msgpack_restore(self.path(i).read_bytes())
