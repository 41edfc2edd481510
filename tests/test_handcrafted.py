"""The hand-crafted descriptors: MDMO reads each region's main direction and its mean
motion, LBP-TOP the local binary patterns of the three planes; both refuse what they
cannot read, and the baseline fits a linear model on whichever a config names."""

from __future__ import annotations

import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from faceslueth_jax.data import records
from faceslueth_jax.evaluation import baseline
from faceslueth_jax.models import lbp_top, mdmo
from faceslueth_jax.pipeline import checks
from configs import mdmo_composite


def _flow(regions: dict, size: int = 24, grid: int = 6) -> jnp.ndarray:
    """(1, size, size, 2) flow with vector (u, v) over each listed grid region."""
    f = np.zeros((1, size, size, 2), np.float32)
    index = mdmo.region_index(size, size, grid)
    for r, uv in regions.items():
        f[0][index == r] = uv
    return jnp.asarray(f)


def test_mdmo_gives_each_region_its_motion_scaled_by_the_largest():
    x = np.asarray(mdmo.features(_flow({0: (2.0, 0.0), 7: (0.0, -1.0)})))[0]
    cos, sin = x[:36], x[36:]
    assert cos[0] == pytest.approx(1.0) and sin[0] == pytest.approx(0.0, abs=1e-6)
    assert cos[7] == pytest.approx(0.0, abs=1e-6) and sin[7] == pytest.approx(-0.5)
    still = [r for r in range(36) if r not in (0, 7)]
    assert np.allclose(cos[still], 0) and np.allclose(sin[still], 0)


def test_mdmo_keeps_the_main_direction_and_ignores_the_minority():
    f = np.array(_flow({0: (1.0, 0.0)}))
    index = mdmo.region_index(24, 24, 6)
    cells = np.argwhere(index == 0)
    f[0, cells[0][0], cells[0][1]] = (-3.0, 0.0)  # one vector of 16 the other way
    x = np.asarray(mdmo.features(jnp.asarray(f)))[0]
    assert x[0] == pytest.approx(1.0) and x[36] == pytest.approx(0.0, abs=1e-6)


def test_mdmo_takes_away_the_faces_common_shift():
    shifted = _flow({0: (1.0, 0.0)}) + jnp.asarray([0.7, -0.2])  # min-max stored flow
    assert np.allclose(mdmo.features(shifted), mdmo.features(_flow({0: (1.0, 0.0)})),
                       atol=1e-6)


def test_uniform_patterns_are_58_and_the_rest_share_one_bin():
    bins = lbp_top.uniform_bins()
    assert (bins < 58).sum() == 58 and len(set(bins[bins < 58].tolist())) == 58
    assert bins[0] != bins[255] and bins[0b00001111] < 58 and bins[0b01010101] == 58


def test_lbp_top_codes_of_a_static_ramp():
    """Intensity rising along x, nothing changing in time: on XT every centre sees its
    neighbours at x >= its own as >= (ring k = 1..5, code 62); on YT every neighbour equals
    the centre (code 255)."""
    t, h, w = 5, 6, 7
    volume = jnp.broadcast_to(jnp.arange(w, dtype=jnp.float32), (1, t, h, w))
    assert bool(jnp.all(lbp_top.plane_codes(volume, (1, 3)) == 62))
    assert bool(jnp.all(lbp_top.plane_codes(volume, (1, 2)) == 255))
    feature = lbp_top.features(volume, grid=1)
    assert feature.shape == (1, 3 * 59) and np.allclose(feature.reshape(3, 59).sum(-1), 1)


def test_lbp_top_needs_frames_and_says_where_they_come_from():
    data = records.MEData(label=np.zeros(2, int), subject=np.array(["a", "b"]),
                          dataset=np.array(["x", "x"]), sample_id=np.array(["1", "2"]),
                          class_names=("a", "b"), views={"flow": np.zeros((2, 8, 8, 3))})
    with pytest.raises(ValueError, match="clip_frames"):
        baseline.FEATURES["lbp_top"](data)


def test_an_unknown_descriptor_is_a_config_error():
    config = mdmo_composite.get_config()
    config.baseline.features = "hog"
    with pytest.raises(checks.ConfigError, match="baseline.features"):
        checks.check_config(config)


@pytest.mark.parametrize("grid", [0, -2])
def test_a_grid_that_is_no_positive_integer_is_refused(grid):
    config = mdmo_composite.get_config()
    config.model.mdmo.grid = grid
    with pytest.raises(checks.ConfigError, match="model.mdmo.grid must be an integer"):
        checks.check_config(config)
