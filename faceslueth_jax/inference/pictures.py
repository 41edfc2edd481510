"""Where the model looks: one picture per clip, drawn with OpenCV.

A title strip (the clip and the prediction), then one column per SOA stage:

  top     the stage's attention map a (channel mean, min-max scaled, upsampled)
          as a JET colour overlay (weight 0.45) on the apex face;
  bottom  the flow onset -> apex as a colour wheel (hue = direction of (u, v),
          brightness = |w| / max |w|) with the stage's learned angle theta drawn
          as a white line through the centre along (cos theta, sin theta), image
          axes (x right, y down; theta = 90 deg is vertical).

A model without SOA layers gets one column: the apex face and the flow.
Every picture is (TITLE + 2 PANEL) x (PANEL x max(1, stages)) pixels.
"""

from __future__ import annotations

import math
import pathlib

import cv2
import jax
import numpy as np

from faceslueth_jax import atomic_files
from faceslueth_jax.models.motion_stream import soa_angles_deg

PANEL = 192
TITLE = 28


def _grey_to_bgr(face: np.ndarray) -> np.ndarray:
    """(S, S, 1|3) any range -> (PANEL, PANEL, 3) uint8, min-max scaled."""
    f = np.asarray(face, np.float32)
    f = (f - f.min()) / max(float(f.max() - f.min()), 1e-6) * 255.0
    f = cv2.resize(f.astype(np.uint8), (PANEL, PANEL), interpolation=cv2.INTER_LINEAR)
    return cv2.cvtColor(f, cv2.COLOR_GRAY2BGR) if f.ndim == 2 else f[..., ::-1].copy()


def overlay(face: np.ndarray, attention: np.ndarray) -> np.ndarray:
    """The apex face with a (H, W) map over it (JET, weight 0.45)."""
    a = np.asarray(attention, np.float32)
    a = (a - a.min()) / max(float(a.max() - a.min()), 1e-6)
    heat = cv2.applyColorMap((cv2.resize(a, (PANEL, PANEL)) * 255).astype(np.uint8),
                             cv2.COLORMAP_JET)
    return cv2.addWeighted(_grey_to_bgr(face), 0.55, heat, 0.45, 0.0)


def flow_wheel(flow: np.ndarray, theta_deg: float | None = None) -> np.ndarray:
    """(H, W, >=2) flow (u, v) as hue and brightness, with theta's line when given."""
    u, v = np.asarray(flow[..., 0], np.float32), np.asarray(flow[..., 1], np.float32)
    magnitude, angle = cv2.cartToPolar(u, v, angleInDegrees=True)
    hsv = np.zeros(u.shape + (3,), np.uint8)
    hsv[..., 0] = (angle / 2).astype(np.uint8)  # OpenCV hue is 0..180
    hsv[..., 1] = 255
    hsv[..., 2] = np.clip(magnitude / max(float(magnitude.max()), 1e-6) * 255, 0, 255).astype(
        np.uint8)
    image = cv2.resize(cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR), (PANEL, PANEL),
                       interpolation=cv2.INTER_NEAREST)
    if theta_deg is not None:
        c, r = PANEL / 2, 0.45 * PANEL
        dx, dy = r * math.cos(math.radians(theta_deg)), r * math.sin(math.radians(theta_deg))
        cv2.line(image, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)),
                 (255, 255, 255), 2, cv2.LINE_AA)
    return image


def _label(image: np.ndarray, text: str) -> np.ndarray:
    cv2.putText(image, text, (4, PANEL - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 3,
                cv2.LINE_AA)
    cv2.putText(image, text, (4, PANEL - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1,
                cv2.LINE_AA)
    return image


def clip_picture(apex_face: np.ndarray, flow: np.ndarray, attention: dict,
                 theta_deg: dict, title: str) -> np.ndarray:
    """The (TITLE + 2 PANEL, PANEL x max(1, L), 3) uint8 BGR picture of one clip.
    ``attention``: stage name -> (H, W) map; ``theta_deg``: stage name -> angle."""
    stages = sorted(attention, key=lambda k: [int(t) if t.isdigit() else t
                                             for t in k.replace("stage", "stage ").split()])
    columns = []
    for name in stages or [None]:
        theta = theta_deg.get(name) if name else None
        top = (_label(overlay(apex_face, attention[name]), f"{name.split('/')[-1]} attention")
               if name else _label(_grey_to_bgr(apex_face), "apex face (no SOA layers)"))
        bottom = _label(flow_wheel(flow, theta),
                        f"flow, theta {theta:.1f} deg" if theta is not None else "flow")
        columns.append(np.concatenate([top, bottom], axis=0))
    body = np.concatenate(columns, axis=1)
    strip = np.full((TITLE, body.shape[1], 3), 255, np.uint8)
    cv2.putText(strip, title[: body.shape[1] // 7], (4, TITLE - 9), cv2.FONT_HERSHEY_SIMPLEX,
                0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([strip, body], axis=0)


def stage_maps(maps: dict, index: int) -> dict:
    """Stage name -> (H, W) map of sample ``index``: mean over members and channels of
    ``TrainedModel.member_logits``' maps (M, B, H, W, C)."""
    return {name: np.asarray(m[:, index]).mean(axis=(0, -1)) for name, m in maps.items()}


def png_bytes(image: np.ndarray) -> bytes:
    """The BGR picture encoded as PNG."""
    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise OSError("OpenCV could not encode the picture as PNG")
    return data.tobytes()



def write_run_pictures(directory, trained, data, folds, per_class: int) -> int:
    """The pictures of a finished run's test samples: for every database and class, its
    first ``per_class`` samples, each drawn with the fold model that tested it (seed
    0's), from the inputs as the model reads them (the flow after the run's
    normalisation). ``trained``: a ``model_folder.TrainedModel`` whose members are
    the run's instances (seed 0's F folds first).
    Writes <directory>/<database>/<class>/<sample id>.png; returns how many."""
    fold_of = np.full(len(data), -1)
    for f in range(folds.num_folds):
        fold_of[folds.test_samples(f)] = f
    chosen = np.array([n for d in sorted(set(data.dataset.tolist()))
                       for c in range(len(data.class_names))
                       for n in np.flatnonzero((data.dataset == d) & (data.label == c)
                                               & (fold_of >= 0))[:per_class]], int)
    if not len(chosen):
        return 0
    views = {k: v[chosen] for k, v in data.views.items()}
    logits, maps = trained.member_logits(views, capture_attention=True)  # (M, B, K)
    theta = np.asarray(jax.vmap(soa_angles_deg)(trained.variables["params"]))  # (M, L)
    for j, n in enumerate(chosen):
        f = int(fold_of[n])
        p = np.asarray(jax.nn.softmax(logits[f, j]))
        flow = np.asarray(data.views["flow"][n])
        face = (data.views["apex"][n] if "apex" in data.views
                else np.linalg.norm(flow[..., :2], axis=-1)[..., None])
        label = data.class_names[data.label[n]]
        title = (f"{data.sample_id[n]} ({data.dataset[n]}): {label}, predicted "
                 f"{data.class_names[int(p.argmax())]} (p {p.max():.2f}), fold {folds.names[f]}")
        image = clip_picture(face, flow, {k: np.asarray(m[f, j]).mean(-1) for k, m in maps.items()},
                             {f"motion/stage{i}": float(t) for i, t in enumerate(theta[f])}, title)
        atomic_files.write_bytes(pathlib.Path(directory) / str(data.dataset[n]) / label /
                                 f"{pathlib.Path(str(data.sample_id[n])).name}.png",
                                 png_bytes(image))
    return len(chosen)
