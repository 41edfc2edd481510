"""The two formulations of each convolution give the same numbers and variables."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from faceslueth_jax.models import layers, soa, swin


@pytest.mark.parametrize("k,stride,size", [(3, 1, 7), (3, 2, 7), (3, 2, 8), (1, 2, 6), (1, 1, 5)])
def test_conv_as_matmul_equals_the_convolution(k, stride, size):
    x = jax.random.normal(jax.random.PRNGKey(0), (2, size, size, 5))
    xla = layers.Conv(6, k, stride, use_bias=True, impl="xla")
    mm = layers.Conv(6, k, stride, use_bias=True, impl="matmul")
    variables = xla.init(jax.random.PRNGKey(1), x)
    assert jax.tree.map(np.shape, mm.init(jax.random.PRNGKey(1), x)) == \
        jax.tree.map(np.shape, variables)
    variables = jax.tree.map(lambda v: v + 0.1, variables)  # a non-zero bias too
    np.testing.assert_allclose(mm.apply(variables, x), xla.apply(variables, x), atol=1e-5)
    # the module nn.Conv was: same initial kernel for the same key and name
    ref = nn.Conv(6, (k, k), strides=(stride, stride), padding=((k // 2, k // 2),) * 2)
    np.testing.assert_array_equal(ref.init(jax.random.PRNGKey(1), x)["params"]["kernel"],
                                  xla.init(jax.random.PRNGKey(1), x)["params"]["kernel"])


def test_conv_under_vmap_over_folds():
    """Per-fold kernels: the matmul form under vmap equals each fold on its own."""
    x = jax.random.normal(jax.random.PRNGKey(0), (3, 2, 7, 7, 4))
    mm = layers.Conv(5, 3, 1, impl="matmul")
    keys = jax.random.split(jax.random.PRNGKey(1), 3)
    params = jax.vmap(lambda k, xi: mm.init(k, xi))(keys, x)
    together = jax.vmap(mm.apply)(params, x)
    for f in range(3):
        alone = layers.Conv(5, 3, 1, impl="xla").apply(jax.tree.map(lambda a: a[f], params), x[f])
        np.testing.assert_allclose(together[f], alone, atol=1e-5)


def _depthwise_conv_derivative(x, vec):
    """The steered filter as a depthwise lax convolution (the form it replaced)."""
    unit = vec / jnp.linalg.norm(vec)
    kernel = unit[0] * soa.SOBEL_X + unit[1] * soa.SOBEL_Y
    channels = x.shape[-1]
    kernel = jnp.broadcast_to(kernel[:, :, None, None], (3, 3, 1, channels))
    return jax.lax.conv_general_dilated(
        x, kernel, window_strides=(1, 1), padding="SAME",
        dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=channels)


def test_steerable_filter_equals_the_depthwise_convolution():
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 9, 9, 4))
    vec = jnp.array([0.3, -1.2])
    np.testing.assert_allclose(soa.steerable_derivative(x, vec),
                               _depthwise_conv_derivative(x, vec), atol=1e-6)
    grad = lambda f: jax.grad(lambda v: jnp.sum(jnp.abs(f(x, v))))(vec)
    np.testing.assert_allclose(grad(soa.steerable_derivative), grad(_depthwise_conv_derivative),
                               rtol=1e-4)  # sums in another order


def test_flat_dense_is_dense():
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 3, 5, 6))
    dense, flat = nn.Dense(4), layers.FlatDense(4)
    variables = dense.init(jax.random.PRNGKey(1), x)
    assert jax.tree.map(np.shape, flat.init(jax.random.PRNGKey(1), x)) == \
        jax.tree.map(np.shape, variables)
    np.testing.assert_allclose(flat.apply(variables, x), dense.apply(variables, x), atol=1e-6)


def test_auto_conv_impl_follows_the_backend():
    assert layers.resolve_conv_impl("xla") == "xla"
    assert layers.resolve_conv_impl("matmul") == "matmul"
    assert layers.resolve_conv_impl("auto") == ("matmul" if jax.default_backend() == "cpu"
                                                else "xla")


def test_patch_embedding_as_matmul():
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 16, 16, 3))
    conv = swin.PatchEmbed(4, 8, conv_impl="xla")
    mm = swin.PatchEmbed(4, 8, conv_impl="matmul")
    variables = conv.init(jax.random.PRNGKey(1), x)
    np.testing.assert_array_equal(mm.init(jax.random.PRNGKey(1), x)["params"]["proj"]["kernel"],
                                  variables["params"]["proj"]["kernel"])
    variables = jax.tree.map(lambda v: v + 0.05, variables)
    np.testing.assert_allclose(mm.apply(variables, x), conv.apply(variables, x), atol=1e-5)


def test_unknown_impl_is_refused():
    with pytest.raises(ValueError, match="conv impl"):
        layers.Conv(2, 3, impl="fft").init(jax.random.PRNGKey(0), jnp.ones((1, 4, 4, 1)))
