"""The output folder of predict and analyze (``atomic_files.new_folder``): made whole at
the end, never a part, and never written into when it exists."""

from __future__ import annotations

import pytest

from faceslueth_jax import atomic_files
from faceslueth_jax.inference import command


def test_a_new_folder_appears_whole_or_not_at_all(tmp_path):
    out = tmp_path / "deep" / "out"
    with atomic_files.new_folder(out) as staging:
        (staging / "a.txt").write_text("a")
        assert not out.exists()
    assert [p.name for p in out.iterdir()] == ["a.txt"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"]  # no staging left

    failed = tmp_path / "failed"
    with pytest.raises(RuntimeError):
        with atomic_files.new_folder(failed) as staging:
            (staging / "a.txt").write_text("a")
            raise RuntimeError("the run broke")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep"]

    raced = tmp_path / "raced"
    with pytest.raises(FileExistsError):
        with atomic_files.new_folder(raced) as staging:
            (staging / "new.txt").write_text("new")
            raced.mkdir()
            (raced / "theirs.txt").write_text("theirs")
    assert [p.name for p in raced.iterdir()] == ["theirs.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep", "raced"]


def test_out_is_refused_where_no_new_folder_can_be_made(tmp_path):
    assert command.out_problem(None) is None
    assert command.out_problem(tmp_path / "new" / "out") is None
    (tmp_path / "file").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    for path, says in ((tmp_path, "already exists (a folder)"),
                       (tmp_path / "file", "already exists (a file)"),
                       (tmp_path / "link", "already exists"),
                       (tmp_path / "file" / "out", f"{tmp_path / 'file'} is a file")):
        message = command.out_problem(path)
        assert message.startswith(f"--out={path} ") and says in message, message
