"""What every long-video (spotting) builder shares: the record, the config, the chain.

A record is one long video, stored as what spotting reads rather than its frames
(a long video at full resolution would not fit in memory; the features are ~1 KB
a frame):

  video_id, subject, dataset   Text
  fps                          float32     the database's frame rate
  spans                        (S,) int32  flow spans k in frames (``video_features.spans_for``)
  blocks                       (T, S, 36) float32  per frame and span, the 6 x 6 block
                               values of the face's TV-L1 flow from frame t - k to t
                               (``spotting.motion_features``; frames < k: frame k's)
  face_box                     (3,) int32  x, y, side of the face box on the first frame
  eyes                         (2, 2) float32  the eyes' centres (x, y) in the face crop,
                               fractions of its side (``face_track.FaceTrack.eyes``)
  head                         (T, S) float32  the head's displacement per frame and span
                               (crop pixels; ``motion_features.stream``)
  flow_size                    int32  the face crop's side the flows were computed at
  event_onset/apex/offset      (E,) int32  the coded expressions, frame indices counted
                               from 0 at the video's first frame, offset inclusive
  event_kind                   (E,) int32  0 micro, 1 macro (``KINDS``)
  event_label                  (E,) int32  class in the config's class set, -1 outside it
                               or uncoded

A database builder lists its videos (``Video``: frame files in order, frame rate,
events with the sheet row each came from) and maps its emotions; this base streams
each video through ``spotting.video_features`` (the face found on the first frame and
followed). Every problem found while listing (a row that cannot be read, an event
outside its video's frames, a video folder that is missing or has gaps in its frame
numbers, an unknown type) is collected with its file and row: ``on_error='raise'``
fails listing them all before anything is written; ``'skip'`` leaves the videos
concerned out (an event dropped from a video would count its true expression as
missed) and keeps the list in the metadata (``skipped``). A frame that cannot be
decoded, or no face on a video's first frame, found while streaming, is the same
kind of problem for its video.
"""

from __future__ import annotations

import abc
import dataclasses
import pathlib

import numpy as np
import tensorflow_datasets as tfds
from absl import logging

from faceslueth_jax.preprocess import face, frames
from faceslueth_jax.preprocess import motion_features, video_features
from tfds_builders import sheets, source_fingerprint
from tfds_builders.errors import BadInputError
from tfds_builders.me_database import ManualBuilder, Problems, file_fault
from tfds_builders.local_builder import LocalBuilder

KINDS = ("micro", "macro")
CLASS_SETS = ("megc3", "native")
BLOCKS = motion_features.GRID ** 2


@dataclasses.dataclass(frozen=True)
class Event:
    """One coded expression of a video: frame indices from 0, its sheet row."""
    onset: int
    apex: int
    offset: int
    kind: str
    emotion: str  # as the sheet spells it ('' where the sheet codes none)
    where: str


@dataclasses.dataclass
class Video:
    """One long video of a database: its frame files in order and its events."""
    video_id: str
    subject: str
    fps: float
    frames: list  # [pathlib.Path], frame index order
    events: list  # [Event]
    where: str    # the folder
    cropped: bool = False  # the frames are already the face


# the record's version: every long-video builder (the databases' and the synthetic one)
# writes ``record``s, so they share it
VERSION = tfds.core.Version("3.0.0")
RELEASE_NOTES = {"1.0.0": "First release.",
                 "2.0.0": "Blocks: the displacement from neutral (forward and backward "
                           "flows, the head's affine motion off) at the 0.5 s and 2 s spans.",
                 "3.0.0": "The head's quadratic motion off; the eyes' centres in the crop; the "
                           "head's displacement."}


def long_video_features() -> tfds.features.FeaturesDict:
    ints = lambda: tfds.features.Tensor(shape=(None,), dtype=np.int32)
    return tfds.features.FeaturesDict({
        "video_id": tfds.features.Text(), "subject": tfds.features.Text(),
        "dataset": tfds.features.Text(),
        "fps": tfds.features.Tensor(shape=(), dtype=np.float32),
        "spans": ints(),
        "blocks": tfds.features.Tensor(shape=(None, None, BLOCKS), dtype=np.float32,
                                        encoding="zlib"),
        "face_box": tfds.features.Tensor(shape=(3,), dtype=np.int32),
        "eyes": tfds.features.Tensor(shape=(2, 2), dtype=np.float32),
        "head": tfds.features.Tensor(shape=(None, None), dtype=np.float32, encoding="zlib"),
        "flow_size": tfds.features.Tensor(shape=(), dtype=np.int32),
        **{f"event_{k}": ints() for k in ("onset", "apex", "offset", "kind", "label")},
    })


