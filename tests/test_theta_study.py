"""bench/theta_study.py's tilt: the whole face turns, pixels and flow vectors alike."""

import importlib.util
import pathlib

import numpy as np
import pytest

from faceslueth_jax.data.records import MEData

_PATH = pathlib.Path(__file__).resolve().parents[1] / "bench" / "theta_study.py"
_spec = importlib.util.spec_from_file_location("theta_study", _PATH)
theta_study = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(theta_study)


def _data(flow, apex=None):
    views = {"flow": flow[None]}
    if apex is not None:
        views["apex"] = apex[None]
    one = np.array(["x"])
    return MEData(views=views, label=np.zeros(1, np.int32), subject=one, dataset=one,
                  sample_id=one, class_names=("a",))


def test_tilt_turns_a_downward_bar_into_a_leftward_column():
    flow = np.zeros((21, 21, 3), np.float32)
    flow[10, 5:16, 1] = 1.0   # v = 1 (down) along a horizontal bar
    flow[10, 5:16, 2] = 0.5   # strain: a scalar, moved but not turned
    turned = theta_study.tilt(_data(flow, apex=flow[..., 2:]), 90.0).views
    rows, cols = np.nonzero(np.abs(turned["flow"][0, ..., 0]) > 0.5)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (5, 15, 10, 10)  # now vertical
    np.testing.assert_allclose(turned["flow"][0, 10, 10], [-1.0, 0.0, 0.5], atol=1e-6)  # left
    np.testing.assert_allclose(turned["apex"][0, ..., 0], turned["flow"][0, ..., 2])


@pytest.mark.parametrize("degrees", [45.0, 135.0])
def test_tilt_turns_vectors_by_the_angle(degrees):
    flow = np.zeros((31, 31, 3), np.float32)
    flow[12:19, 12:19, 0] = 1.0   # u = 1 (right) on a square at the centre
    u, v = theta_study.tilt(_data(flow), degrees).views["flow"][0, 15, 15, :2]
    assert np.degrees(np.arctan2(v, u)) == pytest.approx(degrees, abs=1e-4)


def test_no_tilt_keeps_the_data():
    data = _data(np.random.default_rng(0).random((8, 8, 3), dtype=np.float32))
    assert theta_study.tilt(data, 0.0) is data


def test_plot_draws_a_panel_per_layer(tmp_path):
    rows = [dict(group=g, trajectory_deg=[[72.0, 72.0], [75.0, 178.0], [80.0, 2.0]],
                 theta_final_deg=[80.0, 2.0]) for g in ("casme2", "samm")]
    theta_study.plot(rows, tmp_path / "theta.png")
    import matplotlib.image
    height, width = matplotlib.image.imread(tmp_path / "theta.png").shape[:2]
    assert width > 1.8 * height  # two panels side by side
