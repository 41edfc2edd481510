"""Atomic file writes: write a sibling temporary file, fsync, then os.replace.

A reader never sees a half-written file: it finds the old content or the new.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import os
import pathlib
import tempfile

import numpy as np


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(path, data: bytes) -> pathlib.Path:
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual file mode
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)
    return path


def file_problem(*paths) -> str | None:
    """Why a file cannot be written at one of ``paths`` (None: it can, as far as can be
    told before writing): a folder stands there, or a file where one of its folders
    should be."""
    for path in map(pathlib.Path, paths):
        if path.is_dir():
            return f"{path} is a folder, not a file name"
        above = _existing_above(path)
        if not above.is_dir():
            return f"{above} is a file, not a folder"
    return None


def json_beside(path) -> pathlib.Path:
    """``<path>.json``: where a command writing a table at ``path`` puts its figures."""
    path = pathlib.Path(path)
    return path.with_name(path.name + ".json")


def _existing_above(path) -> pathlib.Path:
    """The nearest existing path (a folder, a file or a link) above ``path``."""
    above = pathlib.Path(os.path.abspath(path)).parent
    while not os.path.lexists(above):
        above = above.parent
    return above


def _sync_folder(folder) -> None:
    """fsync ``folder``, so a rename into it survives a crash."""
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def write_text(path, text: str) -> pathlib.Path:
    return write_bytes(path, text.encode())


def write_json(path, obj) -> pathlib.Path:
    return write_text(path, json.dumps(obj, indent=2, allow_nan=True, default=str) + "\n")


def write_npz(path, **arrays) -> pathlib.Path:
    """``arrays`` as a compressed .npz (``np.savez_compressed``), written atomically."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return write_bytes(path, buffer.getvalue())


def write_csv(path, header, rows) -> pathlib.Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return write_text(path, buffer.getvalue())


def write_figure(path, figure) -> pathlib.Path:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    return write_bytes(path, buffer.getvalue())


def replace_folder(staging, target) -> pathlib.Path:
    """Put the complete folder ``staging`` at ``target``: an existing ``target`` is moved
    aside first and deleted only once ``staging`` is in place (restored if that
    fails), so ``target`` is always the old folder or the new one, never a part."""
    import shutil

    staging, target = pathlib.Path(staging), pathlib.Path(target)
    retired = None
    if target.exists():
        retired = target.with_name(f".{target.name}.old-{os.getpid()}")
        shutil.rmtree(retired, ignore_errors=True)
        os.replace(target, retired)
    try:
        os.replace(staging, target)
    except BaseException:
        if retired is not None:
            os.replace(retired, target)
        raise
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)
    return target


def new_folder_problem(path) -> str | None:
    """Why no new folder can be made at ``path`` (a phrase to follow the path), or None:
    something is there already (a folder, a file or a link), or the nearest existing
    folder above it is a file or cannot be written in. For a command to refuse its
    output folder before any work (``new_folder`` then makes it)."""
    path = pathlib.Path(path)
    if os.path.lexists(path):
        return f"already exists ({'a folder' if path.is_dir() else 'a file'})"
    above = _existing_above(path)
    if not above.is_dir():
        return f"cannot be made: {above} is a file, not a folder"
    if not os.access(above, os.W_OK | os.X_OK):
        return f"cannot be made: {above} is not writable"
    return None


@contextlib.contextmanager
def new_folder(target):
    """A new, empty temporary sibling of ``target`` to write into: when the block ends
    without an error it becomes ``target`` in one rename; on an error (or when
    ``target`` appeared meanwhile: FileExistsError) it is deleted. ``target`` is thus
    absent or complete, never a part, and an existing ``target`` is never touched."""
    import shutil

    target = pathlib.Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.",
                                            suffix=".tmp"))
    try:
        yield staging
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "it appeared while this command ran; the "
                                  "results were not written", str(target))
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes 0700; give the usual mode
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _sync_folder(target.parent)
