"""Face detection and cropping with OpenCV's bundled Haar cascade (dlib's detectors
and the 68-point alignment: ``landmarks``).

One box per clip: the face is detected on the onset frame only and the same
box crops every frame, so head position changes inside the clip stay in the
flow (as in STSTNet/HTNet preprocessing) and no detector jitter is added.

Box with margin m around a detection (x, y, w, h), made square:

    side = (1 + 2 m) max(w, h),   centre = (x + w/2, y + h/2),

clipped to the frame by edge replication, then resized to size x size.
"""

from __future__ import annotations

import dataclasses
import functools

import cv2
import numpy as np

CASCADE = "haarcascade_frontalface_default.xml"  # ships inside opencv-python


class FaceNotFound(ValueError):
    """No face was detected in the frame."""


@dataclasses.dataclass(frozen=True)
class FaceBox:
    """A square crop: top-left corner (x, y) and side, in frame pixels."""
    x: int
    y: int
    side: int


@functools.lru_cache(maxsize=1)
def _cascade() -> cv2.CascadeClassifier:
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + CASCADE)
    if cascade.empty():
        raise RuntimeError(f"OpenCV's {CASCADE} could not be loaded from {cv2.data.haarcascades}")
    return cascade


def detect_face(frame: np.ndarray, margin: float = 0.1, min_fraction: float = 0.2) -> FaceBox:
    """The largest frontal face in a grey uint8 frame, as a square box with margin.

    The frame is padded by a quarter of its side (edge replication) first, so
    a face that fills the frame, as in an already tightly cropped clip, is
    still found. Faces smaller than ``min_fraction`` of the shorter side are
    ignored.
    """
    h, w = frame.shape
    pad = max(h, w) // 4
    padded = cv2.copyMakeBorder(frame, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    min_side = max(int(min_fraction * min(h, w)), 20)
    found = _cascade().detectMultiScale(padded, scaleFactor=1.1, minNeighbors=3,
                                        minSize=(min_side, min_side))
    if len(found) == 0:
        raise FaceNotFound(f"no face found in a {w}x{h} frame")
    x, y, fw, fh = max(found, key=lambda b: b[2] * b[3])
    return square_box(x - pad, y - pad, fw, fh, margin)


def square_box(x: float, y: float, w: float, h: float, margin: float) -> FaceBox:
    """The square box with margin around a detection (x, y, w, h) (module docstring)."""
    side = int(round((1 + 2 * margin) * max(w, h)))
    cx, cy = x + w / 2, y + h / 2
    return FaceBox(int(round(cx - side / 2)), int(round(cy - side / 2)), side)


def crop(frame: np.ndarray, box: FaceBox, size: int) -> np.ndarray:
    """The box's square of ``frame`` (H, W) or (H, W, C) (edges replicated where it
    leaves the frame), resized to (size, size) with area averaging when shrinking;
    each channel alike."""
    h, w = frame.shape[:2]
    top, left = max(0, -box.y), max(0, -box.x)
    bottom, right = max(0, box.y + box.side - h), max(0, box.x + box.side - w)
    if top or left or bottom or right:
        frame = cv2.copyMakeBorder(frame, top, bottom, left, right, cv2.BORDER_REPLICATE)
    y, x = box.y + top, box.x + left
    square = frame[y:y + box.side, x:x + box.side]
    interpolation = cv2.INTER_AREA if box.side > size else cv2.INTER_LINEAR
    return cv2.resize(square, (size, size), interpolation=interpolation)


def whole_frame(frame: np.ndarray) -> FaceBox:
    """The central square of an already cropped face frame."""
    h, w = frame.shape
    side = min(h, w)
    return FaceBox((w - side) // 2, (h - side) // 2, side)
