"""Sweep checkpoints: a resumed sweep ends exactly as an uninterrupted one; an
unreadable newest step is reported and skipped; a foreign checkpoint is refused."""

from __future__ import annotations

import os
import shutil

import ml_collections
import numpy as np
import pytest

from faceslueth_jax.train import checkpoints as ckpt
from tests import tiny_problem

EPOCHS = 3


class Interrupted(Exception):
    pass


@pytest.fixture(scope="module")
def problem():
    views, labels, folds = tiny_problem.trainer_data()
    trainer = tiny_problem.tiny_trainer(tiny_problem.trainer_config(), views, labels, folds)
    return trainer, folds


def _fit(problem, directory=None, on_epoch=None, fingerprint="sweep", keep=10, epochs=EPOCHS):
    trainer, folds = problem
    checkpoints = directory and ckpt.SweepCheckpoints(directory, 1, keep, fingerprint)
    try:
        return trainer.fit(folds, epochs, seed=0, max_folds_per_chunk=2,
                           checkpoints=checkpoints, on_epoch=on_epoch), checkpoints
    except Interrupted:
        checkpoints.close()
        return None, checkpoints


def _assert_identical(a, b):
    for name in ("loss", "test_logits", "diverged"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.probes.keys() == b.probes.keys()
    for name in a.probes:
        np.testing.assert_array_equal(a.probes[name], b.probes[name], err_msg=name)


@pytest.fixture(scope="module")
def uninterrupted(problem):
    history, _ = _fit(problem)
    assert history.execution["num_chunks"] == 2  # 4 folds, 2 per program
    return history


def test_resumed_sweep_equals_uninterrupted(problem, uninterrupted, tmp_path):
    def crash(chunk, num_chunks, epoch, epochs, record):
        if (chunk, epoch) == (1, 1):  # mid-way through the second chunk
            raise Interrupted

    history, _ = _fit(problem, tmp_path, on_epoch=crash)
    assert history is None
    resumed, checkpoints = _fit(problem, tmp_path)
    assert resumed.execution["resumed_from_step"] == EPOCHS + 1  # chunk 0 done, 1 epoch of chunk 1
    _assert_identical(resumed, uninterrupted)


def test_checkpoints_of_another_sweep_are_refused(problem, tmp_path):
    def crash(chunk, num_chunks, epoch, epochs, record):
        if epoch == 1:  # after the first epoch's checkpoint
            raise Interrupted

    _fit(problem, tmp_path, on_epoch=crash)
    assert (tmp_path / "1").is_dir()
    with pytest.raises(ckpt.CheckpointMismatch, match="another experiment"):
        _fit(problem, tmp_path, fingerprint="another sweep")


def test_fingerprint_follows_the_numbers():
    a = ckpt.fingerprint({"lr": 1e-3}, [1, 2])
    assert a == ckpt.fingerprint({"lr": 1e-3}, [1, 2])
    assert a != ckpt.fingerprint({"lr": 2e-3}, [1, 2])
    assert a != ckpt.fingerprint({"lr": 1e-3}, np.array([1, 3]))


def test_a_model_without_soa_layers_resumes(tmp_path):
    """HTNet has no SOA angle to probe and no BatchNorm state; it resumes."""
    config = tiny_problem.tiny_config()
    config.model = ml_collections.ConfigDict(dict(name="htnet", preset="tiny"))
    config.model.htnet = dict(image_size=16, patch_size=4, dim=8, heads=1, num_hierarchies=2,
                              block_repeats=(1, 1), mlp_mult=2, dropout=0.0, input_scale=1.0)
    views, labels, folds = tiny_problem.tiny_data()
    problem = (tiny_problem.tiny_trainer(config, views, labels, folds), folds)
    uninterrupted, _ = _fit(problem)
    assert uninterrupted.probes == {}

    def crash(chunk, num_chunks, epoch, epochs, record):
        if (chunk, epoch) == (1, 1):
            raise Interrupted

    assert _fit(problem, tmp_path, on_epoch=crash)[0] is None
    resumed, _ = _fit(problem, tmp_path)
    assert resumed.execution["resumed_from_step"] == EPOCHS + 1
    _assert_identical(resumed, uninterrupted)


def _steps(directory):
    return sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit())


