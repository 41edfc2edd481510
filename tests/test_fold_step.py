"""The step maths alone (``fold_step``): fillers take no part in a step, and per-sample
randomness does not depend on how a batch is split over devices."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from faceslueth_jax import batch_context
from faceslueth_jax.models import layers, registry
from faceslueth_jax.train import fold_step
from faceslueth_jax.train.optimizer import make_optimizer
from faceslueth_jax.train.placement import DATA
from tests import tiny_problem


@pytest.fixture(scope="module")
def setup():
    config = tiny_problem.placement_config()  # Adam eps 1: updates ~ linear in the gradient
    views, labels, _ = tiny_problem.tiny_data()
    model = registry.from_config(config.model, 3).clone(batch_axis=DATA)
    optimizer = make_optimizer(config.train.optimizer, 1, registry.slow_params(config.model))
    example = {k: v[:1] for k, v in views.items()}
    state = fold_step.init_fold(registry.from_config(config.model, 3), example, optimizer,
                                jax.random.PRNGKey(0))
    return model, optimizer, state, views, labels


_COMPILED = {}


def _step(setup, rows, weight, views=None):
    """One train_step as one device runs it (a mapped axis 'data' of size 1), compiled
    once per batch size."""
    model, optimizer, state, all_views, labels = setup
    views = views or {k: v[rows] for k, v in all_views.items()}
    if len(rows) not in _COMPILED:
        def one(views, labels, weight):
            return fold_step.train_step(model, optimizer, state, views, labels, weight,
                                        jax.random.PRNGKey(1))
        _COMPILED[len(rows)] = jax.jit(jax.vmap(one, axis_name=DATA))
    out = _COMPILED[len(rows)](
        jax.tree.map(lambda v: jnp.asarray(v)[None], views), jnp.asarray(labels[rows])[None],
        jnp.asarray(weight, jnp.float32)[None])
    return jax.tree.map(lambda a: np.asarray(a[0]), out)


def test_fillers_change_nothing(setup):
    """A batch of 3 real samples padded with 2 weight-0 fillers takes the step the 3
    alone take: same loss, parameters and BatchNorm running moments."""
    real = [0, 5, 9]
    alone = _step(setup, real, [1, 1, 1])
    padded = _step(setup, real + [0, 0], [1, 1, 1, 0, 0])
    np.testing.assert_allclose(padded[1], alone[1], rtol=1e-6)
    for a, b in zip(jax.tree.leaves(padded[0].batch_stats), jax.tree.leaves(alone[0].batch_stats)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for a, b in zip(jax.tree.leaves(padded[0].params), jax.tree.leaves(alone[0].params)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_non_finite_filler_does_not_mark_the_fold_diverged(setup):
    real = [0, 5, 9]
    _, _, _, views, _ = setup
    rows = real + [0, 0]
    poisoned = {k: np.array(v[rows]) for k, v in views.items()}
    for v in poisoned.values():
        v[3:] = np.nan
    state, loss, total = _step(setup, rows, [1, 1, 1, 0, 0], views=poisoned)
    alone = _step(setup, real, [1, 1, 1])
    assert not state.diverged and np.isfinite(loss) and total == 3
    np.testing.assert_allclose(loss, alone[1], rtol=1e-6)


class _Dropper(nn.Module):
    @nn.compact
    def __call__(self, x):
        return layers.Dropout(0.5)(x, deterministic=False), layers.DropPath(0.5)(
            x, deterministic=False)


def test_dropout_draws_do_not_depend_on_the_split():
    """The whole batch of 8 on one device draws, per sample, what 2 devices of 4 draw."""
    x = jnp.ones((8, 3, 3, 2))
    key = {"dropout": jax.random.PRNGKey(3)}
    apply = lambda rows, offset: _Dropper().apply({}, x[rows], rngs=key)
    with batch_context.within(jnp.ones(8, bool), 0, 8):
        whole = apply(slice(0, 8), 0)
    halves = []
    for d in range(2):
        with batch_context.within(jnp.ones(4, bool), 4 * d, 8):
            halves.append(apply(slice(4 * d, 4 * d + 4), 4 * d))
    for i in range(2):
        np.testing.assert_array_equal(np.concatenate([h[i] for h in halves]), whole[i])
    assert 0 < float((whole[0] == 0).mean()) < 1 and 0 < float((whole[1] == 0).mean()) < 1
