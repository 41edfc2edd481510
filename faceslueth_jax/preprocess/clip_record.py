"""One clip's frames -> the fields of its record: the chain every builder of a
licensed database and ``faceslueth_jax.predict`` share (one code path).

A clip is read through ``read(n, color)``, which returns frame n as (H, W) grey
or (H, W, 3) RGB uint8 (files on disk for a database, a decoded video for
predict). For a clip onset..offset with an optional annotated apex:

  1. face: one framing found on the onset frame and applied to every frame,
     resized to S x S (``ChainSettings.face_size``): with ``face_align='none'``
     a square box with margin m from the face detector (``face_detector``:
     OpenCV's Haar cascade, or dlib's HOG or CNN detector), or the whole frame
     for clips already cropped to the face; with ``face_align='landmarks68'``
     the similarity that puts the onset's 68-point eye centres on a template
     (``landmarks``). Without dlib installed both fall back to the Haar box
     (``landmarks.resolve``);
  2. apex: the annotated one, or spotted over onset..offset
     (``clip_flow.spot_apex``, method ``apex``);
  3. flow onset -> apex on the grey crops (TV-L1 or Farneback), strain, resized
     to ``flow_size`` and normalised by ``flow_norm`` (``clip_flow``);
  4. stored faces: onset and apex (grey, or RGB with ``face_color``); with
     ``jitter_frames`` K the windows a training-time temporal jitter draws from
     (``jitter_windows``); with ``clip_frames`` T, T grey frames uniform over
     onset..offset (``clip_frame_numbers``).

Steps 1, 2 and 4 are per clip (``clip_faces``); step 3 runs over a list of
clips at once (``records``), since the flow is computed in batches.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from faceslueth_jax.preprocess import clip_flow, face, landmarks

CROPS = ("detect", "whole")


@dataclasses.dataclass(eq=False)
class ChainSettings:
    """How a clip becomes a record; the database builders' config (``MEConfig``)
    extends it. face_size: side of the face crops the flow is computed on;
    flow_size: side of the stored flow; flow_method: 'tvl1' (the project's JAX
    TV-L1) | 'farneback' (OpenCV); flow_norm: 'raw' | 'minmax'; apex: how to find
    an apex the sheet lacks, 'flow' | 'middle'; margin: face box margin, a fraction
    of the box side; face_color: store (S, S, 3) RGB faces instead of (S, S, 1)
    grey (flow is computed on grey either way); jitter_frames: K > 0 also stores
    the frame windows of a training-time temporal jitter (``jitter_windows``);
    clip_frames: T > 0 also stores T grey face frames at uniform positions over
    onset..offset (``clip_frame_numbers``), FDP's input; face_detector: 'haar' |
    'dlib_hog' | 'dlib_cnn'; face_align: 'none' | 'landmarks68' (step 1)."""
    face_size: int = 112
    flow_size: int = 112
    flow_method: str = "tvl1"
    flow_norm: str = "raw"
    apex: str = "flow"
    margin: float = 0.1
    face_color: bool = False
    jitter_frames: int = 0
    clip_frames: int = 0
    face_detector: str = "haar"
    face_align: str = "none"

    @classmethod
    def of(cls, fields) -> "ChainSettings":
        """From any mapping holding (some of) the fields; the rest keep their defaults."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in dict(fields).items() if k in names})


class ClipError(ValueError):
    """A clip's annotation cannot be used (e.g. its apex lies outside onset..offset)."""


@dataclasses.dataclass
class ClipFaces:
    onset: np.ndarray  # (S, S) grey, for the flow
    apex: np.ndarray   # (S, S) grey, for the flow
    apex_frame: int
    stored: dict       # record fields: onset, apex, windows, frames
    whole_box: bool = False  # the whole frame was the face box (a cropped clip)


FrameReader = Callable[[int, bool], np.ndarray]  # (frame number, color) -> uint8 frame
FrameCheck = Callable[[list, str], None]          # raises when a frame of the list is absent


