"""Outputs appear whole: a replaced folder is the old one or the new one, never a part;
and the version written into model folders is the installed one."""

from __future__ import annotations

import os
import pathlib
import tomllib

import pytest

import faceslueth_jax
from faceslueth_jax import atomic_files

REPO = pathlib.Path(__file__).resolve().parents[1]


def _folder(path: pathlib.Path, text: str) -> pathlib.Path:
    path.mkdir()
    (path / "model.json").write_text(text)
    return path


def test_a_folder_is_swapped_in_whole_and_the_old_one_kept_when_that_fails(tmp_path,
                                                                           monkeypatch):
    target = _folder(tmp_path / "model", "old")
    atomic_files.replace_folder(_folder(tmp_path / "new", "new"), target)
    assert (target / "model.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # nothing aside is left

    staging = _folder(tmp_path / "newer", "newer")
    real = os.replace

    def fails_for_the_new_folder(src, dst):
        if pathlib.Path(src) == staging:
            raise OSError("disk full")
        return real(src, dst)

    monkeypatch.setattr(atomic_files.os, "replace", fails_for_the_new_folder)
    with pytest.raises(OSError, match="disk full"):
        atomic_files.replace_folder(staging, target)
    assert (target / "model.json").read_text() == "new"  # the old folder, whole


def test_the_version_is_the_projects():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert faceslueth_jax.__version__ == pyproject["project"]["version"]


def test_a_file_path_taken_by_a_folder_or_under_a_file_is_named(tmp_path):
    afile = tmp_path / "a"
    afile.write_text("x")
    assert atomic_files.file_problem(tmp_path / "new" / "t.md", tmp_path / "t.json") is None
    assert atomic_files.file_problem(tmp_path) == f"{tmp_path} is a folder, not a file name"
    assert atomic_files.file_problem(tmp_path / "ok", afile / "b" / "t.md") == (
        f"{afile} is a file, not a folder")
