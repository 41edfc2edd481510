"""Onset -> apex motion of face crops: apex spotting, flow, strain, normalisation.

Flow w = (u, v) satisfies I_apex(x + w(x)) ≈ I_onset(x) (u along columns, v
along rows, pixels of the crop). Records hold (u, v, |e|) with |e| the optical
strain of w (``strain.optical_strain``). Resizing a flow from side S to side s
scales u and v by s / S, so they stay in pixels of the output grid.

Normalisations:
  'raw'     u, v in pixels per onset-apex interval, strain as computed;
  'minmax'  each channel of each sample mapped to 0..1 by (x - min) / (max - min),
            as STSTNet and HTNet store their 28x28 flow images.

Apex spotting, for clips without an annotated apex, over faces f_0 (onset) .. f_T:
  'flow'    argmax_t mean_x |w_{0->t}(x)|, TV-L1 at SPOT_SIZE x SPOT_SIZE;
  'middle'  t = (T + 1) // 2, the middle of onset .. offset.
"""

from __future__ import annotations

import cv2
import jax
import numpy as np

from faceslueth_jax.preprocess import strain, tvl1

FLOW_METHODS = ("tvl1", "farneback")
FLOW_NORMS = ("raw", "minmax")
APEX_METHODS = ("flow", "middle")
SPOT_SIZE = 64
BATCH = 16  # TV-L1 runs on fixed-size batches, so it compiles once per image size


def _tvl1_flows(i0s: np.ndarray, i1s: np.ndarray, params: tvl1.TVL1Params) -> np.ndarray:
    """(N, S, S) x (N, S, S) -> (N, S, S, 2): one pair per call on CPU, where that
    measured faster per pair than ``tvl1_batch`` (``bench/README.md``, TV-L1: under
    vmap every pair iterates until the slowest converges);
    padded batches of BATCH on accelerators."""
    if jax.default_backend() == "cpu":
        return np.stack([np.asarray(tvl1.tvl1(a.astype(np.float32), b.astype(np.float32), params))
                         for a, b in zip(i0s, i1s)])
    out = []
    for start in range(0, len(i0s), BATCH):
        a, b = i0s[start:start + BATCH], i1s[start:start + BATCH]
        pad = BATCH - len(a)
        a = np.concatenate([a, np.repeat(a[-1:], pad, 0)]).astype(np.float32)
        b = np.concatenate([b, np.repeat(b[-1:], pad, 0)]).astype(np.float32)
        out.append(np.asarray(tvl1.tvl1_batch(a, b, params))[:BATCH - pad])
    return np.concatenate(out)


def _farneback_flow(i0: np.ndarray, i1: np.ndarray) -> np.ndarray:
    return cv2.calcOpticalFlowFarneback(i0, i1, None, pyr_scale=0.5, levels=3, winsize=15,
                                        iterations=3, poly_n=5, poly_sigma=1.2, flags=0)


def flows(onsets: np.ndarray, apexes: np.ndarray, method: str = "tvl1",
          params: tvl1.TVL1Params = tvl1.TVL1Params()) -> np.ndarray:
    """(N, S, S) uint8 onset and apex faces -> (N, S, S, 3) float32 (u, v, strain)."""
    if method == "tvl1":
        w = _tvl1_flows(onsets, apexes, params)
    elif method == "farneback":
        w = np.stack([_farneback_flow(a, b) for a, b in zip(onsets, apexes)])
    else:
        raise ValueError(f"flow method must be one of {FLOW_METHODS}, got {method!r}")
    e = np.asarray(strain.optical_strain(w))
    return np.concatenate([w, e[..., None]], axis=-1).astype(np.float32)


def resize_flow(flow: np.ndarray, size: int) -> np.ndarray:
    """(S, S, 3) -> (size, size, 3), u and v scaled by size / S. OpenCV's area/linear
    resize, as the records were always made; ``data.records.resize`` (JAX, antialiased)
    resizes them again to a model's input size at training time. They stay two because
    each one's numbers are what the stored records and the trained models rest on."""
    s = flow.shape[0]
    if s == size:
        return flow
    interpolation = cv2.INTER_AREA if size < s else cv2.INTER_LINEAR
    out = cv2.resize(flow, (size, size), interpolation=interpolation)
    return (out * np.array([size / s, size / s, 1.0], np.float32)).astype(np.float32)


def minmax(flow: np.ndarray) -> np.ndarray:
    """(..., H, W, C) flow scaled per sample and channel to 0..1:
    (x - min) / max(max - min, 1e-6) over H and W."""
    lo = flow.min(axis=(-3, -2), keepdims=True)
    hi = flow.max(axis=(-3, -2), keepdims=True)
    return ((flow - lo) / np.maximum(hi - lo, 1e-6)).astype(np.float32)


def normalise(flow: np.ndarray, norm: str) -> np.ndarray:
    if norm == "raw":
        return flow
    if norm == "minmax":
        return minmax(flow)
    raise ValueError(f"flow normalisation must be one of {FLOW_NORMS}, got {norm!r}")


def spot_apex(faces: np.ndarray, method: str = "flow",
              params: tvl1.TVL1Params = tvl1.TVL1Params()) -> int:
    """Index into ``faces`` (T+1, S, S), onset first, of the spotted apex."""
    if len(faces) < 2:
        raise ValueError("apex spotting needs the onset and at least one later frame")
    if method == "middle":
        return len(faces) // 2
    if method != "flow":
        raise ValueError(f"apex method must be one of {APEX_METHODS}, got {method!r}")
    small = np.stack([cv2.resize(f, (SPOT_SIZE, SPOT_SIZE), interpolation=cv2.INTER_AREA)
                      for f in faces])
    w = _tvl1_flows(np.repeat(small[:1], len(small) - 1, 0), small[1:], params)
    magnitude = np.sqrt((w ** 2).sum(-1)).mean(axis=(1, 2))
    return 1 + int(np.argmax(magnitude))
