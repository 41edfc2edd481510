r"""68-point facial landmarks (dlib) and the similarity alignment built on them.

Detectors (the face box the landmark predictor starts from):

  haar      OpenCV's frontal-face cascade (``face.detect_face``), no dlib needed;
  dlib_hog  dlib's HOG + linear SVM frontal detector, tried without and then with
            one 2x upsampling;
  dlib_cnn  dlib's MMOD CNN detector (slower, more pose-tolerant).

The predictor is dlib's ``shape_predictor_68_face_landmarks`` (iBUG 300-W
points: 36-41 the eye on the image's left, 42-47 the other eye, 30 the nose
tip, 48 and 54 the mouth corners). Both model files ship inside the
``face-recognition-models`` package; nothing is downloaded at run time.
For a face already cropped by its database the whole image is the box when the
detector finds none.

Alignment: one similarity z -> a z + b (complex notation: rotation, uniform
scale, translation) from the onset frame's left and right eye centres p_i (each
the mean of its six points) to a template c_i, by least squares (exact for two
points),

    a = sum conj(p_i - p) (c_i - c) / sum |p_i - p|^2,     b = c - a p,

(p, c the centroids), the template being ``TEMPLATE`` in a unit square
widened by the margin m on each side, at the side L where |a| = 1 (no
resampling beyond the rotation); every frame of the clip is warped with it and
then resized from L to the crop side S as ``face.crop`` resizes. The nose tip
is not used: on the synthetic faces dlib places it up to 14 px from where it
belongs on a face whose eyes it finds within 2 px (tests/test_landmarks.py).
"""

from __future__ import annotations

import dataclasses
import functools

import cv2
import numpy as np

from faceslueth_jax.preprocess import face

DETECTORS = ("haar", "dlib_hog", "dlib_cnn")
ALIGNMENTS = ("none", "landmarks68")
INSTALL = "pip install dlib-bin==20.0.1.post1 face-recognition-models==0.3.0"
# (x, y) of the left and right eye centres in the unit face square
TEMPLATE = np.array([[0.28, 0.35], [0.72, 0.35]])
LEFT_EYE, RIGHT_EYE, NOSE_TIP, MOUTH_LEFT, MOUTH_RIGHT = slice(36, 42), slice(42, 48), 30, 48, 54


class LandmarksNotFound(face.FaceNotFound):
    """No face box for the landmark predictor was found in the frame."""


class DlibMissing(ImportError):
    """dlib or its model files are not installed."""


@functools.lru_cache(maxsize=1)
def _dlib():
    try:
        import dlib
        import face_recognition_models
    except ImportError as e:
        raise DlibMissing(f"68-point landmarks need dlib and its models ({e}): {INSTALL}") from e
    return dlib, face_recognition_models


def dlib_version() -> str | None:
    """dlib's version, or None when it (or its model package) is not installed."""
    try:
        return _dlib()[0].__version__
    except DlibMissing:
        return None


def resolve(detector: str, align: str) -> tuple[str, str, str]:
    """(detector, alignment, note) that will be used: without dlib a dlib detector
    or landmark alignment falls back to ('haar', 'none') and the note says so
    (builders store it in their metadata); otherwise the note is empty."""
    if detector not in DETECTORS:
        raise ValueError(f"face_detector must be one of {DETECTORS}, got {detector!r}")
    if align not in ALIGNMENTS:
        raise ValueError(f"face_align must be one of {ALIGNMENTS}, got {align!r}")
    wants_dlib = detector != "haar" or align != "none"
    if wants_dlib and dlib_version() is None:
        return "haar", "none", (f"face_detector={detector!r}, face_align={align!r} need dlib, "
                                f"which is not installed: used the Haar cascade without "
                                f"alignment ({INSTALL})")
    return detector, align, ""


@functools.lru_cache(maxsize=None)
def _model(name: str):
    dlib, models = _dlib()
    if name == "predictor":
        return dlib.shape_predictor(models.pose_predictor_model_location())
    if name == "dlib_hog":
        return dlib.get_frontal_face_detector()
    return dlib.cnn_face_detection_model_v1(models.cnn_face_detector_model_location())


