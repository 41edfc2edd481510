"""Which TFDS builder serves a config's ``data.name``, and building it on first use."""

from __future__ import annotations

import os
import pathlib

import jax
import tensorflow_datasets as tfds

from faceslueth_jax import distributed
from tfds_builders import registry

class DataUnavailable(RuntimeError):
    """The data a config asks for cannot be had; the message says what to do."""


def _builder(cfg, data_dir: str):
    try:
        return registry.make(cfg.name, data_dir, synthetic=dict(cfg.get("synthetic") or {}),
                             build=dict(cfg.get("build") or {}),
                             on_error=cfg.get("on_error", "raise"))
    except registry.UnknownBuilder as e:
        raise DataUnavailable(str(e)) from None


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
