"""The fold-parallel trainer: placement-invariant, isolates divergent folds, learns."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from faceslueth_jax.train import fold_trainer
from tests import tiny_problem
from tests.conftest import REPO


@pytest.fixture(scope="module")
def problem():
    return tiny_problem.tiny_data()


def _fit(views, labels, folds, chunk, epochs=2, config=None):
    config = config or tiny_problem.tiny_config()
    trainer = fold_trainer.FoldTrainer(tiny_problem.tiny_model(config), config.train, views,
                                       labels, fold_trainer.make_mesh(1))
    return trainer.fit(folds, epochs=epochs, seed=0, folds_per_chunk=chunk)


def _assert_same_results(a, b, what):
    """Same predictions, logits equal up to float reassociation (per-fold weights
    under vmap become grouped convolutions, which sum in another order)."""
    np.testing.assert_allclose(a.test_logits, b.test_logits, atol=1e-4, err_msg=what)
    np.testing.assert_allclose(a.theta_deg, b.theta_deg, atol=1e-4, err_msg=what)
    assert (a.test_logits.argmax(-1) == b.test_logits.argmax(-1)).all(), what


def test_one_program_for_all_folds_equals_folds_in_turn(problem):
    views, labels, folds = problem
    config = tiny_problem.placement_config()
    in_turn = _fit(views, labels, folds, chunk=1, config=config)
    together = _fit(views, labels, folds, chunk=folds.num_folds, config=config)
    assert together.folds_per_chunk == folds.num_folds and in_turn.folds_per_chunk == 1
    assert np.abs(in_turn.test_logits[:, -1] - in_turn.test_logits[:, 0]).max() > 1e-2  # it trained
    _assert_same_results(together, in_turn, "all folds in one program")
    # 3 folds per program for 4 folds: the second chunk is padded with inert copies
    padded = _fit(views, labels, folds, chunk=3, config=config)
    _assert_same_results(padded, in_turn, "padded chunks")


def test_training_learns_and_moves_theta(problem):
    views, labels, folds = problem
    config = tiny_problem.tiny_config()
    config.train.augment = False
    config.train.optimizer.lr = 5e-3
    config.model.appearance.drop_path_rate = 0.1  # needs the per-step dropout key
    history = _fit(views, labels, folds, chunk=1, epochs=15, config=config)
    assert (history.loss[:, -1] < history.loss[:, 0]).all()
    correct = sum(int((history.test_logits[f, -1, :n].argmax(-1)
                       == labels[folds.test_samples(f)]).sum())
                  for f, n in enumerate(folds.num_test))
    assert correct / len(labels) > 0.8  # chance is ~0.33
    assert np.abs(history.theta_deg[:, -1] - history.theta_deg[:, 0]).max() > 0.05


def test_non_finite_loss_stops_only_that_fold(problem):
    views, labels, folds = problem
    views = {k: v.copy() for k, v in views.items()}
    poisoned = folds.test_samples(0)[0]
    views["flow"][poisoned] = np.nan  # every fold but fold 0 trains on this sample
    history = _fit(views, labels, folds, chunk=1, epochs=2)
    assert not history.diverged[0].any() and np.isfinite(history.loss[0]).all()
    assert history.diverged[1:, -1].all() and np.isnan(history.loss[1:, -1]).all()
    # a frozen fold keeps finite parameters: its test logits stay finite
    assert np.isfinite(history.test_logits[1:, -1]).all()


def test_eight_host_devices_give_the_same_predictions():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8",
               PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "tests.mesh_worker"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    assert out.pop("num_devices") == 8
    reference = np.array(out.pop("1x1"))
    for name, logits in out.items():
        logits = np.array(logits)
        np.testing.assert_allclose(logits, reference, atol=1e-4, err_msg=name)
        assert (logits.argmax(-1) == reference.argmax(-1)).all(), name
