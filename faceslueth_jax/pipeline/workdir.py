"""Stage 2: the workdir claimed before anything is written or compiled.

A workdir holds one experiment. ``experiment.json`` records what decides its numbers:
the config less ``fit.NOT_FINGERPRINTED`` (``fit.decisive_config``), a digest of the
data's identity, and the device and process counts. A rerun into the folder resumes
or re-reports only when all of these are equal; otherwise it is refused naming what
differs, and the folder is left byte for byte as it was (no config.json, log or
TensorBoard file). A folder made before ``experiment.json`` existed is compared
through its ``config.json``. A workdir that is a file, a non-empty folder holding no
run, or a folder that cannot be written is refused the same way.
"""

from __future__ import annotations

import json
import os
import pathlib
import tempfile

import jax

from faceslueth_jax import atomic_files
from faceslueth_jax.pipeline import fit
from faceslueth_jax.train import checkpoints as checkpoints_lib

EXPERIMENT_FILE = "experiment.json"


class WorkdirError(ValueError):
    """The workdir cannot take this run; the message names it and what to do."""


def _normal(tree):
    """``tree`` as JSON reads it back (tuples as lists), for comparing."""
    return json.loads(json.dumps(tree, sort_keys=True, default=str))


def _differences(there: dict, here: dict, prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(there) | set(here)):
        a, b = there.get(key, "<absent>"), here.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key} {a!r} there, {b!r} here")
    return out


def _recorded(workdir: pathlib.Path) -> dict | None:
    """The experiment the workdir holds: experiment.json, else (an older run) its
    config.json's decisive fields; None for a folder holding no run."""
    try:
        if (workdir / EXPERIMENT_FILE).is_file():
            return json.loads((workdir / EXPERIMENT_FILE).read_text())
        if (workdir / "config.json").is_file():
            saved = json.loads((workdir / "config.json").read_text())
            return {"config": fit.drop_not_fingerprinted(saved)}
    except (OSError, ValueError) as e:
        raise WorkdirError(f"--workdir={workdir}: its record of the experiment cannot be "
                           f"read ({e}): use a new --workdir") from None
    return None


def _writable(folder: pathlib.Path) -> None:
    try:
        handle, probe = tempfile.mkstemp(dir=folder, prefix=".write-probe-")
        os.close(handle)
        os.unlink(probe)
    except OSError as e:
        raise WorkdirError(f"--workdir={folder} cannot be written ({e.strerror or e}): "
                           "choose a folder you can write") from None


def claim(workdir, config) -> None:
    """Before the data: WorkdirError unless ``workdir`` is new, empty, or holds a run
    of this config."""
    workdir = pathlib.Path(workdir)
    if workdir.exists() and not workdir.is_dir():
        raise WorkdirError(f"--workdir={workdir} is a file, not a folder: choose another path")
    for parent in workdir.absolute().parents:
        if parent.exists() and not parent.is_dir():
            raise WorkdirError(f"--workdir={workdir}: {parent} is a file, not a folder")
    if not workdir.is_dir():
        return
    _writable(workdir)
    recorded = _recorded(workdir)
    if recorded is None:
        if any(workdir.iterdir()):
            raise WorkdirError(f"--workdir={workdir} is a folder holding other files and no "
                               "run: give a new or empty folder")
        return
    differ = _differences(recorded["config"], _normal(fit.decisive_config(config)))
    if differ:
        raise WorkdirError(
            f"--workdir={workdir} holds a run of another experiment ({'; '.join(differ[:3])}"
            f"{'; ...' if len(differ) > 3 else ''}): use a new --workdir, or the command "
            "that made it; nothing was changed")


def _data_digest(identity: dict) -> str:
    return checkpoints_lib.fingerprint(identity)


def check_data(workdir, identity: dict) -> None:
    """After the data is read: WorkdirError when the workdir's run was trained on
    other data, or on another number of devices or processes."""
    recorded = _recorded(pathlib.Path(workdir)) if pathlib.Path(workdir).is_dir() else None
    if not recorded or "data" not in recorded:
        return
    here = {"data": _data_digest(identity), "devices": jax.device_count(),
            "processes": jax.process_count()}
    differ = [f"{k} {recorded[k]!r} there, {v!r} here" for k, v in here.items()
              if recorded.get(k) != v]
    if differ:
        raise WorkdirError(f"--workdir={workdir} holds a run made on other data or devices "
                           f"({'; '.join(differ)}): use a new --workdir; nothing was changed")


def record(workdir, config, identity: dict) -> None:
    """Write experiment.json (a new run; a rerun's equal record is left as it is)."""
    path = pathlib.Path(workdir) / EXPERIMENT_FILE
    if path.is_file():
        return
    atomic_files.write_json(path, {"config": _normal(fit.decisive_config(config)),
                                   "data": _data_digest(identity),
                                   "devices": jax.device_count(),
                                   "processes": jax.process_count()})
