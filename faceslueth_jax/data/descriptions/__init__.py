"""Recorded descriptions of licensed data sets: what planning needs without the data.

A description holds every sample's database, subject, id and label, the class names
and each view's per-sample shape, as the records hold them (``record``). ``load``
turns it back into ``records.MEData`` whose views are zeros of those shapes: the
folds, fold sizes and program shapes are those of the real data, the values are not.
So a sweep can be planned and compiled for a target (``faceslueth_jax.plan``) on a
machine that has no licence for the data.

  python -m faceslueth_jax.data.descriptions --config=configs/loso_composite.py \\
      --config.data.manual_dir=/path/to/HTNet     # writes htnet_composite.json here
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

from faceslueth_jax.data import records

HERE = pathlib.Path(__file__).parent


def path_of(name: str) -> pathlib.Path:
    return HERE / f"{name}.json"


def available(name: str) -> bool:
    return path_of(name).is_file()


def record(data: records.MEData, name: str) -> dict:
    """The description of ``data``, the records of data set ``name``."""
    return {"name": name, "class_names": list(data.class_names),
            "view_shapes": {k: list(v.shape[1:]) for k, v in data.views.items()},
            "samples": [[str(d), str(s), str(i), int(y)] for d, s, i, y in
                        zip(data.dataset, data.subject, data.sample_id, data.label)]}


def load(name: str) -> records.MEData:
    """The recorded description of ``name`` as MEData with zero views."""
    meta = json.loads(path_of(name).read_text())
    samples = meta["samples"]
    n = len(samples)
    column = lambda j: np.array([s[j] for s in samples])
    return records.MEData(
        views={k: np.zeros((n,) + tuple(shape), np.float32)
               for k, shape in meta["view_shapes"].items()},
        label=column(3).astype(np.int32), subject=column(1), dataset=column(0),
        sample_id=column(2), class_names=tuple(meta["class_names"]))