def record(video_id: str, subject: str, dataset: str, feats: video_features.VideoFeatures,
           events: list, labels: list, flow_size: int = video_features.FLOW_SIZE) -> dict:
    """One record from a video's features and its events (``Event`` or anything with
    onset, apex, offset, kind) with their class labels."""
    spans = sorted(feats.blocks)
    column = lambda f, dtype=np.int32: np.asarray([f(e) for e in events], dtype).reshape(-1)
    return {"video_id": video_id, "subject": subject, "dataset": dataset,
            "fps": np.float32(feats.fps), "spans": np.asarray(spans, np.int32),
            "blocks": np.stack([feats.blocks[k] for k in spans], 1).astype(np.float32),
            "face_box": np.asarray(feats.face_box, np.int32),
            "eyes": np.asarray(feats.eyes, np.float32).reshape(2, 2),
            "head": np.stack([feats.head[k] for k in spans], 1).astype(np.float32),
            "flow_size": np.int32(flow_size),
            "event_onset": column(lambda e: e.onset), "event_apex": column(lambda e: e.apex),
            "event_offset": column(lambda e: e.offset),
            "event_kind": column(lambda e: KINDS.index(e.kind)),
            "event_label": np.asarray(labels, np.int32).reshape(-1)}


@dataclasses.dataclass(eq=False)
class LongVideoConfig(tfds.core.BuilderConfig):
    """classes: 'megc3' (negative, positive, surprise) or 'native'; flow_size: the
    face crop's side for the flow; margin: of the face box."""
    classes: str = "megc3"
    flow_size: int = video_features.FLOW_SIZE
    margin: float = 0.1

    @classmethod
    def named(cls, **fields) -> "LongVideoConfig":
        c = cls(name="tmp", **fields)
        if c.classes not in CLASS_SETS:
            raise ValueError(f"classes must be one of {CLASS_SETS}, got {c.classes!r}")
        if not isinstance(c.flow_size, int) or c.flow_size < 16:
            raise ValueError(f"flow_size must be an integer >= 16, got {c.flow_size!r}")
        return cls(name=f"{c.classes}_flow{c.flow_size}_margin{c.margin:g}".replace(".", "p"),
                   **fields)


def kind_of(type_cell) -> str | None:
    """'micro' or 'macro' from a sheet's type cell ('micro-expression', 'Micro - 1/2',
    'Macro'), None otherwise."""
    text = sheets.cell_text(type_cell).lower()
    return next((kind for kind in KINDS if text.startswith(kind)), None)


def streamable(video: Video, problems: Problems) -> bool:
    """Whether ``video`` has more frames than its micro flow span (the stream needs
    k + 1); a shorter one is a problem."""
    need = min(video_features.spans_for(video.fps)) + 1
    if len(video.frames) < need:
        problems.add(video.video_id, video.where,
                     f"{len(video.frames)} frames; a video at {video.fps:g} fps needs at least "
                     f"{need} (its micro flow span + 1)")
        return False
    return True


def ordered(video: Video, first: int, numbers: tuple, where: str, problems: Problems) -> bool:
    """Whether a row's (onset, apex, offset) frame numbers are ordered within the video's
    frames first..first + T - 1; otherwise a problem naming the row."""
    onset, apex, offset = numbers
    last = first + len(video.frames) - 1
    if first <= onset <= apex <= offset <= last:
        return True
    problems.add(video.video_id, where, f"onset {onset}, apex {apex}, offset {offset} (frame "
                 f"numbers) not ordered within the video's frames {first}..{last}")
    return False


def check_video(video: Video, problems: Problems) -> bool:
    """Whether ``video`` is long enough for its spans (``streamable``) and its events lie
    within its frames, ordered; the faults go to ``problems``."""
    if not streamable(video, problems):
        return False
    ok = True
    last = len(video.frames) - 1
    for e in video.events:
        if not 0 <= e.onset <= e.apex <= e.offset <= last:
            problems.add(video.video_id, e.where,
                         f"onset {e.onset}, apex {e.apex}, offset {e.offset} (frame indices) "
                         f"not ordered within the video's frames 0..{last}")
            ok = False
        if e.kind not in KINDS:
            problems.add(video.video_id, e.where, f"type {e.kind!r} is neither of {KINDS}")
            ok = False
    return ok


