"""Which TFDS builder serves a config's ``data.name``, and building it on first use."""

from __future__ import annotations

import importlib
import os
import pathlib

import jax
import tensorflow_datasets as tfds

from faceslueth_jax import distributed

# data.name -> (module, class) of the builders that read a licensed database from manual_dir
DATABASE_BUILDERS = {
    "casme2": ("tfds_builders.casme2", "Casme2"),
    "samm": ("tfds_builders.samm", "Samm"),
    "smic_hs": ("tfds_builders.smic_hs", "SmicHs"),
    "casme3": ("tfds_builders.casme3", "Casme3"),
    "megc2019_composite": ("tfds_builders.megc2019_composite", "Megc2019Composite"),
}


class DataUnavailable(RuntimeError):
    """The data a config asks for cannot be had; the message says what to do."""


def database_builder(name: str):
    """The builder class for a licensed database's ``data.name``."""
    module, cls = DATABASE_BUILDERS[name]
    return getattr(importlib.import_module(module), cls)


def _builder(cfg, data_dir: str):
    if cfg.name == "synthetic_me":
        from tfds_builders.synthetic_me import SyntheticMe
        return SyntheticMe.from_fields(data_dir, **dict(cfg.synthetic))
    if cfg.name == "htnet_composite":
        from tfds_builders.htnet_composite import HtnetComposite
        return HtnetComposite(data_dir=data_dir, file_format="array_record")
    if cfg.name in DATABASE_BUILDERS:
        return database_builder(cfg.name).from_fields(
            data_dir, on_error=cfg.get("on_error", "raise"), **dict(cfg.build))
    raise DataUnavailable(f"unknown data.name {cfg.name!r}; known: synthetic_me, "
                          f"htnet_composite, {', '.join(DATABASE_BUILDERS)}")


def prepare(cfg):
    """The config's builder, its records built if needed (atomically, by TFDS).

    With several processes, process 0 builds first and the others wait, then
    find the data set built (shared disk) or build their own copy (local disks).
    A failure on any process stops every process (no host is left waiting).
    """
    builder = _builder(cfg, os.path.expanduser(cfg.data_dir))
    manual_dir = cfg.get("manual_dir") or None
    instructions = getattr(builder, "MANUAL_DOWNLOAD_INSTRUCTIONS", None)
    error = None
    if instructions and not builder.is_prepared() and not (
            manual_dir and pathlib.Path(manual_dir).is_dir()):
        error = DataUnavailable(
            f"data.name={cfg.name!r} needs --config.data.manual_dir, an existing folder "
            f"(got {manual_dir!r}). {instructions}")
    _build_turn(cfg.name, "located", error)
    download = tfds.download.DownloadConfig(manual_dir=manual_dir)
    _build_turn(cfg.name, "built by process 0",
                _try_build(builder, download) if jax.process_index() == 0 else None)
    _build_turn(cfg.name, "built by the other processes",
                _try_build(builder, download) if jax.process_index() != 0 else None)
    return builder


def _try_build(builder, download) -> Exception | None:
    try:
        builder.download_and_prepare(download_config=download)
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
