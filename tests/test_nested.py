"""Nested cross-validation: inner folds that keep subjects whole and never see the outer
test subject, trained in the same sweep with keys that leave the outer models exactly
the plain sweep's; each outer fold's epoch chosen from its inner folds' validation
predictions alone, so its test subject's labels cannot move it."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from faceslueth_jax.evaluation import selection
from faceslueth_jax.train import fold_trainer, protocols
from tests.tiny_problem import tiny_data, tiny_trainer, trainer_config


def _subjects(folds, n):
    subjects = np.empty(n, object)
    for f in range(folds.num_folds):
        subjects[folds.test_samples(f)] = folds.names[f]
    return subjects.astype(str)


def test_inner_folds_split_each_training_set_by_subject():
    _, labels, folds = tiny_data(num_subjects=5, per_subject=[3, 4, 2, 5, 3])
    subjects = _subjects(folds, len(labels))
    nested = protocols.nested(folds, subjects, 2)
    assert nested.folds.num_folds == 10 and nested.outer.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    for f in range(folds.num_folds):
        js = np.flatnonzero(nested.outer == f)
        validated = np.concatenate([nested.folds.test_samples(j) for j in js])
        assert sorted(validated.tolist()) == sorted(folds.train_samples(f).tolist())  # once each
        for j in js:
            train, test = nested.folds.train_samples(j), nested.folds.test_samples(j)
            assert not set(train) & set(test)
            assert not set(subjects[test]) & set(subjects[train])  # subjects whole
            assert folds.names[f] not in set(subjects[np.concatenate([train, test])])
    with pytest.raises(ValueError, match="fewer than"):
        protocols.nested(folds, subjects, 5)  # 4 training subjects per fold


def test_the_outer_keys_are_the_plain_sweeps():
    keys = fold_trainer.nested_keys((3, 4), outer=5, inner=10)
    assert keys.shape == (2 * 15, 2)
    np.testing.assert_array_equal(keys[:10], fold_trainer.instance_keys((3, 4), 10))
    assert len({tuple(k) for k in keys.tolist()}) == 30


@pytest.fixture(scope="module")
def trained():
    config = trainer_config()
    config.train.epochs = 4
    config.train.test_flip = True  # the mirrored test rows recorded too (training unchanged)
    views, labels, folds = tiny_data(num_subjects=5, per_subject=4)
    subjects = _subjects(folds, len(labels))
    nested = protocols.nested(folds, subjects, 2)
    instances = protocols.join(folds, nested.folds)
    keys = fold_trainer.nested_keys(0, folds.num_folds, nested.folds.num_folds)
    history = tiny_trainer(config, views, labels, instances).fit(
        instances, config.train.epochs, 0, keys=keys).split_nested(folds.num_folds, nested)
    config.train.test_flip = False
    plain = tiny_trainer(config, views, labels, folds).fit(folds, config.train.epochs, 0)
    return history, plain, labels, folds


def test_the_outer_models_are_the_plain_sweeps_own(trained):
    history, plain, _, _ = trained
    width = plain.test_logits.shape[2]  # the inner folds pad the test table wider
    np.testing.assert_allclose(history.test_logits[:, :, :width], plain.test_logits,
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(history.loss, plain.loss, rtol=1e-5)
    assert plain.test_logits_flipped is None
    flipped = history.test_logits_flipped
    assert flipped.shape == history.test_logits.shape
    assert history.inner.test_logits_flipped.shape == history.inner.test_logits.shape
    assert not np.allclose(flipped[:, :, :width], history.test_logits[:, :, :width])
    assert history.inner.loss.shape[0] == 10


def test_the_chosen_epoch_is_the_earliest_best_inner_validation(trained):
    history, _, labels, folds = trained
    v = selection.validation_uf1(history, labels)
    chosen = selection.select_epochs(history, folds, labels, "nested")
    assert v.shape == (folds.num_folds, 4)
    for f in range(folds.num_folds):
        assert chosen[f] == np.flatnonzero(v[f] == v[f].max())[0]


def test_a_test_subjects_labels_never_move_its_folds_nested_choice(trained):
    """Every relabelling of fold f's test subject leaves f's nested epoch where it was;
    the best-test-epoch rule, reading those labels, moves for some relabelling."""
    history, _, labels, folds = trained
    moved = 0
    for f in range(folds.num_folds):
        test = folds.test_samples(f)
        nested_before = selection.select_epochs(history, folds, labels, "nested")[f]
        best_before = selection.select_epochs(history, folds, labels, "best_test_epoch")[f]
        for relabel in itertools.product(range(3), repeat=len(test)):
            changed = labels.copy()
            changed[test] = relabel
            assert selection.select_epochs(history, folds, changed, "nested")[f] == nested_before
            moved += selection.select_epochs(history, folds, changed,
                                             "best_test_epoch")[f] != best_before
    assert moved > 0


def test_a_nested_run_reports_its_choice(tmp_path):
    """run.py with protocol.selection='nested': the headline is the nested rule, labelled
    honest, with the other rules beside it; metrics.json keeps each fold's validation
    curve and chosen epoch; probabilities.npz the nested predictions for --compare."""
    import json
    import subprocess
    import sys

    from tests.conftest import REPO
    from tests.test_run import MOTION_ONLY, TINY_RUN
    workdir = tmp_path / "work"
    proc = subprocess.run(
        [sys.executable, "run.py", "--config=configs/loso_synthetic.py", f"--workdir={workdir}",
         f"--config.data.data_dir={tmp_path / 'tfds'}", *TINY_RUN, *MOTION_ONLY,
         "--config.data.synthetic.num_subjects=4", "--config.protocol.selection=nested",
         "--config.protocol.nested.inner_folds=2", "--config.train.test_flip=True"],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((workdir / "metrics.json").read_text())
    assert metrics["selection"] == "nested" and metrics["optimistic"] is False
    assert set(metrics["other_selections"]) == {"last_epoch", "best_test_epoch"}
    nested = metrics["nested"]
    assert nested["inner_folds"] == 2 and len(nested["validation_uf1"][0]) == 4
    assert [e - 1 for e in nested["chosen_epoch"][0]] == metrics["headline"]["epochs_chosen"]
    with np.load(workdir / "probabilities.npz") as p:
        assert p["probs_nested"].shape == p["probs_last_epoch"].shape
    assert "nested" in (workdir / "summary.txt").read_text().splitlines()[3]
    with np.load(workdir / "nested.npz") as z:  # what ensembles read
        n = len(z["label"])  # 4 subjects of the tiny synthetic data
        assert z["validation"].shape == (1, 4, n, 3) and z["test_flipped"].shape == (1, n, 3)
        assert z["linear_validation"].shape == (4, n, 3)
        for f in range(4):  # T_f validated, f's test subject not
            assert np.isnan(z["validation"][0, f, z["fold_of"] == f]).all()
            assert not np.isnan(z["validation"][0, f, z["fold_of"] != f]).any()
        with np.load(workdir / "probabilities.npz") as p:  # the last epoch's too
            np.testing.assert_allclose(z["test_last"], p["probs_last_epoch"], atol=1e-6)
            np.testing.assert_allclose(z["test"], p["probs_nested"], atol=1e-6)
        assert z["validation_flipped_last"].shape == z["validation"].shape
    ensemble = subprocess.run([sys.executable, "-m", "faceslueth_jax.evaluation.ensembles",
                               str(workdir), f"--out={tmp_path / 'ens.md'}"], cwd=REPO,
                              capture_output=True, text=True, timeout=120)
    assert ensemble.returncode == 0, ensemble.stderr[-2000:]
    assert "flip chosen per fold" in ensemble.stdout and (tmp_path / "ens.md.json").is_file()
    assert "at the last epoch: seeds averaged" in ensemble.stdout
    assert "greedy over the runs and the linear model" in ensemble.stdout
    report = [sys.executable, "-m", "faceslueth_jax.evaluation.report", "--compare"]
    paired = subprocess.run([*report, "--rules=nested:last_epoch", str(workdir)], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert paired.returncode == 0 and "| nested - last epoch | UF1 |" in paired.stdout
    from faceslueth_jax.evaluation import paired as paired_lib
    with pytest.raises(paired_lib.NotComparable, match="no 'median_epoch' predictions"):
        paired_lib.table(workdir, workdir, ("nested", "median_epoch"))  # report: one line, exit 2
    # the refusals, before any workdir exists: in-process (tests/test_cli_errors.py runs
    # the checks' one-line exit 2 through run.py)
    from faceslueth_jax.data import records
    from faceslueth_jax.pipeline import checks
    config = __import__("configs.loso_synthetic", fromlist=["x"]).get_config()
    config.protocol.update(selection="nested")
    config.protocol.nested.inner_folds = 4
    subjects = np.repeat(["a", "b", "c", "d"], 3)  # 3 subjects to train on in each fold
    data = records.MEData(views={}, label=np.arange(12) % 3, subject=subjects,
                          dataset=np.array(["x"] * 12), sample_id=np.arange(12).astype(str),
                          class_names=("a", "b", "c"))
    config.train.batch_size = 4
    with pytest.raises(checks.ConfigError, match="inner_folds=4 cannot be run on this data"):
        checks.check_against_data(config, data)
    config.protocol.nested.inner_folds = 1
    with pytest.raises(checks.ConfigError, match="inner_folds must be an integer >= 2"):
        checks.check_config(config)


@pytest.mark.parametrize("protocol", ["all", "cross"])
def test_nested_selection_needs_test_folds_it_can_nest(protocol):
    from configs.common import base_config
    from faceslueth_jax.pipeline import checks
    config = base_config("nested")
    config.protocol.update(name=protocol, selection="nested", train=("a",), test=("b",))
    with pytest.raises(checks.ConfigError, match="protocol.selection='nested' takes"):
        checks.check_config(config)
