"""tvaranka/meb's baselines at their published sizes: OFF-ApexNet and SSSNet. For each,
the parameter count of meb's network (its layer sizes counted by hand in the module
docs), the shapes, and one training step lowering the loss on a tiny batch."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from configs import offapexnet_composite, sssnet_composite
from faceslueth_jax.models import registry

NETWORKS = {  # config, flow side, parameters for 3 classes (meb's layer sizes)
    "offapexnet": (offapexnet_composite, 28, 807_909),
    "sssnet": (sssnet_composite, 64, 1_349_251),
}


def _model(name: str, classes: int = 3):
    config, side, _ = NETWORKS[name]
    cfg = config.get_config()
    assert cfg.data.flow_size == side
    return registry.from_config(cfg.model, classes), side


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
    else:  # 9 x 9 x 64 into the hidden layer
        assert shapes["conv0"]["kernel"] == (5, 5, 3, 32) and shapes["fc"]["kernel"] == (5184, 256)


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_one_training_step_lowers_the_loss(name):
    model, side = _model(name)
    rng = np.random.default_rng(0)
    views = {"flow": jnp.asarray(rng.normal(size=(8, side, side, 3)), jnp.float32)}
    labels = jnp.asarray([0, 1, 2, 0, 1, 2, 0, 1])
    variables = model.init(jax.random.PRNGKey(0), views, train=False)
    params, state = variables["params"], {k: v for k, v in variables.items() if k != "params"}

    def loss(p, train, key=None):
        kwargs = dict(rngs={"dropout": key}, mutable=list(state)) if train else {}
        out = model.apply({"params": p, **state}, views, train=train, **kwargs)
        logits = out[0] if train else out  # training: the batch's own moments
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

    optimiser = optax.adam(1e-3)
    key = jax.random.PRNGKey(1)  # the same dropout masks before and after the step
    grads = jax.grad(loss)(params, True, key)
    updates, _ = optimiser.update(grads, optimiser.init(params), params)
    assert loss(optax.apply_updates(params, updates), True, key) < loss(params, True, key)


def test_sssnets_channel_dropout_drops_whole_maps():
    from faceslueth_jax.models.layers import Dropout
    x = jnp.ones((2, 5, 5, 8))
    y = Dropout(0.5, per_channel=True).apply({}, x, deterministic=False,
                                             rngs={"dropout": jax.random.PRNGKey(3)})
    per_map = y.reshape(2, 25, 8)
    assert bool(jnp.all((per_map == per_map[:, :1]))) and 0 < float((y == 0).mean()) < 1