@pytest.fixture(scope="module")
def finished(problem, tmp_path_factory):
    """The checkpoints of a finished sweep (copied by each test that changes them)."""
    directory = tmp_path_factory.mktemp("finished") / "checkpoints"
    _fit(problem, directory)
    return directory


def _copy(finished, tmp_path):
    target = tmp_path / "checkpoints"
    shutil.copytree(finished, target)
    return target


def _largest(folder):
    return max((f for f in folder.iterdir() if f.is_file()), key=lambda f: f.stat().st_size)


# every way a step's files get damaged: each takes the documented path
DAMAGE = {
    "data file truncated to 1000 bytes":
        lambda step: os.truncate(_largest(step / "state" / "ocdbt.process_0" / "d"), 1000),
    "every data file halved": lambda step: [
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
        for f in (step / "state").rglob("*") if f.is_file() and f.stat().st_size > 200],
    "data file missing": lambda step: _largest(step / "state" / "ocdbt.process_0" / "d").unlink(),
    "manifest garbled": lambda step: (step / "state" / "manifest.ocdbt").write_bytes(b"x" * 64),
    "array metadata missing": lambda step: (step / "state" / "_METADATA").unlink(),
    "progress garbled": lambda step: (step / "progress" / "metadata").write_text("{not json"),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_newest_step_is_set_aside_and_the_previous_used(problem, uninterrupted,
                                                                   finished, tmp_path, damage):
    directory = _copy(finished, tmp_path)
    newest = 2 * EPOCHS
    DAMAGE[damage](directory / str(newest))
    resumed, _ = _fit(problem, directory)
    skipped = resumed.execution["checkpoints_skipped"]
    assert [s["step"] for s in skipped] == [newest], skipped
    assert "unreadable" in skipped[0]["error"]
    assert resumed.execution["resumed_from_step"] == newest - 1
    assert (directory.parent / "checkpoints.corrupt" / str(newest)).is_dir()
    _assert_identical(resumed, uninterrupted)


def test_a_checkpoint_of_another_layout_is_refused_and_kept(problem, finished, tmp_path):
    """Same fingerprint, other arrays (as after a code change; here the records of a
    longer schedule): a clear error naming the layout, and every step stays where it is."""
    tmp_path = _copy(finished, tmp_path)
    before = _steps(tmp_path)
    with pytest.raises(ckpt.CheckpointMismatch, match="history of another layout.*nothing was "
                                                      "moved"):
        _fit(problem, tmp_path, epochs=EPOCHS + 1)
    assert _steps(tmp_path) == before
    assert not (tmp_path.parent / f"{tmp_path.name}.corrupt").exists()


def test_a_file_system_error_is_raised_not_taken_for_damage(problem, finished, tmp_path,
                                                           monkeypatch):
    """A read that fails for the file system's sake (here: permission denied) stops the
    run with that error; no checkpoint is set aside, so a later rerun resumes."""
    tmp_path = _copy(finished, tmp_path)
    before = _steps(tmp_path)

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path))
    monkeypatch.setattr(ckpt.ocp.CheckpointManager, "restore", denied)
    with pytest.raises(PermissionError):
        _fit(problem, tmp_path)
    assert _steps(tmp_path) == before
    assert not (tmp_path.parent / f"{tmp_path.name}.corrupt").exists()


def test_saves_wait_for_the_minimum_interval(tmp_path):
    """A save is due at an epoch mark only once min_seconds have passed since the last
    one; the sweep's last step is always due."""
    checkpoints = ckpt.SweepCheckpoints(tmp_path / "c", 1, 2, "sweep", min_seconds=3600)
    try:
        assert not checkpoints.due(1, 5)
        assert checkpoints.due(5, 5, last_step=True)
        checkpoints.min_seconds = 0
        assert checkpoints.due(1, 5)
        checkpoints.every = 2
        assert not checkpoints.due(1, 5) and checkpoints.due(2, 5) and checkpoints.due(5, 5)
    finally:
        checkpoints.close()
