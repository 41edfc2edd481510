"""Seeds as an axis of the sweep: per-instance keys; the run's files carry the mean,
spread, interval and the seed ensemble; two runs compare pair-wise. (That seed s of a
multi-seed sweep is the one-seed sweep with seed s: ``test_fold_trainer.py``, which has
the compiled program at hand.)"""

from __future__ import annotations

import json

import numpy as np
import pytest

from configs.common import base_config
from faceslueth_jax.data.records import MEData
from faceslueth_jax.evaluation import paired, results_table, run_results
from faceslueth_jax.train import fold_trainer, protocols
from tests import tiny_problem


def test_instance_keys_follow_seed_and_fold():
    keys = fold_trainer.instance_keys((5, 6), 4)
    np.testing.assert_array_equal(keys[2:], fold_trainer.instance_keys(6, 2))
    np.testing.assert_array_equal(keys[:2], fold_trainer.instance_keys(5, 2))
    with pytest.raises(ValueError, match="do not split"):
        fold_trainer.instance_keys((1, 2), 3)


# ----------------------------------------------------- the run's files, by hand

SUBJECTS = np.repeat(["s0", "s1", "s2", "s3"], 3)
LABELS = np.tile([0, 1, 2], 4).astype(np.int32)


def _data():
    n = len(LABELS)
    return MEData(views={}, label=LABELS, subject=SUBJECTS, dataset=np.array(["casme2"] * n),
                  sample_id=np.array([f"c{i}" for i in range(n)]),
                  class_names=("negative", "positive", "surprise"))


def _history(correct_per_seed, seeds):
    """Logits of 4 LOSO folds x 2 epochs per seed: at the last epoch seed m gets the
    first ``correct_per_seed[m]`` samples of every fold right, the rest wrong by +1."""
    folds = protocols.loso(np.array(["casme2"] * len(LABELS)), SUBJECTS)
    logits = np.zeros((len(seeds) * 4, 2, 3, 3), np.float32)
    for m, correct in enumerate(correct_per_seed):
        for f in range(4):
            y = LABELS[folds.test_samples(f)]
            guess = np.where(np.arange(3) < correct, y, (y + 1) % 3)
            logits[m * 4 + f, :, np.arange(3), guess] = 2.0
    n = len(seeds) * 4
    history = fold_trainer.History(
        loss=np.zeros((n, 2)), test_logits=logits, diverged=np.zeros((n, 2), bool),
        probes={}, execution={"seeds": list(seeds), "num_chunks": 1})
    return folds, history


def _write(tmp_path, name, correct_per_seed, seeds=(0, 1)):
    config = base_config("seeds_test")
    config.protocol.seeds = len(seeds)
    folds, history = _history(correct_per_seed, seeds)
    workdir = tmp_path / name
    workdir.mkdir()
    (workdir / "config.json").write_text(config.to_json())
    baseline = np.eye(3, dtype=np.float32)[LABELS]
    summary = run_results.write(workdir, config, _data(), folds, history, baseline=baseline,
                                model_title="FaceSleuth-R", au_dim=0, train_seconds=1.0,
                                started=0.0)
    return workdir, summary


def test_metrics_carry_seed_means_intervals_and_the_ensemble(tmp_path):
    # seed 0: every sample right (UF1 1); seed 1: per fold (labels 0, 1, 2) predicts
    # 0, 2, 0: class 0 F1 = 2*4 / (4 + 8) = 2/3, classes 1 and 2 F1 = 0: UF1 2/9
    workdir, summary = _write(tmp_path, "run", [3, 1])
    metrics = json.loads((workdir / "metrics.json").read_text())
    headline = metrics["headline"]
    assert metrics["seeds"] == [0, 1]
    assert headline["uf1"] == pytest.approx((1 + 2 / 9) / 2)
    assert [s["uf1"] for s in headline["per_seed"]] == pytest.approx([1.0, 2 / 9])
    assert headline["seeds"]["uf1"]["std"] == pytest.approx(np.std([1, 2 / 9], ddof=1))
    low, high = headline["seeds"]["uf1"]["ci95"]
    assert low <= headline["uf1"] <= high
    # the ensemble averages probabilities: seed 0's right answer and seed 1's wrong one
    # tie on the samples seed 1 misses; ties go to the lower class index
    ensemble = metrics["seed_ensembles"]["last_epoch"]
    assert ensemble["ensemble_of_seeds"] == [0, 1]
    assert "ci95" in ensemble["seeds"]["uf1"]
    assert metrics["logistic_regression_baseline"]["uf1"] == pytest.approx(1.0)
    with np.load(workdir / "probabilities.npz") as f:
        assert f["probs_last_epoch"].shape == (2, 12, 3)
        assert list(f["seeds"]) == [0, 1]
    assert "mean of 2 seeds" in summary["summary_text"]
    assert "ensemble of 2 seeds" in summary["summary_text"]

    table = results_table.markdown([workdir])
    rows = [line for line in table.splitlines() if line.startswith("| [1]")]
    assert any("seeds 0,1" in r for r in rows)
    assert any(line.startswith("- (1) UF1 [") and ", std " in line  # the std over seeds
               for line in table.splitlines())
    assert any("ensemble of seeds 0,1" in r for r in rows)


def test_two_runs_compare_pair_wise(tmp_path):
    better, _ = _write(tmp_path, "better", [3, 3])
    worse, _ = _write(tmp_path, "worse", [1, 1])
    rows = paired.compare(better, worse)
    last = next(r for r in rows if r["rule"] == "last_epoch")
    assert last["uf1"]["difference"] == pytest.approx(1 - 2 / 9)
    assert last["uf1"]["beyond_noise"]  # every subject favours the better run
    assert "| last epoch | UF1 |" in paired.markdown(better, worse)
    import subprocess
    import sys

    from tests.conftest import REPO
    proc = subprocess.run([sys.executable, "-m", "faceslueth_jax.evaluation.report", "--compare",
                           str(better), str(worse)], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| last epoch | UF1 | 1.0000 | 0.2222 | +0.7778 |" in proc.stdout
    other, _ = _write(tmp_path, "other_seeds", [3, 3], seeds=(5, 6))
    with pytest.raises(paired.NotComparable, match="seeds"):
        paired.compare(better, other)


def test_the_ablation_without_soa_records_no_angles():
    """A model without SOA layers has no angle to record; an empty (0,) probe would
    not survive a checkpoint, so the trainer drops it."""
    views, labels, folds = tiny_problem.tiny_data(num_subjects=3, per_subject=5)
    config = tiny_problem.tiny_config()
    assert "theta_deg" in tiny_problem.tiny_trainer(config, views, labels, folds).probes
    config.model.faceslueth_r.motion.soa_mode = "none"
    assert tiny_problem.tiny_trainer(config, views, labels, folds).probes == {}
