r"""Axial circular statistics of the SOA layers' learned orientation angles.

An SOA angle theta in [0, 180) degrees names an axis: theta and theta + 180 are
the same orientation, so 2 and 178 degrees lie 4 degrees apart, and their plain
average, 90, is the one orientation furthest from both. Doubling the angle maps
axes one-to-one onto the full circle, where the usual circular statistics apply
(Mardia & Jupp, *Directional Statistics*, sec. 9.3.2). For angles theta_i:

    phi_i = 2 theta_i
    C = mean_i cos phi_i,   S = mean_i sin phi_i
    R = sqrt(C^2 + S^2)                      mean resultant length, 0 <= R <= 1
    circular mean   = atan2(S, C) / 2        (mod 180)
    circular spread = sqrt(-2 ln R) / 2      (the circular standard deviation of
                                              the doubled angles, halved back)

R = 1 when every angle is the same (spread 0); R near 0 when the axes point
every way (spread without bound; for R = 0 exactly the mean is undefined: NaN).
For tightly clustered axes the spread is close to the ordinary standard
deviation in degrees (angles +-d apart give a spread of about d).
"""

from __future__ import annotations

import numpy as np

PERIOD = 180.0  # degrees after which an axis repeats


def _doubled_mean_vector(theta_deg, axis):
    phi = np.radians(2.0 * np.asarray(theta_deg, np.float64))
    return np.cos(phi).mean(axis), np.sin(phi).mean(axis)


def resultant_length(theta_deg, axis=0) -> np.ndarray:
    """R = |mean_i (cos 2 theta_i, sin 2 theta_i)|, clipped to [0, 1] against rounding."""
    c, s = _doubled_mean_vector(theta_deg, axis)
    return np.clip(np.hypot(c, s), 0.0, 1.0)


def axial_mean(theta_deg, axis=0) -> np.ndarray:
    """atan2(S, C) / 2 in degrees, in [0, 180); NaN where R = 0."""
    c, s = _doubled_mean_vector(theta_deg, axis)
    mean = np.mod(np.degrees(np.arctan2(s, c)) / 2.0, PERIOD)
    mean = np.where(mean >= PERIOD, 0.0, mean)  # mod of a tiny negative rounds to 180
    return np.where(np.hypot(c, s) > 0, mean, np.nan)


def axial_spread(theta_deg, axis=0) -> np.ndarray:
    """sqrt(-2 ln R) / 2 in degrees; 0 for identical angles, inf where R = 0."""
    r = resultant_length(theta_deg, axis)
    with np.errstate(divide="ignore"):
        return np.degrees(np.sqrt(-2.0 * np.log(r))) / 2.0


def axial_stats(theta_deg, axis=0):
    """(circular mean, circular spread, R) over ``axis``; see the module docstring."""
    return (axial_mean(theta_deg, axis), axial_spread(theta_deg, axis),
            resultant_length(theta_deg, axis))


def axial_deviation(theta_deg, reference_deg) -> np.ndarray:
    """Signed shortest turn from the reference axis to theta, in [-90, 90) degrees."""
    d = np.asarray(theta_deg, np.float64) - np.asarray(reference_deg, np.float64)
    return np.mod(d + PERIOD / 2, PERIOD) - PERIOD / 2


def unwrap(theta_deg, axis=-1) -> np.ndarray:
    """Adds multiples of 180 along ``axis`` so that no step exceeds 90 degrees: a
    curve that crosses 0/180 stays continuous (176, 178, 0.5 -> 176, 178, 180.5)."""
    return np.unwrap(np.asarray(theta_deg, np.float64), period=PERIOD, axis=axis)


def format_axis(theta_deg, decimals: int = 1) -> str:
    """An axis in degrees as text, rounded first and then taken mod 180, so an angle
    a hair below 180 prints as 0.0, never 180.0."""
    return f"{round(float(theta_deg), decimals) % PERIOD:.{decimals}f}"


def _json_floats(values) -> list:
    """Plain floats, None where a value is not finite (an undefined mean, R = 0)."""
    return [float(v) if np.isfinite(v) else None for v in np.ravel(values)]


def final_theta_summary(theta_deg, fold_names) -> dict:
    """metrics.json's "final_theta_deg" from theta_deg (folds F, epochs E, layers L):
    each fold's angles after the last epoch, and per layer the circular mean,
    circular spread and resultant length R over the folds (lists of length L)."""
    theta_deg = np.asarray(theta_deg, np.float64)
    if theta_deg.ndim != 3:
        raise ValueError(f"theta_deg must be (folds, epochs, layers), got shape {theta_deg.shape}")
    if len(fold_names) != theta_deg.shape[0]:
        raise ValueError(f"{len(fold_names)} fold names for {theta_deg.shape[0]} folds")
    final = theta_deg[:, -1]  # (F, L)
    mean, spread, r = axial_stats(final, axis=0)
    return {
        "per_fold": {str(name): _json_floats(final[f]) for f, name in enumerate(fold_names)},
        "circular_mean": _json_floats(mean),
        "circular_spread": _json_floats(spread),
        "resultant_length": _json_floats(r),
        "statistics": "axial: on 2*theta, mean = atan2(S, C)/2 mod 180, "
                      "spread = sqrt(-2 ln R)/2, R = mean resultant length over folds",
    }
