"""What a data set's records were built from, so that a later build can tell whether
the records it finds are this source's.

A fingerprint holds the builder's name and version, its config (every record option)
and ``on_error``, the sha256 of every sheet (a file whose suffix is in SHEET_SUFFIXES:
the annotation tables), and for every other folder of ``manual_dir`` the count, total
size and a digest of the names and sizes of its files (the frames; hashing their
contents would read the whole database on every start). The folder it was built from
and when are kept too, but are not compared: the same database mounted elsewhere is
the same source. A file the file system will not give (a symbolic link that loops or
leads nowhere, no permission) is a BadInputError naming it, whatever ``on_error``.
"""

from __future__ import annotations

import dataclasses
import datetime
import errno
import hashlib
import os
import pathlib

from tfds_builders.errors import BadInputError

SHEET_SUFFIXES = frozenset({".csv", ".tsv", ".txt", ".xls", ".xlsx", ".json"})
COMPARED = ("builder", "version", "config", "on_error", "sheets", "folders")
METADATA_KEY = "source"


def _sha256(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def unreadable(path: pathlib.Path, error: OSError, database: str = "") -> BadInputError:
    """The one-line error for a file of manual_dir the file system will not give: a
    symbolic link that loops (Errno 40) or leads nowhere, no permission, ..."""
    path = pathlib.Path(path)
    if error.errno == errno.ELOOP:
        why = "a symbolic link that loops (too many levels of symbolic links)"
    elif error.errno == errno.ENOENT and path.is_symlink():
        why = f"a symbolic link to {os.readlink(path)}, which does not exist"
    else:
        why = error.strerror or str(error)
    prefix = f"{database}: " if database else ""
    return BadInputError(f"{prefix}{path} in manual_dir cannot be read: {why}; fix or remove it")


def of_folder(manual_dir, database: str = "") -> tuple[dict, dict]:
    """(sheets: {relative path: sha256}, folders: {relative folder: 'N files, B bytes,
    digest'}) of every file under ``manual_dir``. A file or folder that cannot be read
    (a symbolic link looping or leading nowhere, no permission) raises BadInputError
    naming it (``unreadable``; ``database`` starts the message): records cannot say
    what they were built from without it."""
    root = pathlib.Path(manual_dir)
    sheets, folders = {}, {}

    def refuse(error: OSError):
        if root.exists():  # no manual_dir at all: nothing was built from it (empty)
            raise unreadable(pathlib.Path(error.filename or root), error, database)

    for folder, subfolders, names in os.walk(root, onerror=refuse):
        subfolders.sort()
        here = pathlib.Path(folder)
        digest, count, size = hashlib.sha256(), 0, 0
        for name in sorted(names):
            path = here / name
            try:
                if path.suffix.lower() in SHEET_SUFFIXES:
                    sheets[path.relative_to(root).as_posix()] = _sha256(path)
                    continue
                bytes_ = path.stat().st_size
            except OSError as e:
                raise unreadable(path, e, database) from e
            digest.update(f"{name}\0{bytes_}\n".encode())
            count, size = count + 1, size + bytes_
        if count:
            folders[here.relative_to(root).as_posix()] = (
                f"{count} files, {size} bytes, {digest.hexdigest()[:12]}")
    return sheets, folders


def _config_fields(builder) -> dict:
    config = builder.builder_config
    if config is None:
        return {}
    if dataclasses.is_dataclass(config):
        fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
                  if f.name not in ("description", "release_notes", "tags")}
    else:
        fields = {"name": config.name}
    return {k: v if isinstance(v, (int, float, str, bool, type(None))) else str(v)
            for k, v in fields.items()}


def of_source(builder, manual_dir=None) -> dict:
    """The fingerprint of building ``builder``'s records from ``manual_dir`` now."""
    sheets, folders = of_folder(manual_dir, builder.name) if manual_dir else ({}, {})
    return {"builder": builder.name, "version": str(builder.version),
            "config": _config_fields(builder), "on_error": getattr(builder, "on_error", ""),
            "sheets": sheets, "folders": folders,
            "built_from": str(pathlib.Path(manual_dir).resolve()) if manual_dir else "",
            "built_at": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds")}


def record(builder, manual_dir=None) -> None:
    """Put ``of_source(builder, manual_dir)`` in the builder's metadata: called by every
    builder's ``_split_generators``, so records built by any path (``building``,
    ``download_and_prepare``, ``tfds build``) say where they came from."""
    builder.info.metadata[METADATA_KEY] = of_source(builder, manual_dir)


def _listed(names, limit: int = 3) -> str:
    names = sorted(names)
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def difference(recorded: dict, now: dict) -> str | None:
    """What differs between two fingerprints, in words ('sheet X changed', 'frame
    folder Y changed (12 files, ... -> ...)', 'on_error skip -> raise'), or None."""
    for key in COMPARED:
        old, new = recorded.get(key), now.get(key)
        if old == new:
            continue
        if key in ("sheets", "folders"):
            what = "sheet" if key == "sheets" else "frame folder"
            old, new = old or {}, new or {}
            changed = [k for k in old.keys() & new.keys() if old[k] != new[k]]
            if changed:
                first = sorted(changed)[0]
                detail = "" if key == "sheets" else f" ({old[first]} -> {new[first]})"
                return f"{what} {_listed(changed)} changed{detail}"
            if new.keys() - old.keys():
                return f"{what} {_listed(new.keys() - old.keys())} added"
            return f"{what} {_listed(old.keys() - new.keys())} missing"
        if key == "config":
            fields = sorted(k for k in (old or {}).keys() | (new or {}).keys()
                            if (old or {}).get(k) != (new or {}).get(k))
            return "options " + ", ".join(
                f"{k} {(old or {}).get(k)!r} -> {(new or {}).get(k)!r}" for k in fields)
        return f"{key} {old!r} -> {new!r}"
    return None
