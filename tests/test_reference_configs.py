"""The reference-recipe configs, their checks, the AU leak warning, and the
trainer on views with AU codes and jitter windows."""

from __future__ import annotations

import json

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import reference_casme2_5class, reference_samm_5class
from faceslueth_jax.evaluation import run_files as report
from faceslueth_jax.evaluation import run_results
from faceslueth_jax.models import registry, soa
from faceslueth_jax.pipeline import checks
from faceslueth_jax.train import fold_step, fold_trainer, placement
from faceslueth_jax.train.optimizer import make_optimizer
from tests import tiny_problem

CONFIGS = {"casme2": (reference_casme2_5class, 50), "samm": (reference_samm_5class, 35)}


@pytest.mark.parametrize("database", sorted(CONFIGS))
@pytest.mark.parametrize("preset", ["paper", "compact"])
def test_reference_configs_load_pass_the_checks_and_build_the_model(database, preset):
    module, batch = CONFIGS[database]
    c = module.get_config(preset)
    checks.check_config(c)
    assert (c.data.name, c.model.preset, c.train.batch_size) == (database, preset, batch)
    assert dict(c.data.build)["classes"] == "five" and c.data.build.face_color
    assert c.data.build.jitter_frames == 4 and c.data.face_norm == "imagenet"
    assert (c.model.faceslueth_r.motion_input, c.model.faceslueth_r.motion.soa_mode) == ("frame_difference", "reference")
    assert c.model.faceslueth_r.appearance.drop_path_rate == 0.1 and c.model.faceslueth_r.au_dim == 0  # honest default
    assert (c.train.augment_recipe, c.train.rotation_deg) == ("reference", 3.0)
    assert c.train.crop_padding == (15 if preset == "paper" else 4)
    assert (c.train.epochs, c.protocol.name, c.protocol.selection) == (99, "loso", "last_epoch")
    assert dict(c.train.optimizer, eps=None) == dict(
        lr=8e-4, weight_decay=0.6, theta_lr=5e-3, theta_weight_decay=0.2, gamma=0.987,
        decay_epochs=50, eps=None)
    # the prepared views' shapes reach 5 logits (motion and appearance grids agree)
    s = c.data.face_size
    views = {"flow": np.zeros((1, c.data.flow_size, c.data.flow_size, 3), np.float32),
             "onset": np.zeros((1, s, s, 3), np.float32), "apex": np.zeros((1, s, s, 3), np.float32),
             "au": np.zeros((1, 21), np.float32)}
    model = registry.from_config(c.model, 5)
    variables = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), views, train=False))
    logits = jax.eval_shape(lambda v: model.apply(v, views, train=False), variables)
    assert logits.shape == (1, 5)


def _config(**changes):
    c = reference_casme2_5class.get_config("compact")
    for path, value in changes.items():
        node = c
        *parents, leaf = path.split(".")
        for name in parents:
            node = node[name]
        node[leaf] = value
    return c


@pytest.mark.parametrize("changes, message", [
    ({"data.name": "smic_hs", "model.faceslueth_r.au_dim": 21}, "data.name='smic_hs' has no AU codes"),
    ({"model.faceslueth_r.au_dim": 7}, "model.faceslueth_r.au_dim must be 0 or 21"),
    ({"model.faceslueth_r.motion_input": "flow", "train.augment_recipe": "shift"},
     "jitter_frames > 0 .* needs model.faceslueth_r.motion_input='frame_difference'"),
    ({"model.faceslueth_r.motion_input": "flow", "data.build.jitter_frames": 0},
     "augment_recipe='reference' .* needs model.faceslueth_r.motion_input='frame_difference'"),
    ({"data.build.face_color": False}, "face_norm='imagenet' needs RGB faces"),
    ({"data.face_norm": "zscore"}, "data.face_norm must be one of"),
    ({"train.augment_recipe": "mixup"}, "train.augment_recipe must be one of"),
    ({"train.crop_padding": -1}, "train.crop_padding must be an integer >= 0"),
])
def test_inconsistent_reference_options_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        checks.check_config(_config(**changes))


def test_honest_and_default_configs_still_pass():
    checks.check_config(_config(**{"model.faceslueth_r.au_dim": 21}))  # leaky, but consistent
    checks.check_config(tiny_problem.tiny_config())


