"""The files of a model folder, written: the format's name and version, its file
names, and ``write_folder`` (model.json and one weights file per member, whole or
absent). What the files hold, and reading them back: ``inference.model_folder``.

This sits below the layers that write model folders (a run's ``pipeline.artifacts``
through ``inference.model_folder``, ``spotting.experiment`` for a learned spotter,
``reference.convert``), so none of them imports a layer above its own.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import tempfile

import flax
import jax
import numpy as np

from faceslueth_jax import atomic_files

FORMAT = "faceslueth-jax model"
FORMAT_VERSION = 2
MODEL_JSON = "model.json"
MEMBERS = "members"              # format 2: one file per member


def write_folder(directory, meta: dict, members: list) -> pathlib.Path:
    """``directory`` with model.json (``meta``) and one weights file per member:
    ``members`` holds files (linked or copied) or {"params", "batch_stats"} trees
    (serialised). Written into a temporary sibling and renamed: whole or absent."""
    directory = pathlib.Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        (staging / MEMBERS).mkdir()
        for m, member in enumerate(members):
            target = staging / MEMBERS / f"{m:05d}.msgpack"
            if isinstance(member, dict):
                target.write_bytes(flax.serialization.msgpack_serialize(
                    jax.tree.map(np.asarray, member)))
            else:
                _link_or_copy(pathlib.Path(member), target)
        (staging / MODEL_JSON).write_text(json.dumps(meta, indent=2) + "\n")
        atomic_files.replace_folder(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def _link_or_copy(source: pathlib.Path, target: pathlib.Path) -> None:
    """A hard link (no bytes copied) where the file system allows, else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
