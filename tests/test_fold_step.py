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
    config = _config()
    views, labels, _ = tiny_problem.tiny_data()
    model = registry.from_config(config.model, 3).clone(batch_axis=DATA)
    optimizer = make_optimizer(config.train.optimizer, 1, registry.slow_params(config.model))
    example = {k: v[:1] for k, v in views.items()}
    state = fold_step.init_fold(registry.from_config(config.model, 3), example, optimizer,
                                jax.random.PRNGKey(0))
    return model, optimizer, state, views, labels


def _config():
    """The motion stream (convolutions, BatchNorm and SOA: what fillers could reach)
    with Adam eps 1 (updates ~ linear in the gradient)."""
    return tiny_problem.trainer_config()


_COMPILED = {}


def _step(setup, rows, weight, views=None, state=None, targets=None, **options):
    """One train_step as one device runs it (a mapped axis 'data' of size 1), compiled
    once per batch size and options; ``targets``: (B, K) probabilities instead of labels."""
    model, optimizer, initial, all_views, labels = setup
    state = state or initial
    views = views or {k: v[rows] for k, v in all_views.items()}
    batch_labels = labels[rows] if targets is None else np.asarray(targets, np.float32)
    key = (len(rows), tuple(sorted(options.items())), bool(state.ema), batch_labels.ndim)
    if key not in _COMPILED:
        def one(state, views, labels, weight):
            return fold_step.train_step(model, optimizer, state, views, labels, weight,
                                        jax.random.PRNGKey(1), **options)
        _COMPILED[key] = jax.jit(jax.vmap(one, in_axes=(None, 0, 0, 0), axis_name=DATA))
    out = _COMPILED[key](state,
        jax.tree.map(lambda v: jnp.asarray(v)[None], views), jnp.asarray(batch_labels)[None],
        jnp.asarray(weight, jnp.float32)[None])
    return jax.tree.map(lambda a: np.asarray(a[0]), out)