def test_au_leak_warning_in_metrics_and_summary(tmp_path):
    assert registry.au_dim(_config().model) == 0
    assert run_results.au_leak_note(registry.au_dim(_config().model)) is None
    leaky = _config(**{"model.faceslueth_r.au_dim": 21})
    note = run_results.au_leak_note(registry.au_dim(leaky.model))
    assert note.startswith("LABEL LEAK: model.faceslueth_r.au_dim=21") and "test time" in note

    theta = np.zeros((2, 3, 1))
    result = dict(selection="last_epoch", optimistic=False, uf1=0.5, uar=0.5, accuracy=0.5)
    (tmp_path / "metrics.json").write_text(json.dumps({"au_leak_note": note}))
    assert note in report.summary_table("t", [result], None, theta, None, tmp_path)
    (tmp_path / "metrics.json").write_text(json.dumps({"au_leak_note": None}))
    assert "LABEL LEAK" not in report.summary_table("t", [result], None, theta, None, tmp_path)


class _Orientation(nn.Module):
    @nn.compact
    def __call__(self):
        return self.param(soa.ORIENTATION, lambda _: jnp.array([1.0, 0.0]))


class _Motion(nn.Module):
    @nn.compact
    def __call__(self):
        return _Orientation(name="stage0")()


_SEEN = []  # the view names _Probe was traced with


class _Probe(nn.Module):
    """A model cheap to compile that records, while traced, which views it gets;
    logits from the mean onset, apex and AU vector."""
    batch_axis: str | None = None

    @nn.compact
    def __call__(self, views, *, train: bool):
        _SEEN.append(tuple(sorted(views)))
        features = jnp.concatenate([views["onset"].mean((1, 2, 3))[:, None],
                                    views["apex"].mean((1, 2, 3))[:, None], views["au"]], -1)
        return nn.Dense(3)(features) + 0.0 * _Motion(name="motion")()[0]


def test_trainer_feeds_jittered_faces_and_au_but_never_the_windows():
    """A fit with the reference recipe over views holding AU codes and jitter
    windows: every program the trainer builds (init, training step, test logits)
    hands the model onset, apex, flow and au only; test logits are those of the
    exact onset and apex."""
    views, labels, folds = tiny_problem.tiny_data(num_subjects=2, per_subject=5)
    n, k = len(labels), 3
    rng = np.random.default_rng(0)
    views = dict(views, au=rng.integers(0, 2, (n, 21)).astype(np.float32),
                 jitter_span=np.full(n, k - 1, np.float32),
                 onset_window=np.repeat(views["onset"][:, None], k, axis=1),
                 apex_window=np.repeat(views["apex"][:, None], k, axis=1))
    views["onset_window"][:, 1:] += 5.0  # a jittered onset shows
    config = tiny_problem.tiny_config()
    config.train.update(augment_recipe="reference", rotation_deg=3.0, crop_padding=2)
    _SEEN.clear()
    mesh = placement.make_mesh(folds.num_folds, config.train.batch_size, num_devices=1)
    trainer = fold_trainer.FoldTrainer(_Probe(), config.train, views, labels, mesh,
                                       slow_params=(soa.ORIENTATION,))
    history = trainer.fit(folds, epochs=2, seed=0, max_folds_per_chunk=1)
    assert np.isfinite(history.loss).all()
    model_views = {("apex", "au", "flow", "onset")}
    assert len(_SEEN) > 2 and set(_SEEN) == model_views
    # test time: the exact onset and apex
    state = fold_step.init_fold(trainer.init_model, trainer.example, make_optimizer(
        config.train.optimizer, 1), jax.random.PRNGKey(0))
    rows = np.asarray(folds.test_idx[0], np.int32)
    got = fold_step.test_logits(trainer.model, state, rows,
                                {name: jnp.asarray(v) for name, v in views.items()},
                                config.train.batch_size, unroll=1)
    exact = {name: views[name][rows] for name in ("flow", "onset", "apex", "au")}
    want = trainer.init_model.apply({"params": state.params}, exact, train=False)
    np.testing.assert_allclose(got, want, atol=1e-6)
