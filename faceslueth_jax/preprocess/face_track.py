"""The face of a long video, found once and followed.

The face box B_0 is found on the first frame (``preprocess.face``: the detector, or
the whole frame for videos that are already face crops). Every later frame t is
cropped with B_t = B_0 moved by d_t, the face's rigid shift since the first frame:
the phase correlation of the grey crop of frame t under B_{t-1} against the first
crop, measured in crop pixels at ``TRACK_SIZE`` and scaled back to frame pixels,

    d_t = d_{t-1} + s_t (side / TRACK_SIZE),   s_t = phaseCorrelate(crop_0, crop_t),

rounded to whole pixels and applied only when |s_t| >= ``MIN_SHIFT`` crop pixels
(sub-pixel shifts are the flow's: the motion features take off the head's motion).
A video's memory is one crop at a time.

The eyes' centres in the crop (``eyes``, fractions of its side) are read once on the
first frame: the means of dlib's six points per eye, its 68-point predictor started
from the face box (``preprocess.landmarks``); without dlib, or where the points it
places cannot be eyes (``plausible_eyes``), ``TEMPLATE_EYES``, where a frontal face
box with this margin holds them.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from faceslueth_jax.preprocess import face

TRACK_SIZE = 64
MIN_SHIFT = 1.0  # crop pixels at TRACK_SIZE
CROPS = ("detect", "whole")
TEMPLATE_EYES = ((1 / 3, 0.4), (2 / 3, 0.4))  # (x, y) in the box, image left first
IOD_RANGE = (0.15, 0.8)  # the eyes' distance in a face box, fractions of its side


def eye_centres(g: np.ndarray, box: face.FaceBox) -> tuple:
    """((x, y), (x, y)): the eyes' centres in ``box`` as fractions of its side, image
    left first (the module doc)."""
    from faceslueth_jax.preprocess import landmarks
    if landmarks.dlib_version() is None:
        return TEMPLATE_EYES
    points = landmarks.predict68(g, (box.x, box.y, box.x + box.side, box.y + box.side))
    centres = landmarks.key_points(points)
    eyes = tuple(tuple(float(v) for v in (c - (box.x, box.y)) / box.side)
                 for c in sorted(centres, key=lambda c: c[0]))
    return eyes if plausible_eyes(eyes) else TEMPLATE_EYES


def plausible_eyes(eyes) -> bool:
    """Whether eye centres (fractions of the box's side) can be a face's: finite, inside
    the box, side by side (within 30 degrees of level) and ``IOD_RANGE`` apart; the
    predictor, started from a box with no face in it, places its points anyway."""
    eyes = np.asarray(eyes, np.float64)
    if eyes.shape != (2, 2) or not np.isfinite(eyes).all() or not ((eyes > 0) & (eyes < 1)).all():
        return False
    dx, dy = eyes[1] - eyes[0]
    return bool(IOD_RANGE[0] <= np.hypot(dx, dy) <= IOD_RANGE[1] and abs(dy) <= 0.58 * dx)


def grey(frame: np.ndarray) -> np.ndarray:
    """A frame as grey uint8 (H, W) from grey or RGB."""
    frame = np.asarray(frame)
    if frame.ndim == 3:
        frame = cv2.cvtColor(frame.astype(np.uint8), cv2.COLOR_RGB2GRAY)
    return np.clip(np.rint(frame), 0, 255).astype(np.uint8) if frame.dtype != np.uint8 else frame


@dataclasses.dataclass
class FaceTrack:
    """Follows one face; ``crop(frame)`` gives the frame's (size, size) face crop."""
    first: face.FaceBox
    size: int
    box: face.FaceBox = None
    eyes: tuple = TEMPLATE_EYES
    _reference: np.ndarray = None

    @classmethod
    def start(cls, frame: np.ndarray, size: int, crop: str = "detect",
              margin: float = 0.1) -> "FaceTrack":
        """Find the face on ``frame`` (face.FaceNotFound when the detector sees none)."""
        if crop not in CROPS:
            raise ValueError(f"crop must be one of {CROPS}, got {crop!r}")
        g = grey(frame)
        box = face.detect_face(g, margin) if crop == "detect" else face.whole_frame(g)
        track = cls(first=box, size=size, box=box, eyes=eye_centres(g, box))
        track._reference = _window(face.crop(g, box, TRACK_SIZE))
        return track

    def crop(self, frame: np.ndarray) -> np.ndarray:
        """(size, size) float32 grey face crop of ``frame`` under the followed box."""
        g = grey(frame)
        current = face.crop(g, self.box, TRACK_SIZE)
        (sx, sy), _ = cv2.phaseCorrelate(self._reference, _window(current))
        if np.hypot(sx, sy) >= MIN_SHIFT:
            scale = self.box.side / TRACK_SIZE
            # the content moved by (sx, sy) in the crop: move the box with it
            self.box = face.FaceBox(int(round(self.box.x + sx * scale)),
                                    int(round(self.box.y + sy * scale)), self.box.side)
        return face.crop(g, self.box, self.size).astype(np.float32)


def _window(crop: np.ndarray) -> np.ndarray:
    """A crop as float64 under a Hann window (phase correlation's edge effects)."""
    w = cv2.createHanningWindow(crop.shape[::-1], cv2.CV_64F)
    return crop.astype(np.float64) * w