def clip_frame_numbers(onset: int, offset: int, count: int) -> list[int]:
    """``count`` frame numbers uniform over onset..offset, both ends included:

        n_i = round(onset + i (offset - onset) / (count - 1)),   i = 0 .. count-1

    rounded half up (exact integer arithmetic); a clip shorter than ``count``
    frames repeats some."""
    if count < 2:
        raise ValueError(f"clip_frames must be 0 (off) or at least 2, got {count}")
    span, steps = offset - onset, count - 1
    return [onset + (2 * i * span + steps) // (2 * steps) for i in range(count)]


def jitter_span(onset: int, apex: int) -> int:
    """J = int(0.15 (apex - onset) / 4), the reference's per-clip jitter range: its
    training draws the onset frame from onset..onset+J and the apex frame from
    apex-J..apex (same float expression, so the same J)."""
    return int(0.15 * (apex - onset) / 4)


def jitter_windows(onset: int, apex: int, frames_per_window: int) -> tuple[list, list, int]:
    """(onset window, apex window, span) of frame numbers, K = frames_per_window:

        onset window[i]         = onset + min(i, s),   i = 0..K-1
        apex window[K-1-j]      = apex - min(j, s),    j = 0..K-1
        s = min(J, K-1)         (J: ``jitter_span``)

    so window entries beyond the clip's own span repeat its last valid frame
    (onset+s, apex-s) and no frame outside the reference's draw is read; a
    clip with J > K-1 is jittered over K-1 frames only."""
    span = min(jitter_span(onset, apex), frames_per_window - 1)
    k = frames_per_window
    return ([onset + min(i, span) for i in range(k)],
            [apex - min(k - 1 - i, span) for i in range(k)], span)


def clip_faces(read: FrameReader, onset: int, apex: int | None, offset: int,
               settings: ChainSettings, cropped: bool, check: FrameCheck) -> ClipFaces:
    """Steps 1, 2 and 4 of the module docstring for one clip. ``cropped``: the frames
    are face crops already (whole frame, no detection). ``check(numbers, what)``
    raises when one of the frame numbers is not in the clip. Raises ClipError,
    ``face.FaceNotFound`` or the reader's error."""
    s = settings
    if apex is not None and not onset <= apex <= offset:
        raise ClipError(f"apex frame {apex} outside onset..offset {onset}..{offset}")
    if apex is None and offset <= onset:
        raise ClipError(f"no apex annotated and offset {offset} is not after onset {onset}, "
                        "so none can be spotted")
    wanted = [onset, apex] if apex is not None else list(range(onset, offset + 1))
    check(wanted, f"frames {onset}..{offset}")
    first = read(onset, False)
    crop, whole = framing(first, s, cropped)
    grey = {n: crop(first if n == onset else read(n, False), s.face_size) for n in wanted}
    if apex is None:
        apex = wanted[clip_flow.spot_apex(np.stack([grey[n] for n in wanted]), s.apex)]
    return ClipFaces(grey[onset], grey[apex], apex,
                     _stored_faces(read, crop, grey, onset, apex, offset, s, check), whole)


Crop = Callable[[np.ndarray, int], np.ndarray]  # (frame, side) -> face crop


def framing(first: np.ndarray, settings: ChainSettings, cropped: bool) -> tuple[Crop, bool]:
    """(crop, whole) for a clip whose onset frame is ``first`` (grey uint8): step 1 of
    the module docstring; ``whole``: the whole frame served as the face box. Raises
    ``face.FaceNotFound`` (``landmarks.LandmarksNotFound``) on an uncropped frame
    with no face."""
    detector, align, _ = landmarks.resolve(settings.face_detector, settings.face_align)
    if align == "landmarks68":
        points, whole = landmarks.landmarks68(first, detector, cropped)
        return landmarks.alignment(points, settings.margin).crop, whole
    if cropped:
        box = face.whole_frame(first)
    elif detector == "haar":
        box = face.detect_face(first, settings.margin)
    else:
        boxes = landmarks.detect_boxes(first, detector)
        if not boxes:
            h, w = first.shape
            raise landmarks.LandmarksNotFound(f"no face ({detector}) in a {w}x{h} frame")
        left, top, right, bottom = boxes[0]
        box = face.square_box(left, top, right - left, bottom - top, settings.margin)
    return (lambda frame, size: face.crop(frame, box, size)), cropped


def _stored_faces(read: FrameReader, crop: Crop, grey: dict, onset: int, apex: int,
                  offset: int, s: ChainSettings, check: FrameCheck) -> dict:
    """The record's faces: onset, apex (S, S, C), C = 3 (RGB) with face_color else 1
    (grey); with jitter_frames K also onset_window, apex_window (K, S, S, C) and
    jitter_span; with clip_frames T also frames (T, S, S, 1), always grey."""
    windows = jitter_windows(onset, apex, s.jitter_frames) if s.jitter_frames else None
    needed = sorted({onset, apex, *(windows[0] + windows[1] if windows else [])})
    if windows:
        check(needed, f"the jitter windows {windows[0][0]}..{windows[0][-1]} "
                      f"and {windows[1][0]}..{windows[1][-1]}")
    numbers = clip_frame_numbers(onset, offset, s.clip_frames) if s.clip_frames else []
    check(numbers, f"the {s.clip_frames} clip frames over {onset}..{offset}")
    if s.face_color:
        stored = {n: crop(read(n, True), s.face_size) for n in needed}
    else:
        stored = {n: (grey[n] if n in grey else crop(read(n, False), s.face_size)
                      )[..., None] for n in needed}
    out = {"onset": stored[onset], "apex": stored[apex]}
    if windows:
        out.update(onset_window=np.stack([stored[n] for n in windows[0]]),
                   apex_window=np.stack([stored[n] for n in windows[1]]),
                   jitter_span=np.int32(windows[2]))
    if numbers:
        for n in set(numbers) - set(grey):
            grey[n] = crop(read(n, False), s.face_size)
        out["frames"] = np.stack([grey[n] for n in numbers])[..., None]
    return out


def records(faces: list[ClipFaces], settings: ChainSettings) -> list[dict]:
    """Step 3 over many clips: each clip's stored faces plus its ``flow``
    (flow_size, flow_size, 3) float32 (u, v, strain), resized and normalised."""
    if not faces:
        return []
    flow = clip_flow.flows(np.stack([f.onset for f in faces]), np.stack([f.apex for f in faces]),
                           settings.flow_method)
    return [{"flow": clip_flow.normalise(clip_flow.resize_flow(w, settings.flow_size),
                                         settings.flow_norm), **f.stored}
            for f, w in zip(faces, flow)]
