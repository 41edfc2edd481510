"""Which TFDS builder serves a config's ``data.name``, and building it on first use."""

from __future__ import annotations

import os

import jax

from faceslueth_jax import distributed
from tfds_builders import building, registry


class DataUnavailable(RuntimeError):
    """The data a config asks for cannot be had; the message says what to do."""


def _builder(cfg, data_dir: str):
    build = {k: v for k, v in dict(cfg.get("build") or {}).items() if k != "overwrite"}
    try:
        with building.quiet():  # no "Using custom data configuration: <config>" warning
            return registry.make(cfg.name, data_dir, synthetic=dict(cfg.get("synthetic") or {}),
                                 build=build, on_error=cfg.get("on_error", "raise"))
    except registry.UnknownBuilder as e:
        raise DataUnavailable(str(e)) from None


def prepare(cfg):
    """The config's builder, its records built if needed (atomically, by TFDS).

    A process that builds says so on one line ("building NAME records from
    MANUAL_DIR into DIR (first use)"), in place of TFDS's download notes and
    progress bars (``tfds_builders.building``); a failed build leaves nothing
    under data_dir. Records already there are reused when they were built from the
    same source as ``manual_dir`` and refused in one line when not;
    ``data.build.overwrite=True`` rebuilds them. With several processes, process 0 builds first and the
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
    # data.build.overwrite: process 0 rebuilds; the others then rebuild only a copy of
    # their own that differs from the source (none when the disk is shared)
    overwrite = bool((cfg.get("build") or {}).get("overwrite", False))
    first = jax.process_index() == 0
    builder, error = _try_build(builder, manual_dir, "always" if overwrite else "never",
                                turn=first)
    _build_turn(cfg.name, "built by process 0", error)
    builder, error = _try_build(builder, manual_dir, "if_changed" if overwrite else "never",
                                turn=not first)
    _build_turn(cfg.name, "built by the other processes", error)
    return builder


def _try_build(builder, manual_dir: str | None, rebuild: str, turn: bool):
    """(the builder to read, the error its preparation raised or None): its records
    built, reused or rebuilt (``building.prepare``) when it is this process's turn."""
    if not turn:
        return builder, None
    try:
        return building.prepare(builder, manual_dir, rebuild,
                                say=lambda line: print(line, flush=True)), None
    except Exception as e:  # noqa: BLE001 - re-raised by _build_turn on this process
        return builder, e


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


def stored_flow_norm(cfg) -> str:
    """How the config's records store flow ('raw' or 'minmax'; the records' chain,
    ``tfds_builders.registry.clip_chain``), which data sets read together share."""
    stored = {registry.clip_chain(name, synthetic=dict(cfg.get("synthetic") or {}),
                                  build=dict(cfg.get("build") or {}))["flow_norm"]
              for name in database_names(cfg)}
    if len(stored) > 1:
        raise ValueError(f"data.names {list(database_names(cfg))} store flow differently "
                         f"({sorted(stored)}): read them with data.flow_norm='minmax'")
    return stored.pop()


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

