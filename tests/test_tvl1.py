"""Tests for the JAX TV-L1 optical flow and optical strain.

Ground truth is exact: the second frame I1 is an analytic texture f, and the
first frame is f evaluated at displaced coordinates, I0(x) = f(x + w(x)), so
I1(x + w(x)) = I0(x) holds with no interpolation error and w is the true flow
on I0's grid. All flow tests share one image size and TVL1Params so each jitted
function compiles once (about 5-10 s each on 2 CPU cores).
"""

import numpy as np
import pytest

from faceslueth_jax.preprocess.strain import optical_strain
from faceslueth_jax.preprocess.tvl1 import (
    TVL1Params,
    flow_uvs_batch,
    tvl1,
    tvl1_batch,
)

SIZE = 64
BORDER = 8
PARAMS = TVL1Params()


def texture(x, y, seed=0, n_waves=12):
    """Sum of random plane waves (wavelengths ~10-60 px), values in 0..255."""
    rng = np.random.default_rng(seed)
    out = np.zeros(np.broadcast(x, y).shape)
    for _ in range(n_waves):
        k = rng.uniform(0.1, 0.6)
        angle, phase = rng.uniform(0.0, 2.0 * np.pi, 2)
        out += np.sin(k * (np.cos(angle) * x + np.sin(angle) * y) + phase)
    return 127.5 + 127.5 * out / n_waves


def make_pair(u, v, seed=0):
    """(I0, I1) float32 with exact flow (u, v): I1 = f, I0(x, y) = f(x + u, y + v)."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    i0 = texture(xx + u, yy + v, seed)
    i1 = texture(xx, yy, seed)
    return i0.astype(np.float32), i1.astype(np.float32)


def smooth_field():
    """Smooth non-constant flow: a Gaussian bump of peak ~(1.0, -0.5) px."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    bump = np.exp(-((xx - 30.0) ** 2 + (yy - 34.0) ** 2) / (2.0 * 12.0**2))
    return 1.0 * bump, -0.5 * bump


def interior_epe(flow, u, v):
    """Mean end-point error, ignoring a BORDER-pixel frame."""
    flow = np.asarray(flow)
    err = np.hypot(flow[..., 0] - u, flow[..., 1] - v)
    return float(err[BORDER:-BORDER, BORDER:-BORDER].mean())


@pytest.fixture(scope="module")
def cases():
    """name -> (i0, i1, true u, true v, flow from the single-pair tvl1)."""
    zeros = np.zeros((SIZE, SIZE))
    fields = {
        "constant": (0.6 + zeros, -0.35 + zeros),
        "smooth": smooth_field(),
        "zero": (zeros, zeros),
    }
    out = {}
    for seed, (name, (u, v)) in enumerate(fields.items()):
        i0, i1 = make_pair(u, v, seed=seed)
        out[name] = (i0, i1, u, v, np.asarray(tvl1(i0, i1, PARAMS)))
    return out


def test_output_shape_and_dtype(cases):
    flow = cases["constant"][4]
    assert flow.shape == (SIZE, SIZE, 2)
    assert flow.dtype == np.float32


def test_constant_subpixel_shift(cases):
    i0, i1, u, v, flow = cases["constant"]
    epe = interior_epe(flow, u, v)
    print(f"\nconstant shift (0.6, -0.35) EPE = {epe:.4f} px")
    # Measured 0.018 px (64x64, defaults). Bound 0.05 px: a sign/axis swap or
    # a broken pyramid gives errors of the order of the shift (~0.7 px).
    assert epe < 0.05


def test_smooth_local_displacement(cases):
    i0, i1, u, v, flow = cases["smooth"]
    epe = interior_epe(flow, u, v)
    print(f"\nsmooth bump (peak 1.0, -0.5) EPE = {epe:.4f} px")
    # Measured 0.052 px (64x64, defaults). TV regularisation flattens the
    # bump's peak and rounds its flanks, so the bound is looser than for a
    # constant shift; a missing coarse-to-fine or warping step fails it.
    assert epe < 0.1


def test_zero_motion_gives_zero_flow(cases):
    flow = cases["zero"][4]
    # Measured exactly 0: identical frames give rho = 0 everywhere.
    assert np.abs(flow).max() < 1e-3


def test_batch_matches_single(cases):
    names = list(cases)
    i0s = np.stack([cases[n][0] for n in names])
    i1s = np.stack([cases[n][1] for n in names])
    batched = np.asarray(tvl1_batch(i0s, i1s, PARAMS))
    assert batched.shape == (len(names), SIZE, SIZE, 2)
    for k, name in enumerate(names):
        np.testing.assert_allclose(batched[k], cases[name][4], atol=1e-4, err_msg=name)


def test_flow_uvs_batch_stacks_flow_and_strain(cases):
    i0, i1, _, _, flow = cases["smooth"]
    uvs = np.asarray(flow_uvs_batch(i0[None], i1[None], PARAMS))[0]
    assert uvs.shape == (SIZE, SIZE, 3)
    np.testing.assert_allclose(uvs[..., :2], flow, atol=1e-4)
    np.testing.assert_allclose(uvs[..., 2], np.asarray(optical_strain(flow)), atol=1e-4)


def _grid(h=20, w=24):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return xx, yy


def test_strain_of_linear_field():
    a, b = 0.03, -0.02
    xx, yy = _grid()
    strain = np.asarray(optical_strain(np.stack([a * xx, b * yy], axis=-1)))
    np.testing.assert_allclose(strain[1:-1, 1:-1], np.hypot(a, b), rtol=1e-5)


def test_strain_of_pure_shear():
    c = 0.05  # u = c y: e_xy = c / 2, strain = sqrt(2 (c/2)^2) = c / sqrt(2)
    xx, yy = _grid()
    strain = np.asarray(optical_strain(np.stack([c * yy, 0 * xx], axis=-1)))
    np.testing.assert_allclose(strain[1:-1, 1:-1], c / np.sqrt(2.0), rtol=1e-5)


def test_strain_of_translation_is_zero():
    flow = np.broadcast_to(np.float32([1.7, -0.4]), (20, 24, 2))
    assert np.abs(np.asarray(optical_strain(flow))).max() < 1e-6


def test_params_are_hashable_and_static():
    assert hash(TVL1Params()) == hash(TVL1Params())
    assert TVL1Params(num_warps=3) != PARAMS
