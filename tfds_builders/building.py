"""Building a data set: check manual_dir first, no TFDS download chatter, and
nothing left under data_dir by a build that fails.

Nothing these builders write is downloaded: the records are converted from a
local manual_dir or generated. TFDS 4.9 still announces every build as one:
``DatasetBuilder._log_download_bytes`` prints "Downloading and preparing dataset
Unknown size (download: Unknown size, ...) to DIR..." and ``_log_download_done``
"Dataset NAME downloaded and prepared to DIR. ..." (termcolor, to stdout); tqdm
draws "Generating splits" / "Shuffling" bars on stderr; and absl logs
"Using custom data configuration: <the whole config>" (every ``from_fields``
config not among BUILDER_CONFIGS), "Generating dataset ..." and "Done writing
...", and ``is_prepared`` warns "Variant folder DIR has no dataset_info.json"
for every data set not built yet. ``quiet`` drops exactly these (the log
records by message and origin, ``TfdsChatter``); every other log record and
print goes through. Callers print one line of their own instead
(``announcement``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pathlib
import shutil

import tensorflow_datasets as tfds
from tensorflow_datasets.core.utils import tqdm_utils

from faceslueth_jax import atomic_files
from tfds_builders import source_fingerprint
from tfds_builders.errors import BadInputError

# absl log messages (format strings) of TFDS that describe a build, not a problem
TFDS_CHATTER = frozenset({
    "Using custom data configuration: %s",
    "Generating dataset %s (%s)",
    "Done writing %s. Number of examples: %s (shards: %s)",
    "Variant folder %s has no %s",  # is_prepared() before the first build
})
# DatasetBuilder methods that print the download size and "downloaded and prepared"
TFDS_STATUS_PRINTS = ("_log_download_bytes", "_log_download_done")


class TfdsChatter(logging.Filter):
    """Drops the TFDS_CHATTER records logged from inside tensorflow_datasets."""

    def filter(self, record: logging.LogRecord) -> bool:
        from_tfds = f"{os.sep}tensorflow_datasets{os.sep}" in (record.pathname or "")
        return not (from_tfds and record.msg in TFDS_CHATTER)


@contextlib.contextmanager
def quiet(builder=None):
    """Within: TFDS's chatter records dropped from the absl logger, its progress
    bars off and, for ``builder``, its two status prints silent; all restored after."""
    logger = logging.getLogger("absl")
    chatter = TfdsChatter()
    bars = getattr(tqdm_utils, "_active", True)
    logger.addFilter(chatter)
    tfds.display_progress_bar(False)
    if builder is not None:
        for name in TFDS_STATUS_PRINTS:
            setattr(builder, name, lambda: None)  # shadows the method for this builder only
    try:
        yield
    finally:
        if builder is not None:
            for name in TFDS_STATUS_PRINTS:
                vars(builder).pop(name, None)
        tfds.display_progress_bar(bars)
        logger.removeFilter(chatter)


def is_built(builder) -> bool:
    """``builder.is_prepared()``, without its warning for a data set not built yet."""
    with quiet():
        return builder.is_prepared()


def manual_dir_fault(manual_dir) -> str | None:
    """Why ``manual_dir`` cannot hold a database ('does not exist', 'is not a
    folder', 'is empty'), or None when it can."""
    path = pathlib.Path(manual_dir)
    if not path.exists():
        return "does not exist"
    if not path.is_dir():
        return "is not a folder"
    if not any(path.iterdir()):
        return "is empty"
    return None


def announcement(builder, manual_dir=None) -> str:
    """'building NAME records from MANUAL_DIR into DIR' (DIR: the config's version
    folder; 'generated' in place of the source for builders that read no files)."""
    source = f"from {manual_dir}" if manual_dir else "(generated)"
    return f"building {builder.name} records {source} into {builder.data_dir}"


class _Additions:
    """What a build adds under data_dir: in the dataset's folder (data_dir/NAME/,
    with .config/ and each config's folder), TFDS's downloads/ (its extracted/ and
    manual/) and data_dir itself, compared with what was there before."""

    def __init__(self, builder):
        self.root = pathlib.Path(os.fspath(builder.data_dir_root))
        self.dataset = self.root / builder.name
        self.downloads = self.root / "downloads"
        self.root_existed = self.root.exists()
        self.before = self._paths()

    def _paths(self) -> set:
        paths = {p for p in (self.dataset, self.downloads) if p.exists()}
        if self.dataset.is_dir():
            paths.update(self.dataset.rglob("*"))
        if self.downloads.is_dir():
            paths.update(self.downloads.iterdir())
        return paths

    def remove(self) -> None:
        """Delete every path added since construction (outermost first), and
        data_dir itself when the build created it and it is left empty."""
        for path in sorted(self._paths() - self.before, key=lambda p: len(p.parts)):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        if not self.root_existed and self.root.is_dir() and not any(self.root.iterdir()):
            self.root.rmdir()


def build(builder, manual_dir=None) -> None:
    """``builder.download_and_prepare`` from ``manual_dir`` (None for builders that
    read no files) under ``quiet`` (the builder records its source's fingerprint in
    the metadata, ``source_fingerprint.record``); when it fails, whatever it added under data_dir
    is removed before the error propagates (TFDS removes only its incomplete
    folder, not the .config/ note, the config folder or downloads/)."""
    additions = _Additions(builder)
    try:
        with quiet(builder):
            builder.download_and_prepare(
                download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
    except BaseException:
        additions.remove()
        raise


REBUILDS = ("never", "if_changed", "always")
REBUILD_OPTIONS = "--overwrite (run.py: --config.data.build.overwrite=True)"


class StaleRecords(BadInputError):
    """The records under data_dir were built from another source than manual_dir."""


def recorded_source(builder) -> dict | None:
    """The fingerprint a built data set records of its source (None: built before
    fingerprints were recorded)."""
    recorded = (builder.info.metadata or {}).get(source_fingerprint.METADATA_KEY)
    return dict(recorded) if recorded else None


def same_builder(builder, data_dir: str):
    """A new builder of ``builder``'s class and config writing under ``data_dir``."""
    extra = {"on_error": builder.on_error} if hasattr(builder, "on_error") else {}
    return type(builder)(config=builder.builder_config, data_dir=data_dir,
                         file_format="array_record", **extra)


def prepare(builder, manual_dir=None, rebuild: str = "never", say=print):
    """``builder`` with its records built from ``manual_dir``: built when absent
    (``say``-ing the announcement), reused when they record the same source
    (``say``: 'reusing NAME records built from DIR at TIME'), rebuilt when
    ``rebuild`` is 'always', or 'if_changed' and the source differs; otherwise a
    differing source raises StaleRecords naming what changed. A rebuild writes
    beside the old records and swaps the folders when complete, so the old ones stay
    readable until then. Returns the builder to read (a new one after a rebuild)."""
    if rebuild not in REBUILDS:
        raise ValueError(f"rebuild must be one of {REBUILDS}, got {rebuild!r}")
    if not is_built(builder):
        say(f"{announcement(builder, manual_dir)} (first use)")
        build(builder, manual_dir)
        return builder
    recorded = recorded_source(builder)
    differs = None
    if manual_dir and recorded is None:
        differs = "they record no source (built by an earlier version of the builders)"
    elif manual_dir:
        differs = source_fingerprint.difference(
            recorded, source_fingerprint.of_source(builder, manual_dir))
    if rebuild == "always" or (differs and rebuild == "if_changed"):
        say(f"re{announcement(builder, manual_dir)}"
            + (f" ({differs})" if differs else " (overwrite)"))
        return _rebuild(builder, manual_dir)
    if differs:
        built = (f"built from {recorded.get('built_from') or '(generated)'} at "
                 f"{recorded.get('built_at', '?')}" if recorded else "")
        raise StaleRecords(f"{builder.name}: the records in {builder.data_dir} {built} do not "
                           f"match {manual_dir}: {differs}; rebuild them with "
                           f"{REBUILD_OPTIONS}")
    if manual_dir:
        say(f"reusing {builder.name} records built from {recorded.get('built_from')} at "
            f"{recorded.get('built_at')} ({builder.data_dir})")
    return builder


def _rebuild(builder, manual_dir):
    """Build ``builder``'s records in a staging folder beside data_dir, then swap the
    version folders (the old one is read until the swap, then deleted)."""
    final = pathlib.Path(os.fspath(builder.data_dir))
    root = pathlib.Path(os.fspath(builder.data_dir_root))
    staging = root / f".rebuild-{builder.name}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        fresh = same_builder(builder, str(staging))
        build(fresh, manual_dir)
        atomic_files.replace_folder(os.fspath(fresh.data_dir), final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return same_builder(builder, str(root))
