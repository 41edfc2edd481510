r"""HTNet's input: four 14x14 landmark patches of the 28x28 flow tiled into 28x28.

The reference (wangzhifengharrison/HTNet, main_HTNet.py) finds five landmarks
with MTCNN (facenet-pytorch) on the apex face resized to 28x28 (INTER_AREA), in
MTCNN's order 0 = eye on the image's left, 1 = eye on the right, 2 = nose,
3 = mouth corner on the left, 4 = mouth corner on the right, each an (x, y)
pair. Where MTCNN finds no face it takes the fixed ``FALLBACK`` coordinates.
Every coordinate is clamped to 7..21 and truncated to an int c = (c0, c1); the
patch of landmark k is

    flow[c0 - 7 : c0 + 7, c1 - 7 : c1 + 7]

i.e. the rows are indexed with x and the columns with y: x and y are swapped
(``transpose_landmarks=True`` reproduces that; False cuts rows at y, columns
at x, the intended patch). The image is [[patch 0, patch 1], [patch 3, patch 4]]
(the nose patch is unused).

Here (``landmarks='haar'``): MTCNN needs torch, so the landmarks come from the
Haar cascades that opencv-python ships (``cv2.data.haarcascades``), run on the
apex face at the resolution it has after ``records.prepare`` (data.face_size;
224 in configs/htnet_composite.py, the release's) and rescaled to 28-pixel
coordinates (x * 28 / S):

  eyes:   haarcascade_eye and haarcascade_eye_tree_eyeglasses on the top 60% of
          the face; candidates centred at 10..60% of the height, the image's left
          eye at 8..45% of the width, the right eye at 55..92%; per side the box
          with the most neighbour detections; landmark = its centre.
  mouth:  haarcascade_smile on the bottom 45%, boxes centred at 30..70% of the
          width; the box with the most neighbour detections; the two corners
          = the box's left and right edges at its vertical centre.
  nose:   not detected (the patch is unused): always the fallback.

Differences from MTCNN: the cascades are box detectors, not landmark
regressors: an eye's landmark is the centre of its box (close to the pupil) and
a mouth corner is the smile box's edge, which lies a few pixels outside the lip
corner. They assume an upright frontal face, as the released crops are. Each
landmark the cascades miss takes its own fallback coordinate (MTCNN falls back
for all five at once). MTCNN on a 28x28 image is near its smallest face size,
so the reference may well have fallen back for many samples; how many is not
known without running it. Either way the 7..21 clamp keeps every patch inside
the image and quantises the landmarks to 15 positions per axis.

``landmarks='landmarks68'``: dlib's 68-point predictor on the apex face
(``preprocess.landmarks``; detector ``landmarks_detector``, default dlib_hog, and
the whole image as the box where it finds no face, the crops being tight):
eye centres = the means of points 36-41 and 42-47, nose = 30, mouth corners =
48 and 54, the reference's own five points. No landmark falls back; the count
of whole-image boxes is reported instead.

``landmarks='fixed'``: the fallback coordinates for every sample.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
from absl import logging

from faceslueth_jax.data.records import FACE_VIEWS, WINDOW_VIEWS, MEData
from faceslueth_jax.preprocess import landmarks

# MTCNN's order: (x, y) of the left eye, right eye, nose, left and right mouth corner
# in a 28x28 face: the reference's fallback (main_HTNet.py).
FALLBACK = np.array([[9.528073, 11.062551], [21.396168, 10.919773], [15.380184, 17.380562],
                     [10.255435, 22.121233], [20.583706, 22.25584]], np.float32)
NUM_LANDMARKS = 5
USED = (0, 1, 3, 4)  # the tiled patches: eyes and mouth corners; the nose (2) is not
SIZE = 28       # the flow's side and the landmarks' coordinate frame
HALF = 7        # patch half-side: 14x14 patches, centres clamped to HALF..SIZE - HALF
METHODS = ("haar", "landmarks68", "fixed")

_CASCADES: dict = {}


def _cascade(name: str) -> cv2.CascadeClassifier:
    if name not in _CASCADES:
        path = cv2.data.haarcascades + f"haarcascade_{name}.xml"
        cascade = cv2.CascadeClassifier(path)
        if cascade.empty():
            raise RuntimeError(f"htnet_patches: cannot load the OpenCV cascade {path}")
        _CASCADES[name] = cascade
    return _CASCADES[name]


def _detect(cascade: str, image: np.ndarray, min_neighbors: int, min_size, max_size):
    boxes, counts = _cascade(cascade).detectMultiScale2(
        image, scaleFactor=1.1, minNeighbors=min_neighbors, minSize=min_size, maxSize=max_size)
    return [(tuple(float(v) for v in b), int(n)) for b, n in zip(boxes, np.ravel(counts))]


def detect_landmarks(face: np.ndarray) -> np.ndarray:
    """(5, 2) float (x, y) landmarks in the pixel coordinates of ``face``, an (S, S)
    uint8 grey face, in MTCNN's order; NaN where the cascades found nothing (the
    nose always)."""
    s = face.shape[0]
    out = np.full((NUM_LANDMARKS, 2), np.nan, np.float32)

    top = face[:int(0.6 * s)]
    eye_size, eye_max = (max(s // 16, 1),) * 2, (s // 3, s // 3)
    best = [None, None]  # per side: (neighbours, x, y)
    for name in ("eye", "eye_tree_eyeglasses"):
        for (x, y, w, h), n in _detect(name, top, 3, eye_size, eye_max):
            cx, cy = x + w / 2, y + h / 2
            if not 0.1 * s < cy < 0.6 * s:
                continue
            side = 0 if 0.08 * s < cx < 0.45 * s else 1 if 0.55 * s < cx < 0.92 * s else None
            if side is not None and (best[side] is None or n > best[side][0]):
                best[side] = (n, cx, cy)
    for side, found in enumerate(best):
        if found is not None:
            out[side] = found[1:]

    y0 = int(0.55 * s)
    mouth = None
    for (x, y, w, h), n in _detect("smile", face[y0:], 10, (max(s // 5, 1), max(s // 10, 1)),
                                   (int(0.7 * s), s // 3)):
        if 0.3 * s < x + w / 2 < 0.7 * s and (mouth is None or n > mouth[0]):
            mouth = (n, x, y0 + y + h / 2, w)
    if mouth is not None:
        _, x, cy, w = mouth
        out[3] = (x, cy)
        out[4] = (x + w, cy)
    return out


def to_uint8(faces: np.ndarray) -> np.ndarray:
    """(N, S, S, C) faces of any range (records.prepare standardises them) -> (N, S, S)
    uint8 grey, each sample min-max scaled to 0..255 (a constant image -> 0)."""
    faces = np.asarray(faces, np.float32)
    if faces.shape[-1] == 3:
        faces = faces @ np.array([0.299, 0.587, 0.114], np.float32)  # RGB -> luma
    else:
        faces = faces[..., 0]
    lo = faces.min(axis=(1, 2), keepdims=True)
    hi = faces.max(axis=(1, 2), keepdims=True)
    scaled = (faces - lo) / np.where(hi > lo, hi - lo, 1.0) * 255.0
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def landmarks68(face: np.ndarray, detector: str = "dlib_hog") -> tuple[np.ndarray, bool]:
    """((5, 2) float (x, y) in the pixel coordinates of ``face``, (S, S) uint8 grey, in
    MTCNN's order, from the 68 points; whole: the whole image was the box)."""
    points, whole = landmarks.landmarks68(face, detector, cropped=True)
    return np.insert(landmarks.eyes_and_mouth(points), 2, points[landmarks.NOSE_TIP], axis=0), whole


def find_landmarks(apex: np.ndarray | None, n: int, method: str = "haar",
                   detector: str = "dlib_hog", whole: list | None = None):
    """(landmarks (n, 5, 2) float (x, y) in 28-pixel coordinates, fallback (n, 5)
    bool: where the fallback coordinate was used). With 'landmarks68' the indices
    of the samples whose whole image was the box are appended to ``whole``."""
    if method not in METHODS:
        raise ValueError(f"model.htnet.landmarks must be one of {METHODS}, got {method!r}")
    points = np.broadcast_to(FALLBACK, (n, NUM_LANDMARKS, 2)).copy()
    fallback = np.ones((n, NUM_LANDMARKS), bool)
    if method == "fixed" or n == 0:
        return points, fallback
    if apex is None or len(apex) != n:
        raise ValueError("model.htnet.landmarks='haar' needs the apex face view of every "
                         "loaded sample; use landmarks='fixed' for data without one")
    faces = to_uint8(apex)
    for i, face in enumerate(faces):
        if method == "landmarks68":
            found, whole_box = landmarks68(face, detector)
            found = found * (SIZE / face.shape[0])
            if whole_box and whole is not None:
                whole.append(i)
        else:
            found = detect_landmarks(face) * (SIZE / face.shape[0])
        ok = ~np.isnan(found).any(axis=1)
        points[i, ok] = found[ok]
        fallback[i] = ~ok
    return points, fallback


def clamp(points: np.ndarray) -> np.ndarray:
    """The reference's patch centres: clamped to 7..21, truncated to int."""
    return np.clip(points, HALF, SIZE - HALF).astype(np.int64)


def tile_patches(flow: np.ndarray, centres: np.ndarray, transpose: bool = True) -> np.ndarray:
    """(N, 28, 28, C) flow and (N, 5, 2) int centres (x, y) -> (N, 28, 28, C) image
    [[patch 0, patch 1], [patch 3, patch 4]]; ``transpose``: rows cut at x,
    columns at y (the reference); else rows at y, columns at x."""
    flow = np.asarray(flow)
    n, h, w, c = flow.shape
    if (h, w) != (SIZE, SIZE):
        raise ValueError(f"htnet_patches: the flow must be {SIZE}x{SIZE} (data.flow_size), "
                         f"got {h}x{w}")
    out = np.empty((n, SIZE, SIZE, c), flow.dtype)
    span = 2 * HALF
    for i in range(n):
        for k, (r0, c0) in zip(USED, ((0, 0), (0, span), (span, 0), (span, span))):
            x, y = centres[i, k]
            row, col = (x, y) if transpose else (y, x)
            out[i, r0:r0 + span, c0:c0 + span] = flow[i, row - HALF:row + HALF, col - HALF:col + HALF]
    return out


def spread(points: np.ndarray, fallback: np.ndarray) -> dict:
    """The patch centres' spread over samples: per used landmark min/max/mean of the
    clamped int (x, y), fallback counts."""
    centres = clamp(points)
    names = {0: "left_eye", 1: "right_eye", 3: "left_mouth", 4: "right_mouth"}
    per = {}
    for k, name in names.items():
        c = centres[:, k].astype(float)
        per[name] = {"min": c.min(0).tolist() if len(c) else None,
                     "max": c.max(0).tolist() if len(c) else None,
                     "mean": np.round(c.mean(0), 2).tolist() if len(c) else None,
                     "fallbacks": int(fallback[:, k].sum())}
    used = fallback[:, list(USED)]
    return {"samples": int(len(points)),
            "samples_with_a_fallback": int(used.any(axis=1).sum()),
            "samples_all_fallback": int(used.all(axis=1).sum()),
            "landmarks": per}


def tile_with_stats(data: MEData, cfg) -> tuple[MEData, dict]:
    """``tile``'s result and the landmarks' ``spread`` (fallback counts included)."""
    method = cfg.get("landmarks", "haar")
    transpose = bool(cfg.get("transpose_landmarks", True))
    flow = data.views["flow"]
    whole: list = []
    points, fallback = find_landmarks(data.views.get("apex"), len(flow), method,
                                      cfg.get("landmarks_detector", "dlib_hog"), whole)
    stats = spread(points, fallback)
    if method == "landmarks68":
        stats["whole_image_boxes"] = len(whole)
    logging.info("htnet landmarks (%s, transpose=%s): %d of %d samples used a fallback "
                 "coordinate (%d for all four patches); %s", method, transpose,
                 stats["samples_with_a_fallback"], stats["samples"], stats["samples_all_fallback"],
                 stats["landmarks"])
    views = {k: v for k, v in data.views.items()
             if k not in FACE_VIEWS and k not in WINDOW_VIEWS}
    views["flow"] = tile_patches(flow, clamp(points), transpose)
    return dataclasses.replace(data, views=views), stats


def tile(data: MEData, cfg) -> MEData:
    """``data`` (after records.prepare) with views['flow'] the tiled four-patch image;
    the face views, which HTNet does not read, dropped. Options from
    ``cfg`` (``model.htnet``): ``landmarks`` ('haar', 'landmarks68' or 'fixed'),
    ``landmarks_detector`` (for 'landmarks68': 'dlib_hog', 'dlib_cnn' or 'haar') and
    ``transpose_landmarks`` (the reference's x/y swap, default True). The fallback
    count and the landmarks' spread are logged (``tile_with_stats`` returns them)."""
    return tile_with_stats(data, cfg)[0]