def test_fillers_change_nothing(setup):
    """A batch of 3 real samples padded with 2 weight-0 fillers takes the step the 3
    alone take: same loss, parameters and BatchNorm running moments."""
    real = [0, 5, 9]
    alone = _step(setup, real, [1, 1, 1])
    padded = _step(setup, real + [0, 0], [1, 1, 1, 0, 0])
    # (rtol 1e-5: the two batches sum in another order, 3e-6 apart; a filler counted in
    # the loss or the moments moves it by 1e-2 and more)
    np.testing.assert_allclose(padded[1], alone[1], rtol=1e-5)
    # (atol 1e-5: a bias ahead of BatchNorm has a gradient of ~0, whose float noise moves
    # it by up to 1e-6; a filler counted in the moments moves them by 1e-2 and more)
    for a, b in zip(jax.tree.leaves(padded[0].batch_stats), jax.tree.leaves(alone[0].batch_stats)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    for a, b in zip(jax.tree.leaves(padded[0].params), jax.tree.leaves(alone[0].params)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


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
    np.testing.assert_allclose(loss, alone[1], rtol=1e-5)  # (as above)


class _NanGradient(nn.Module):
    """Finite logits whose gradient is NaN: the unused branch of ``where`` is sqrt of a
    negative number, and its zero cotangent times that NaN slope is NaN."""

    @nn.compact
    def __call__(self, views, train=False):
        x = views["flow"].reshape(views["flow"].shape[0], -1)
        logits = nn.Dense(3)(x)
        w = self.param("w", nn.initializers.zeros, ())
        return jnp.where(True, logits, jnp.sqrt(w - 1.0))


def test_a_nan_gradient_with_a_finite_loss_freezes_the_fold(setup):
    """The update is not applied: the fold is marked diverged and keeps the weights it
    had before the step (not NaN weights whose logits argmax to class 0)."""
    _, optimizer, _, views, labels = setup
    model = _NanGradient()
    example = {"flow": views["flow"][:1]}
    state = fold_step.init_fold(model, example, optimizer, jax.random.PRNGKey(0))

    def one(state, views, labels, weight):
        return fold_step.train_step(model, optimizer, state, views, labels, weight,
                                    jax.random.PRNGKey(1))

    step = jax.jit(jax.vmap(one, in_axes=(None, 0, 0, 0), axis_name=DATA))
    rows = [0, 5, 9]
    new, loss, _ = jax.tree.map(lambda a: np.asarray(a[0]), step(
        state, {"flow": jnp.asarray(views["flow"][rows])[None]}, jnp.asarray(labels[rows])[None],
        jnp.ones((1, 3), jnp.float32)))
    assert new.diverged and np.isnan(loss)
    for before, after in zip(jax.tree.leaves(state.params), jax.tree.leaves(new.params)):
        np.testing.assert_array_equal(after, before)


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


def test_class_weights_scale_each_samples_share(setup):
    """The loss is the weighted mean sum_i w_i l_i / sum_i w_i, where the per-sample
    losses l_i do not depend on the (positive) weights: BatchNorm's moments count every
    sample of weight > 0. So L(2, 1, 1) = (3 L(1, 1, 1) + l_0) / 4, and l_0 is
    L(1, e, e) for a tiny e."""
    rows = [0, 5, 9]
    mean = _step(setup, rows, [1.0, 1.0, 1.0])[1]
    first = _step(setup, rows, [1.0, 1e-7, 1e-7])[1]
    weighted = _step(setup, rows, [2.0, 1.0, 1.0])[1]
    np.testing.assert_allclose(weighted, (3 * mean + first) / 4, rtol=1e-5)
    assert abs(first - mean) > 1e-3  # the samples' losses differ: the check can fail


def test_label_smoothing_and_the_moving_average(setup):
    """One step with both options (one compilation):
    loss = (1 - eps) CE + eps mean_k(-log p_k) for eps = 0.3 over K = 3 classes; and at
    step 1 (t = 0), m = min(d, 1/10), so ema = 0.1 init + 0.9 new; the test weights are
    the average's."""
    rows = [0, 5, 9]
    model, optimizer, state, views, labels = setup
    with_ema = fold_step.init_fold(registry.from_config(_config().model, 3),
                                   {k: v[:1] for k, v in views.items()}, optimizer,
                                   jax.random.PRNGKey(0), ema=True)
    plain = _step(setup, rows, [1, 1, 1])[1]
    new, smoothed, _ = _step(setup, rows, [1, 1, 1], state=with_ema, label_smoothing=0.3,
                             ema_decay=0.99)
    variables = {"params": state.params, "batch_stats": state.batch_stats}
    logits = jax.vmap(lambda v: model.apply(variables, v, train=True, mutable=["batch_stats"])[0],
                      axis_name=DATA)(jax.tree.map(lambda v: jnp.asarray(v[rows])[None], views))[0]
    uniform = float(np.mean(-np.asarray(jax.nn.log_softmax(logits)).mean(axis=1)))
    np.testing.assert_allclose(smoothed, 0.7 * plain + 0.3 * uniform, rtol=1e-5)

    assert int(new.ema["steps"]) == 1
    for e, p0, p1 in zip(jax.tree.leaves(new.ema["params"]), jax.tree.leaves(with_ema.params),
                         jax.tree.leaves(new.params)):
        np.testing.assert_allclose(e, 0.1 * np.asarray(p0) + 0.9 * p1, rtol=1e-5, atol=1e-7)
    # BatchNorm's moments are averaged alike: the average is tested with its own
    for e, s0, s1 in zip(jax.tree.leaves(new.ema["batch_stats"]),
                         jax.tree.leaves(with_ema.batch_stats), jax.tree.leaves(new.batch_stats)):
        np.testing.assert_allclose(e, 0.1 * np.asarray(s0) + 0.9 * s1, rtol=1e-5, atol=1e-7)
    assert jax.tree.leaves(new.ema["batch_stats"]), "the tiny model has BatchNorm"
    params, stats = fold_step.eval_variables(new)
    assert params is new.ema["params"] and stats is new.ema["batch_stats"]
    params, stats = fold_step.eval_variables(state)
    assert params is state.params and stats is state.batch_stats


def test_balanced_class_weights_count_only_the_folds_samples():
    labels = jnp.array([0, 0, 0, 1, 2, 2, 1, 1])  # the last two are padding
    valid = jnp.arange(8) < 6
    w = np.asarray(fold_step.balanced_class_weights(labels, valid, 3))
    np.testing.assert_allclose(w, [6 / 9, 6 / 3, 6 / 6])  # n / (K n_c) with n_c = 3, 1, 2
    np.testing.assert_allclose((w * np.array([3, 1, 2])).sum(), 6)  # each class weighs 2


def test_mixup_mixes_neighbours_and_never_a_filler():
    """Pairs (0, 1) and (2, 3): sample 0 = lam x_0 + (1 - lam) x_1 with target
    lam e_{y0} + (1 - lam) e_{y1}; sample 2, whose partner 3 is a filler, stays itself;
    integer views pass through; an odd share is refused."""
    x = jnp.arange(4 * 2 * 2 * 1, dtype=jnp.float32).reshape(4, 2, 2, 1)
    views = {"flow": x, "index": jnp.arange(4)}
    labels = jnp.array([0, 1, 2, 0])
    keys = jax.random.split(jax.random.PRNGKey(0), 4)
    mixed, targets = fold_step.mixup(keys, views, labels, jnp.array([1, 1, 1, 0], bool), 3, 0.4)
    targets = np.asarray(targets)
    np.testing.assert_allclose(targets.sum(axis=1), 1.0, rtol=1e-6)
    lam0, lam1 = targets[0, 0], targets[1, 1]
    assert 0 < lam0 < 1 and 0 < lam1 < 1 and lam0 != lam1  # each sample its own draw
    np.testing.assert_allclose(targets[0], [lam0, 1 - lam0, 0], rtol=1e-6)
    np.testing.assert_allclose(mixed["flow"][0], lam0 * x[0] + (1 - lam0) * x[1], rtol=1e-5)
    np.testing.assert_allclose(mixed["flow"][1], lam1 * x[1] + (1 - lam1) * x[0], rtol=1e-5)
    np.testing.assert_array_equal(targets[2], [0, 0, 1])
    np.testing.assert_array_equal(mixed["flow"][2], x[2])
    np.testing.assert_array_equal(mixed["index"], views["index"])
    with pytest.raises(ValueError, match="even"):
        fold_step.mixup(keys[:3], {"flow": x[:3]}, labels[:3], jnp.ones(3, bool), 3, 0.4)


@pytest.mark.parametrize("last_batch, expected", [
    ("fill", [[1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0]]),   # 5 -> 8: wraps to positions 0..2
    ("short", [[1, 1, 1, 1], [1, 0, 0, 0], [0, 0, 0, 0]]),  # PyTorch's short last batch
])
def test_a_folds_last_batch_is_filled_or_short(last_batch, expected):
    """n = 5 samples, B = 4, 3 steps (another fold needs them): step 2 is empty for
    this fold either way; 'fill' completes step 1 with positions 5..7 = samples 0..2
    of the permutation (the trainer reads position p as p mod n)."""
    weights = [fold_step.batch_weights(s * 4 + jnp.arange(4), jnp.int32(5), 4, last_batch)
               for s in range(3)]
    np.testing.assert_array_equal(np.asarray(weights), expected)
    with pytest.raises(ValueError, match="last_batch"):
        fold_step.batch_weights(jnp.arange(4), 5, 4, "drop")
