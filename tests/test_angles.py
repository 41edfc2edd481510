"""Axial circular statistics of SOA angles against answers worked out by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from faceslueth_jax.evaluation import angles


def _axial_distance(a, b):
    """Degrees between two axes (0 and 180 are the same axis)."""
    d = np.mod(np.asarray(a, float) - np.asarray(b, float), 180.0)
    return np.minimum(d, 180.0 - d)


def test_angles_either_side_of_zero_average_to_zero_not_ninety():
    mean, spread, r = angles.axial_stats(np.array([2.0, 178.0]))
    assert _axial_distance(mean, 0.0) < 1e-9
    assert 0.0 <= mean < 180.0
    # doubled: +-4 degrees, R = cos 4 deg; spread = sqrt(-2 ln R) / 2 in degrees
    assert r == pytest.approx(math.cos(math.radians(4.0)), abs=1e-12)
    want = math.degrees(math.sqrt(-2 * math.log(math.cos(math.radians(4.0))))) / 2
    assert spread == pytest.approx(want, rel=1e-9)
    assert spread == pytest.approx(2.0, abs=0.01)  # two axes +-2 deg apart: spread ~ 2 deg


def test_angles_either_side_of_ninety():
    mean, spread, r = angles.axial_stats(np.array([80.0, 100.0]))
    assert mean == pytest.approx(90.0, abs=1e-9)
    assert r == pytest.approx(math.cos(math.radians(20.0)), abs=1e-12)
    # sqrt(-2 ln cos 20 deg) = sqrt(0.124404) = 0.352710 rad = 20.2088 deg, halved
    assert spread == pytest.approx(10.1044, abs=1e-4)


def test_identical_angles_have_zero_spread():
    mean, spread, r = angles.axial_stats(np.full(5, 37.5))
    assert mean == pytest.approx(37.5, abs=1e-9)
    assert r == pytest.approx(1.0, abs=1e-12) and spread == 0.0


def test_uniformly_spread_axes_have_no_mean_direction():
    # 0, 45, 90, 135 double to 0, 90, 180, 270: the unit vectors cancel
    theta = np.array([0.0, 45.0, 90.0, 135.0])
    r = angles.resultant_length(theta)
    assert r < 1e-12
    _, spread, _ = angles.axial_stats(theta)
    assert spread > 90.0  # sqrt(-2 ln R) / 2 grows without bound as R -> 0


def test_statistics_along_an_axis():
    theta = np.array([[2.0, 80.0], [178.0, 100.0]])  # (folds, layers)
    mean, spread, r = angles.axial_stats(theta, axis=0)
    assert mean.shape == spread.shape == r.shape == (2,)
    assert _axial_distance(mean[0], 0.0) < 1e-9 and mean[1] == pytest.approx(90.0)
    np.testing.assert_allclose(angles.axial_mean(theta, axis=0), mean)
    np.testing.assert_allclose(angles.axial_spread(theta, axis=0), spread)


def test_mean_is_the_doubled_angle_mean_halved():
    rng = np.random.default_rng(0)
    theta = np.mod(30.0 + rng.normal(0, 5, size=200), 180.0)
    mean = angles.axial_mean(theta)
    phi = np.radians(2 * theta)
    want = math.degrees(math.atan2(np.sin(phi).mean(), np.cos(phi).mean())) / 2 % 180
    assert mean == pytest.approx(want, abs=1e-9)
    assert angles.axial_spread(theta) == pytest.approx(5.0, abs=1.0)


def test_unwrap_keeps_a_curve_crossing_zero_continuous():
    curve = np.array([176.0, 178.0, 0.5, 3.0])
    unwrapped = angles.unwrap(curve)
    np.testing.assert_allclose(unwrapped, [176.0, 178.0, 180.5, 183.0])
    np.testing.assert_allclose(np.mod(unwrapped, 180.0), curve)


def test_final_theta_summary_is_json_with_circular_statistics():
    theta = np.zeros((3, 4, 2))  # (folds, epochs, layers); only the last epoch counts
    theta[:, :-1] = 45.0
    theta[:, -1, 0] = [2.0, 178.0, 0.0]
    theta[:, -1, 1] = [80.0, 100.0, 90.0]
    summary = angles.final_theta_summary(theta, ["s1", "s2", "s3"])
    json.dumps(summary, allow_nan=False)  # plain JSON: lists and floats
    assert summary["per_fold"] == {"s1": [2.0, 80.0], "s2": [178.0, 100.0], "s3": [0.0, 90.0]}
    assert _axial_distance(summary["circular_mean"][0], 0.0) < 1e-9
    assert summary["circular_mean"][1] == pytest.approx(90.0)
    # doubled deviations from the mean: (4, -4, 0) and (-20, 20, 0) degrees
    r = [(2 * math.cos(math.radians(d)) + 1) / 3 for d in (4.0, 20.0)]
    assert summary["resultant_length"] == pytest.approx(r, abs=1e-12)
    assert summary["circular_spread"] == pytest.approx(
        [math.degrees(math.sqrt(-2 * math.log(v))) / 2 for v in r], rel=1e-9)
    assert "mean" not in summary  # no arithmetic mean of axes


def test_final_theta_summary_without_a_mean_direction_stays_json():
    theta = np.array([0.0, 90.0])[:, None, None]  # two perpendicular axes: R = 0 up to rounding
    summary = angles.final_theta_summary(theta, ["a", "b"])
    json.dumps(summary, allow_nan=False)
    assert summary["resultant_length"][0] < 1e-12


def test_final_theta_summary_checks_shapes():
    with pytest.raises(ValueError, match="folds, epochs, layers"):
        angles.final_theta_summary(np.zeros((3, 4)), ["a", "b", "c"])
    with pytest.raises(ValueError, match="2 fold names for 3 folds"):
        angles.final_theta_summary(np.zeros((3, 4, 1)), ["a", "b"])
