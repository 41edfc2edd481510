"""Which TFDS builder serves a config's ``data.name``, and building it on first use."""

from __future__ import annotations

import os

import jax

from faceslueth_jax import distributed
from tfds_builders import building, registry


class DataUnavailable(RuntimeError):
    """The data a config asks for cannot be had; the message says what to do."""


def _builder(cfg, data_dir: str):
    try:
        with building.quiet():  # no "Using custom data configuration: <config>" warning
            return registry.make(cfg.name, data_dir, synthetic=dict(cfg.get("synthetic") or {}),
                                 build=dict(cfg.get("build") or {}),
                                 on_error=cfg.get("on_error", "raise"))
    except registry.UnknownBuilder as e:
        raise DataUnavailable(str(e)) from None


def prepare(cfg):
    """The config's builder, its records built if needed (atomically, by TFDS).

    A process that builds says so on one line ("building NAME records from
    MANUAL_DIR into DIR (first use)"), in place of TFDS's download notes and
    progress bars (``tfds_builders.building``); a failed build leaves nothing
    under data_dir. With several processes, process 0 builds first and the
    others wait, then find the data set built (shared disk) or build their own
    copy (local disks). A failure on any process stops every process (no host is
    left waiting).
    """
    builder = _builder(cfg, os.path.expanduser(cfg.data_dir))
    manual_dir = cfg.get("manual_dir") or None
    instructions = getattr(builder, "MANUAL_DOWNLOAD_INSTRUCTIONS", None)
    fault = building.manual_dir_fault(manual_dir) if manual_dir else "is not set"
    error = None
    if instructions and fault and not building.is_built(builder):
        error = DataUnavailable(
            f"data.name={cfg.name!r} needs --config.data.manual_dir, an existing folder "
            f"(got {manual_dir!r}, which {fault}). {instructions}")
    _build_turn(cfg.name, "located", error)
    _build_turn(cfg.name, "built by process 0",
                _try_build(builder, manual_dir) if jax.process_index() == 0 else None)
    _build_turn(cfg.name, "built by the other processes",
                _try_build(builder, manual_dir) if jax.process_index() != 0 else None)
    return builder


def _try_build(builder, manual_dir: str | None) -> Exception | None:
    """Build ``builder``'s records unless they are there, announcing it; the error
    a build raised, or None."""
    if building.is_built(builder):
        return None
    print(f"{building.announcement(builder, manual_dir)} (first use)", flush=True)
    try:
        building.build(builder, manual_dir)
    except Exception as e:  # noqa: BLE001 - re-raised by _build_turn on this process
        return e
    return None


def _build_turn(name: str, stage: str, error: Exception | None) -> None:
    """Raise ``error`` here, and a DataUnavailable on every other process, when any
    process failed at this stage; otherwise return on all of them together."""
    if distributed.all_true(error is None):
        return
    if error is not None:
        raise error
    raise DataUnavailable(f"data set {name!r} failed on another process while being "
                          f"{stage}; the error is in that process's output")


def database_names(cfg) -> tuple:
    """The data sets a config reads: ``data.names`` when given (several databases,
    e.g. for leave-one-database-out), else ``data.name``."""
    return tuple(cfg.get("names") or ()) or (cfg.name,)


def one_database(cfg, name: str):
    """``cfg`` (an ``ml_collections.ConfigDict``) for one of its ``data.names``: that
    name and its ``data.manual_dirs`` entry (default ``data.manual_dir``)."""
    single = cfg.copy_and_resolve_references()
    with single.unlocked():
        single.name = name
        single.manual_dir = (cfg.get("manual_dirs") or {}).get(name) or cfg.get("manual_dir", "")
        single.names = ()
    return single


def prepare_all(cfg) -> list:
    """The builder of every data set the config reads, each built if needed (``prepare``)."""
    return [prepare(one_database(cfg, name)) for name in database_names(cfg)]

