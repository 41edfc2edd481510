import numpy as np
import pytest

from faceslueth_jax.train import protocols


def test_loso_folds_partition_samples():
    datasets = np.array(["a"] * 5 + ["b"] * 3)
    subjects = np.array(["s1", "s1", "s2", "s2", "s2", "s1", "s1", "s3"])
    folds = protocols.loso(datasets, subjects)
    assert folds.names == ("a/s1", "a/s2", "b/s1", "b/s3")  # same id, other database: own fold
    covered = np.concatenate([folds.test_samples(f) for f in range(folds.num_folds)])
    assert sorted(covered.tolist()) == list(range(8))
    for f in range(folds.num_folds):
        test, train = set(folds.test_samples(f)), set(folds.train_samples(f))
        assert not test & train and len(test | train) == 8
    assert folds.num_train.tolist() == [6, 5, 6, 7]
    assert folds.train_idx.shape == (4, 7) and folds.test_idx.shape == (4, 3)


def test_group_with_no_samples_or_everything_is_an_error():
    with pytest.raises(ValueError, match="has no samples"):
        protocols.folds_from_groups(np.array(["x", "y"]), fold_names=["x", "z"])
    with pytest.raises(ValueError, match="nothing left to train"):
        protocols.folds_from_groups(np.array(["x", "x"]))
    with pytest.raises(ValueError, match="unknown protocol"):
        protocols.make_folds("lopo", ["a"], ["s"])


def test_lodo_holds_out_each_database():
    datasets = np.array(["casme2", "samm", "casme2", "smic", "samm", "smic", "smic"])
    folds = protocols.make_folds("lodo", datasets, np.array(["s1"] * 7))
    assert folds.names == ("casme2", "samm", "smic")
    for f, name in enumerate(folds.names):
        assert set(datasets[folds.test_samples(f)]) == {name}
        assert name not in set(datasets[folds.train_samples(f)])
        assert len(folds.test_samples(f)) + len(folds.train_samples(f)) == 7
    with pytest.raises(ValueError, match="at least two databases"):
        protocols.make_folds("lodo", np.array(["casme2"] * 3), np.array(["a", "b", "c"]))
