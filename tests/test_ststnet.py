"""STSTNet at its published layer sizes (Liong et al. 2019; tvaranka/meb's STSTNet)."""

import jax
import jax.numpy as jnp
import numpy as np

from configs import ststnet_composite
from faceslueth_jax.models import registry
from faceslueth_jax.models.ststnet import STSTNet


def test_published_layer_sizes():
    model = registry.from_config(ststnet_composite.get_config().model, 3)
    views = {"flow": jnp.zeros((2, 28, 28, 3))}
    params = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), views, train=False))["params"]
    shapes = jax.tree.map(lambda a: a.shape, params)
    assert [shapes[f"conv{i}"]["kernel"] for i in range(3)] == [(3, 3, 3, 3), (3, 3, 3, 5),
                                                                 (3, 3, 3, 8)]
    assert [shapes[f"bn{i}"]["scale"] for i in range(3)] == [(3,), (5,), (8,)]
    assert shapes["classifier"]["kernel"] == (400, 3)  # 5 x 5 x 16 after the pools
    assert sum(int(np.prod(a.shape)) for a in jax.tree.leaves(params)) == 1683


def test_padding_two_gives_30x30_in_both_convolution_forms():
    from faceslueth_jax.models.layers import Conv

    x = jax.random.normal(jax.random.PRNGKey(1), (2, 28, 28, 3))
    outs = []
    for impl in ("xla", "matmul"):
        conv = Conv(5, 3, padding=2, use_bias=True, impl=impl)
        variables = conv.init(jax.random.PRNGKey(0), x)
        outs.append(conv.apply(variables, x))
    assert outs[0].shape == (2, 30, 30, 5)
    np.testing.assert_allclose(outs[0], outs[1], atol=1e-5)


def test_dropout_is_active_in_training_only():
    model = STSTNet(num_classes=3)
    x = {"flow": jax.random.normal(jax.random.PRNGKey(1), (4, 28, 28, 3))}
    variables = model.init(jax.random.PRNGKey(0), x, train=False)
    train = lambda k: model.apply(variables, x, train=True, mutable=["batch_stats"],
                                  rngs={"dropout": k})[0]
    assert not np.allclose(train(jax.random.PRNGKey(2)), train(jax.random.PRNGKey(3)))
    np.testing.assert_array_equal(model.apply(variables, x, train=False),
                                  model.apply(variables, x, train=False))