def detect_boxes(frame: np.ndarray, detector: str) -> list[tuple[int, int, int, int]]:
    """Face boxes (left, top, right, bottom) in a grey uint8 frame, largest first."""
    if detector == "haar":
        try:
            b = face.detect_face(frame, margin=0.0)
        except face.FaceNotFound:
            return []
        boxes = [(b.x, b.y, b.x + b.side, b.y + b.side)]
    else:
        model = _model(detector)
        boxes = []
        for upsample in (0, 1):
            found = model(frame, upsample)
            rects = [getattr(r, "rect", r) for r in found]
            boxes = [(r.left(), r.top(), r.right(), r.bottom()) for r in rects]
            if boxes:
                break
    return sorted(boxes, key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))


def landmarks68(frame: np.ndarray, detector: str = "dlib_hog",
                cropped: bool = False) -> tuple[np.ndarray, bool]:
    """((68, 2) float32 (x, y) landmarks of the largest face in a grey uint8 frame,
    whole: True when the whole image served as the box). ``cropped``: the frame is a
    face crop, so the whole image is the box when the detector finds nothing; else
    that raises LandmarksNotFound."""
    h, w = frame.shape
    boxes = detect_boxes(frame, detector)
    if not boxes and not cropped:
        raise LandmarksNotFound(f"no face for the 68-point landmarks ({detector}) in a "
                                f"{w}x{h} frame")
    return predict68(frame, boxes[0] if boxes else (0, 0, w - 1, h - 1)), not boxes


def predict68(frame: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """(68, 2) float32 (x, y): dlib's predictor in a grey uint8 frame, started from
    the box (left, top, right, bottom)."""
    dlib, _ = _dlib()
    shape = _model("predictor")(np.ascontiguousarray(frame), dlib.rectangle(*map(int, box)))
    return np.array([(shape.part(i).x, shape.part(i).y) for i in range(68)], np.float32)


def key_points(points: np.ndarray) -> np.ndarray:
    """(2, 2): the left and right eye centres (the means of their six points)."""
    return np.stack([points[LEFT_EYE].mean(0), points[RIGHT_EYE].mean(0)])


def eyes_and_mouth(points: np.ndarray) -> np.ndarray:
    """(4, 2): the two eye centres (``key_points``), then the mouth corners 48 and 54."""
    return np.concatenate([key_points(points), points[[MOUTH_LEFT, MOUTH_RIGHT]]])


def similarity(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The (2, 3) matrix of the least-squares similarity source -> target ((n, 2) each)."""
    p = source[:, 0] + 1j * source[:, 1]
    c = target[:, 0] + 1j * target[:, 1]
    dp, dc = p - p.mean(), c - c.mean()
    a = np.sum(np.conj(dp) * dc) / np.sum(np.abs(dp) ** 2)
    b = c.mean() - a * p.mean()
    return np.array([[a.real, -a.imag, b.real], [a.imag, a.real, b.imag]])


@dataclasses.dataclass(frozen=True)
class Alignment:
    """The similarity ``matrix`` taking frame pixels to an aligned L x L square."""
    matrix: np.ndarray
    side: int

    def crop(self, frame: np.ndarray, size: int) -> np.ndarray:
        """The aligned square of ``frame`` (H, W) or (H, W, C), edges replicated,
        resized to (size, size) as ``face.crop`` resizes."""
        square = cv2.warpAffine(frame, self.matrix, (self.side, self.side), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
        interpolation = cv2.INTER_AREA if self.side > size else cv2.INTER_LINEAR
        return cv2.resize(square, (size, size), interpolation=interpolation)


def alignment(points: np.ndarray, margin: float) -> Alignment:
    """The clip's alignment from its onset landmarks (68, 2): ``key_points`` onto
    ``TEMPLATE`` in a square of side L = (1 + 2 m) d / d_T (d, d_T: the eye
    distances of the face and of the template), so the scale is about 1."""
    source = key_points(points)
    eyes = np.linalg.norm(source[1] - source[0])
    side = max(int(round((1 + 2 * margin) * eyes / (TEMPLATE[1, 0] - TEMPLATE[0, 0]))), 8)
    target = (margin + TEMPLATE) / (1 + 2 * margin) * side
    return Alignment(similarity(source, target), side)


def transform(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(n, 2) points mapped by a (2, 3) affine matrix."""
    return points @ matrix[:, :2].T + matrix[:, 2]