def consecutive_frames(numbered: dict, video_id: str, folder, problems: Problems) -> list:
    """The files of ``numbered`` {frame number: path} in order; a gap in the numbers is
    a problem (a frame index would no longer be the sheet's frame number - first)."""
    numbers = sorted(numbered)
    if not numbers:
        problems.add(video_id, str(folder), "no frame files")
        return []
    missing = sorted(set(range(numbers[0], numbers[-1] + 1)) - set(numbers))
    if missing:
        path = frames.expected_path(numbered, missing[0])
        problems.add(video_id, str(folder), f"missing frame(s) {missing[:5]}: {path} not found"
                     + (f" (first of {len(missing)} missing)" if len(missing) > 1 else ""))
        return []
    return [numbered[n] for n in numbers]


class LongVideoBuilder(ManualBuilder, LocalBuilder,
                       skip_registration=True):
    """Base of the long-video builders: subclasses set the class attributes and
    implement ``list_videos``."""

    DATABASE: str = ""
    NATIVE_CLASSES: tuple = ()
    CLASS_NAMES: dict = {}  # class set -> names in label order
    CLASS_MAPS: dict = {}   # class set -> {native emotion: class}
    VERSION = VERSION
    RELEASE_NOTES = RELEASE_NOTES
    BUILDER_CONFIGS = [LongVideoConfig.named()]

    CONFIG = LongVideoConfig

    @classmethod
    @abc.abstractmethod
    def list_videos(cls, manual_dir: pathlib.Path, problems: Problems) -> list:
        """Every video with its events; sheet-level faults raise BadInputError,
        per-row and per-video faults go to ``problems``."""

    def class_names(self) -> tuple:
        classes = self.builder_config.classes
        return self.NATIVE_CLASSES if classes == "native" else self.CLASS_NAMES[classes]

    def label(self, emotion: str) -> int:
        """The class index of a sheet's emotion in the config's set, -1 outside it."""
        e = emotion.strip().lower()
        names = self.class_names()
        mapped = e if self.builder_config.classes == "native" else \
            self.CLASS_MAPS[self.builder_config.classes].get(e)
        return names.index(mapped) if mapped in names else -1

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self, description=self.__doc__, features=long_video_features(),
            metadata=tfds.core.MetadataDict(class_names=list(self.class_names())))

    def _split_generators(self, dl_manager):
        source_fingerprint.record(self, dl_manager.manual_dir)
        manual_dir = pathlib.Path(dl_manager.manual_dir)
        problems = Problems()
        listed, seen = self.list_videos(manual_dir, problems), {}
        for v in listed:
            if v.video_id in seen:
                problems.add(v.video_id, v.where, f"duplicated video: also at {seen[v.video_id]}")
            seen.setdefault(v.video_id, v.where)
        videos = [v for v in listed if check_video(v, problems)]
        self._stop_or_skip(problems, manual_dir)
        bad = {p.sample_id for p in problems}
        videos = [v for v in videos if v.video_id not in bad]
        if not videos:
            raise BadInputError(f"{self.DATABASE}: no usable videos in {manual_dir}")
        self.problems = list(problems)
        self.info.metadata.update(skipped=[str(p) for p in problems])
        return {"train": self._generate_examples(videos)}

    def _stop_or_skip(self, problems: Problems, where) -> None:
        if problems and self.on_error == "raise":
            listing = "\n  ".join(str(p) for p in problems[:50])
            more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
            raise BadInputError(
                f"{self.DATABASE}: {len(problems)} problem(s) in {where} (nothing was "
                f"written; pass on_error='skip' to leave these videos out):\n  {listing}{more}")
        for p in problems:
            logging.warning("%s: skipped %s", self.DATABASE, p)

    def _generate_examples(self, videos: list):
        c = self.builder_config
        for video in videos:
            try:
                feats = video_features.features(
                    (frames.read_frame(p, color=False) for p in video.frames), video.fps,
                    c.flow_size, "whole" if video.cropped else "detect", margin=c.margin)
            except (frames.FrameError, face.FaceNotFound, OSError) as e:
                problems = Problems()
                problems.add(video.video_id, video.where, file_fault(e))
                self._stop_or_skip(problems, video.where)
                self.info.metadata["skipped"] = list(self.info.metadata["skipped"]) + [
                    str(problems[0])]
                continue
            yield video.video_id, record(video.video_id, video.subject, self.DATABASE, feats,
                                         video.events, [self.label(e.emotion)
                                                        for e in video.events], c.flow_size)
