"""The chain from a long video's frames to what spotting reads, shared by the
long-video builders and ``faceslueth_jax.analyze``: the face found on the first
frame and followed (``face_track``), each frame's grey face crop at ``size``, and
the crops' block values over each span (``motion_features.stream``). Frames stream
through: memory holds max(spans) + 1 crops, never the video."""

from __future__ import annotations

import dataclasses

import numpy as np

from faceslueth_jax.preprocess import face_track, motion_features

FLOW_SIZE = 64  # the face crop's side for the spotting flow


@dataclasses.dataclass(frozen=True)
class Windows:
    """A frame rate's spans and interval limits (frames)."""
    k_micro: int  # 0.5 s: a micro-expression is one bump of the displacement at this span
    k_macro: int  # 2 s
    micro_max: int  # MEGC: a micro-expression lasts at most 0.5 s
    macro_max: int  # longer intervals are left out (4 s)
    min_length: int  # shorter intervals are left out (0.15 s: the shortest coded micro-
                     # expressions of CAS(ME)^2 and SAMM-LV last 7 of 30 and 47 of 200 frames,
                     # 0.23 s, and a spotted interval's ends are a frame or two off)

    @classmethod
    def for_fps(cls, fps: float) -> "Windows":
        return cls(k_micro=max(2, int(round(0.5 * fps))), k_macro=max(3, int(round(2.0 * fps))),
                   micro_max=int(round(0.5 * fps)), macro_max=int(round(4.0 * fps)),
                   min_length=max(2, int(round(0.15 * fps))))

    @property
    def spans(self) -> tuple:
        return (self.k_micro, self.k_macro)


def spans_for(fps: float) -> tuple:
    """The spans a video at ``fps`` is streamed over: the micro and the macro span
    (``Windows.for_fps``)."""
    return Windows.for_fps(fps).spans


@dataclasses.dataclass
class VideoFeatures:
    """A long video's spotting features: ``blocks`` span k -> (T, G^2) float32."""
    fps: float
    blocks: dict
    face_box: tuple  # (x, y, side) of the first frame's face box, frame pixels
    eyes: tuple | None = None  # ((x, y), (x, y)) eye centres in the crop, fractions of
                               # its side (face_track.FaceTrack.eyes); None: not known
    head: dict | None = None  # span k -> (T,) the head's displacement, crop pixels
                              # (motion_features.stream); None: not known

    @property
    def num_frames(self) -> int:
        return len(next(iter(self.blocks.values())))

    def strengths(self) -> dict:
        """span k -> (T,) motion strength (``motion_features.strength``)."""
        return motion_features.strengths(self.blocks)


def features(frames, fps: float, size: int = FLOW_SIZE, crop: str = "detect",
             spans: tuple | None = None, on_frame=None, margin: float = 0.1) -> VideoFeatures:
    """``VideoFeatures`` of the (H, W) grey or (H, W, 3) RGB ``frames`` (an iterable).
    face.FaceNotFound when the first frame shows no face (``crop='detect'``)."""
    spans = tuple(spans or spans_for(fps))
    track = None

    def crops():
        nonlocal track
        for frame in frames:
            if track is None:
                track = face_track.FaceTrack.start(frame, size, crop, margin)
            yield track.crop(frame)

    blocks, head = motion_features.stream(crops(), spans, size, on_frame=on_frame)
    box = track.first
    return VideoFeatures(float(fps), blocks, (box.x, box.y, box.side), track.eyes, head)
