"""SOA: both modes against the PyTorch reference's golden outputs, and d/dtheta."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from faceslueth_jax.reference import torch_weights
from faceslueth_jax.models import soa
from tests.conftest import shared_path

TOL = 1e-5


@pytest.fixture(scope="module")
def golden():
    return dict(np.load(shared_path("golden", "soa_reference.npz")))


def _pool_from_vec(x, vec):
    return soa.reference_orientation_pool(x, soa.orientation_angle(vec))


@pytest.mark.parametrize("case", ["a", "b"])
def test_reference_pool_matches_golden(golden, case):
    x = jnp.asarray(torch_weights.nchw_to_nhwc(golden[f"pool_{case}_x"]))
    g = jnp.asarray(torch_weights.nchw_to_nhwc(golden[f"pool_{case}_cotangent"]))
    for k, t0 in enumerate(golden["pool_thetas"]):
        vec = jnp.array([math.cos(t0), math.sin(t0)], jnp.float32)
        y, vjp = jax.vjp(_pool_from_vec, x, vec)
        grad_x, grad_vec = vjp(g)
        want_y = torch_weights.nchw_to_nhwc(golden[f"pool_{case}_y"][k])
        want_gx = torch_weights.nchw_to_nhwc(golden[f"pool_{case}_grad_x"][k])
        np.testing.assert_allclose(y, want_y, atol=TOL, rtol=0, err_msg=f"theta={t0}")
        np.testing.assert_allclose(grad_x, want_gx, atol=TOL, rtol=0, err_msg=f"theta={t0}")
        np.testing.assert_allclose(grad_vec, golden[f"pool_{case}_grad_vec"][k],
                                   atol=TOL, rtol=0, err_msg=f"theta={t0}")


@pytest.mark.parametrize("with_prev", [False, True])
def test_reference_block_matches_golden(golden, with_prev):
    state = {k[len("soa_block_param/"):]: v for k, v in golden.items()
             if k.startswith("soa_block_param/")}
    params, stats = torch_weights.soa_block(state)
    block = soa.SOABlock(features=16, mode="reference")
    x = jnp.asarray(torch_weights.nchw_to_nhwc(golden["soa_block_x"]))
    a_prev = (jnp.asarray(torch_weights.nchw_to_nhwc(golden["soa_block_a_h_prev"]))
              if with_prev else None)
    out, a = block.apply({"params": params, "batch_stats": stats}, x, a_prev, train=False)
    suffix = ("prev", "prev_out") if with_prev else ("noprev", "noprev")
    np.testing.assert_allclose(out, torch_weights.nchw_to_nhwc(golden[f"soa_block_out_{suffix[0]}"]),
                               atol=TOL, rtol=0)
    np.testing.assert_allclose(a, torch_weights.nchw_to_nhwc(golden[f"soa_block_a_h_{suffix[1]}"]),
                               atol=TOL, rtol=0)
    assert float(soa.orientation_angle(params["orientation"])) == pytest.approx(
        float(golden["soa_block_theta"]), abs=1e-6)


def test_orientation_angle_range():
    for deg in (0.0, 30.0, 89.0, 90.0, 135.0, 179.0):
        t = math.radians(deg)
        for sign in (1.0, -1.0):  # (a, b) and (-a, -b) are the same orientation
            got = soa.orientation_angle(sign * jnp.array([math.cos(t), math.sin(t)]))
            assert math.degrees(float(got)) == pytest.approx(deg, abs=1e-4)


def test_steerable_kernel_is_directional_derivative():
    """On a linear ramp f = p x + q y the response is the derivative along theta."""
    h = w = 12
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    p, q = 0.7, -1.3
    ramp = jnp.asarray((p * xx + q * yy)[None, :, :, None])
    for deg in (0.0, 40.0, 90.0, 150.0):
        t = math.radians(deg)
        r = soa.steerable_derivative(ramp, jnp.array([math.cos(t), math.sin(t)]))
        interior = np.asarray(r[0, 2:-2, 2:-2, 0])
        np.testing.assert_allclose(interior, p * math.cos(t) + q * math.sin(t), atol=1e-5)


def _block_loss(mode):
    block = soa.SOABlock(features=8, mode=mode)
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 9, 9, 8))
    variables = block.init(jax.random.PRNGKey(1), x, train=False)

    def loss(vec):
        params = dict(variables["params"], orientation=vec)
        out, _ = block.apply(dict(variables, params=params), x, train=False)
        return jnp.sum(out ** 2)

    return loss, variables["params"]["orientation"]


@pytest.mark.parametrize("mode", ["steerable", "reference"])
def test_theta_gradient_matches_finite_differences(mode):
    """Central differences in float64 agree with autodiff for d loss / d orientation."""
    with jax.enable_x64(True):
        loss, vec = _block_loss(mode)
        vec = vec.astype(jnp.float64)
        grad = np.asarray(jax.grad(loss)(vec))
        eps = 1e-6
        for i in range(2):
            step = jnp.zeros(2, jnp.float64).at[i].set(eps)
            fd = (loss(vec + step) - loss(vec - step)) / (2 * eps)
            assert grad[i] == pytest.approx(float(fd), rel=1e-4, abs=1e-7), (mode, i)
        assert np.abs(grad).max() > 0.0


def test_unknown_mode_is_rejected():
    with pytest.raises(ValueError, match="soa.mode"):
        soa.SOABlock(features=8, mode="bogus").init(
            jax.random.PRNGKey(0), jnp.zeros((1, 4, 4, 8)), train=False)
