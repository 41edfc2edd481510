"""Ensembles chosen on inner validation: the greedy weights follow the validation
predictions of the fold's training subjects only, so relabelling a fold's test subject
cannot move them; the flip is kept where it validates better; runs that do not belong
together are refused in one line."""

from __future__ import annotations

import numpy as np
import pytest

from faceslueth_jax.evaluation import ensembles
from faceslueth_jax.evaluation.ensembles import Unit

F, N, K = 4, 16, 3


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(N) % K
    fold_of = np.repeat(np.arange(F), N // F)
    return rng, labels, fold_of


def _unit(rng, labels, fold_of, name, right: float):
    """Probabilities right for about a fraction ``right`` of the samples."""
    probs = rng.dirichlet(np.ones(K), size=N)
    good = rng.uniform(size=N) < right
    probs[good, labels[good]] += 3.0
    probs /= probs.sum(-1, keepdims=True)
    validation = np.repeat(probs[None], F, 0)
    for f in range(F):
        validation[f, fold_of == f] = np.nan  # T_f: every sample but fold f's
    return Unit(name, probs, validation)


def test_greedy_weights_follow_the_validation_of_the_training_subjects():
    rng, labels, fold_of = _problem()
    strong = _unit(rng, labels, fold_of, "strong", 1.0)
    weak = _unit(rng, labels, fold_of, "weak", 0.0)
    test, weights = ensembles.combine(labels, fold_of, [weak, strong])
    assert (weights[:, 1] == 1.0).all()
    np.testing.assert_allclose(test, strong.test)


def test_a_test_subjects_labels_never_move_its_folds_weights():
    rng, labels, fold_of = _problem(1)
    units = [_unit(rng, labels, fold_of, f"u{i}", r) for i, r in enumerate((0.4, 0.5, 0.6))]
    _, before = ensembles.combine(labels, fold_of, units)
    for f in range(F):
        changed = labels.copy()
        changed[fold_of == f] = (changed[fold_of == f] + 1) % K
        _, after = ensembles.combine(changed, fold_of, units)
        np.testing.assert_array_equal(after[f], before[f])


def test_the_flip_is_kept_where_it_validates_better():
    rng, labels, fold_of = _problem(2)
    plain = _unit(rng, labels, fold_of, "p", 0.3)
    flipped = _unit(rng, labels, fold_of, "p+flip", 1.0)
    flipped.validation[1] = plain.validation[1]  # no better on fold 1's training subjects
    test, kept = ensembles.flip_choice(labels, fold_of, plain, flipped)
    assert kept.tolist() == [True, False, True, True]
    np.testing.assert_allclose(test[fold_of == 1], plain.test[fold_of == 1])
    np.testing.assert_allclose(test[fold_of == 0], flipped.test[fold_of == 0])


def test_runs_on_other_folds_or_without_nested_files_are_refused(tmp_path):
    with pytest.raises(ensembles.EnsembleError, match="nested.npz: missing"):
        ensembles.load(tmp_path)
    np.savez(tmp_path / "nested.npz", label=np.zeros(3))
    with pytest.raises(ensembles.EnsembleError, match="holds no sample_id"):
        ensembles.load(tmp_path)
    (tmp_path / "nested.npz").write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(ensembles.EnsembleError, match="unreadable"):
        ensembles.load(tmp_path)
    a = {"sample_id": np.arange(3), "label": np.zeros(3), "fold_of": np.array([0, 1, 2])}
    b = dict(a, fold_of=np.array([0, 0, 1]))
    with pytest.raises(ensembles.EnsembleError, match="differ in fold_of"):
        ensembles.check_together({"a": a, "b": b})
    with pytest.raises(ensembles.EnsembleError, match="given twice"):
        ensembles.ensembles([tmp_path / "x", tmp_path / "x" / "."])


def test_the_command_refuses_a_run_without_inner_folds_in_one_line(tmp_path):
    import subprocess
    import sys

    from tests.conftest import REPO
    proc = subprocess.run([sys.executable, "-m", "faceslueth_jax.evaluation.ensembles",
                           str(tmp_path), f"--out={tmp_path / 't.md'}"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "nested.npz: missing" in lines[0]
    assert not (tmp_path / "t.md").exists()
    (tmp_path / "t.md.json").mkdir()  # where the table's JSON would go: refused first
    proc = subprocess.run([sys.executable, "-m", "faceslueth_jax.evaluation.ensembles",
                           str(tmp_path), f"--out={tmp_path / 't.md'}"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "t.md.json is a folder" in lines[0]


def test_a_run_gives_units_at_its_nested_and_its_last_epoch():
    rng, labels, fold_of = _problem(3)
    a, b = (_unit(rng, labels, fold_of, n, 0.5) for n in "ab")
    run = {"test": a.test[None], "validation": a.validation[None],
           "test_flipped": b.test[None], "validation_flipped": b.validation[None]}
    older = ensembles.units_of(run, "r")  # a file written before the last epoch's arrays
    assert [u.name for u in older] == ["r at the nested epoch", "r at the nested epoch+flip"]
    run.update(test_last=b.test[None], validation_last=b.validation[None])
    units = ensembles.units_of(run, "r")
    assert [u.name for u in units] == ["r at the nested epoch", "r at the nested epoch+flip",
                                       "r at the last epoch"]
    np.testing.assert_allclose(units[1].test, (a.test + b.test) / 2)
    np.testing.assert_allclose(units[2].validation, b.validation)
