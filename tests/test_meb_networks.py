"""tvaranka/meb's baselines at their published sizes: OFF-ApexNet, SSSNet, RCN-A, RCN-S
and ResNet-18. For each, the parameter count of meb's network (its layer sizes counted
by hand in the module docs), the shapes, and one training step lowering the loss on a
tiny batch."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import ml_collections

from configs import (offapexnet_composite, rcn_a_composite, resnet18_composite,
                     sssnet_composite)
from faceslueth_jax.models import registry

NETWORKS = {  # config, flow side, parameters for 3 classes (meb's layer sizes)
    "offapexnet": (offapexnet_composite, 28, 807_909),
    "sssnet": (sssnet_composite, 64, 1_349_251),
    "rcn_a": (rcn_a_composite, 60, 55_747),   # meb's composite notebook: F 64, P 7
    "rcn_s": (rcn_a_composite, 60, 55_747),   # the dense block in place of the RCL
    "resnet18": (resnet18_composite, 64, 11_178_051),  # torchvision's, 3 classes
}


def _model(name: str, classes: int = 3):
    config, side, _ = NETWORKS[name]
    cfg = config.get_config()
    assert cfg.data.flow_size == side
    model_cfg = ml_collections.ConfigDict(dict(cfg.model.to_dict(), name=name))
    return registry.from_config(model_cfg, classes), side


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_parameter_count_and_shapes(name):
    model, side = _model(name)
    views = {"flow": jnp.zeros((2, side, side, 3))}
    variables = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), views, train=False))
    count = sum(int(np.prod(a.shape)) for a in jax.tree.leaves(variables["params"]))
    assert count == NETWORKS[name][2]
    logits = jax.eval_shape(lambda: model.apply(model.init(jax.random.PRNGKey(0), views,
                                                           train=False), views, train=False))
    assert logits.shape == (2, 3)
    shapes = jax.tree.map(lambda a: a.shape, variables["params"])
    if name == "offapexnet":  # u and v in; 7 x 7 x 16 into the hidden layer
        assert shapes["conv0"]["kernel"] == (3, 3, 2, 6) and shapes["fc"]["kernel"] == (784, 1024)
    elif name == "sssnet":  # 9 x 9 x 64 into the hidden layer
        assert shapes["conv0"]["kernel"] == (5, 5, 3, 32) and shapes["fc"]["kernel"] == (5184, 256)
    elif name.startswith("rcn"):  # 7 x 7 x 64 pooled maps into the classifier
        assert shapes["conv1"]["conv"]["kernel"] == (5, 5, 3, 64)
        assert shapes["classifier_kernel"] == (7 * 7 * 64, 3)
    else:
        assert shapes["stem_conv"]["kernel"] == (7, 7, 3, 64)
        assert shapes["classifier"]["kernel"] == (512, 3)


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_one_training_step_lowers_the_loss(name):
    model, side = _model(name)
    if name == "resnet18":  # the same layers, a quarter of the widths, lax convolutions: faster
        model, side = model.clone(widths=(16, 32, 64, 128), conv_impl="xla"), 32
    rng = np.random.default_rng(0)
    views = {"flow": jnp.asarray(rng.normal(size=(6, side, side, 3)), jnp.float32)}
    labels = jnp.asarray([0, 1, 2, 0, 1, 2])
    variables = jax.jit(lambda: model.init(jax.random.PRNGKey(0), views, train=False))()
    params, state = variables["params"], {k: v for k, v in variables.items() if k != "params"}

    def loss(p, key):  # training mode: the batch's own moments
        logits, _ = model.apply({"params": p, **state}, views, train=True,
                                rngs={"dropout": key}, mutable=list(state))
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

    step = jax.jit(jax.value_and_grad(loss))  # one program: a third of the eager time
    optimiser = optax.sgd(1e-4)  # a small gradient step (the recipes' own lrs overshoot
                                 # on some random batches: RCN-S's SGD 0.01 here)
    key = jax.random.PRNGKey(1)  # the same dropout masks before and after the step
    before, grads = step(params, key)
    updates, _ = optimiser.update(grads, optimiser.init(params), params)
    after, _ = step(optax.apply_updates(params, updates), key)
    assert after < before


def test_sssnets_channel_dropout_drops_whole_maps():
    from faceslueth_jax.models.layers import Dropout
    x = jnp.ones((2, 5, 5, 8))
    y = Dropout(0.5, per_channel=True).apply({}, x, deterministic=False,
                                             rngs={"dropout": jax.random.PRNGKey(3)})
    per_map = y.reshape(2, 25, 8)
    assert bool(jnp.all((per_map == per_map[:, :1]))) and 0 < float((y == 0).mean()) < 1


def test_adaptive_pooling_bins_are_torchs():
    from faceslueth_jax.models.rcn import adaptive_avg_pool, adaptive_pool_matrix
    m = adaptive_pool_matrix(28, 5)  # torch's bins: [0,6) [5,12) [11,17) [16,23) [22,28)
    assert [tuple(np.flatnonzero(r)[[0, -1]]) for r in m] == [(0, 5), (5, 11), (11, 16),
                                                              (16, 22), (22, 27)]
    x = jnp.arange(2 * 14 * 14 * 1, dtype=jnp.float32).reshape(2, 14, 14, 1)
    pooled = adaptive_avg_pool(x, 7)  # even bins of 2 x 2
    assert jnp.allclose(pooled[:, :, :, 0], x[..., 0].reshape(2, 7, 2, 7, 2).mean((2, 4)))


def test_rcn_attention_is_scaled_per_sample_and_finite_on_a_flat_map():
    from faceslueth_jax.models.rcn import class_attention
    rng = np.random.default_rng(0)
    pooled = jnp.asarray(rng.normal(size=(2, 7, 7, 4)), jnp.float32)
    kernel = jnp.asarray(rng.normal(size=(7 * 7 * 4, 3)), jnp.float32)
    a = class_attention(pooled, kernel)
    assert a.shape == (2, 7, 7, 1)
    assert float(a.min()) >= 0 and float(a.max()) <= 1
    flat = class_attention(jnp.zeros((1, 7, 7, 4)), kernel)
    assert bool(jnp.all(jnp.isfinite(flat)))


def test_sssnet_softmax_output_keeps_the_class_order():
    cfg = sssnet_composite.get_config()
    assert cfg.model.sssnet.softmax_output  # meb's published run
    model = registry.from_config(cfg.model, 3)
    views = {"flow": jnp.asarray(np.random.default_rng(0).normal(size=(4, 64, 64, 3)),
                                 jnp.float32)}
    variables = model.init(jax.random.PRNGKey(0), views, train=False)
    probs = model.apply(variables, views, train=False)
    assert jnp.allclose(probs.sum(-1), 1.0, atol=1e-5)
    cfg.model.sssnet.softmax_output = False
    logits = registry.from_config(cfg.model, 3).apply(variables, views, train=False)
    assert (probs.argmax(-1) == logits.argmax(-1)).all()


@pytest.mark.parametrize("config,field,value,message", [
    (rcn_a_composite, "rcn_a.variant", "w", "variant must be 'a' or 's'"),
    (rcn_a_composite, "rcn_a.pool_size", 0, "pool_size must be an integer >= 1"),
    (resnet18_composite, "resnet18.widths", (64, 0, 8, 8), "widths must be integers >= 1"),
    (resnet18_composite, "resnet18.blocks", (2, 2), "differ in length"),
])
def test_settings_that_cannot_work_are_refused_naming_the_field(config, field, value, message):
    from faceslueth_jax.pipeline import checks
    cfg = config.get_config()
    section, name = field.split(".")
    cfg.model[section][name] = value
    with pytest.raises(checks.ConfigError, match=message):
        checks.check_config(cfg)
