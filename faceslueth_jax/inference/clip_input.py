"""A clip on disk -> the inputs of a restored model, through the builders' own chain.

A clip is a folder of frames (.jpg, .jpeg, .png, .bmp, in natural order: img2
before img10) or a video OpenCV can decode (.mp4, .avi, .mov, .mkv). Frame
indices count from 0. The onset is frame 0 unless given; the apex is spotted
over onset..last as the builders spot it (``clip_flow.spot_apex``) unless
given. Then ``clip_record`` (face box, crops, flow, strain, stored faces) with
the settings the model's training records were made with (model.json's
``chain``), and ``data.model_inputs.prepared_data`` (resizing, normalisation, the
model's input form), as in training.

Every frame of a clip (and of analyze's long video) has one size, at least
``MIN_SIDE`` pixels on each side (``FrameSizes``). Every failure is a
``ClipInputError`` whose one-line message names the file.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re

import cv2
import numpy as np

from faceslueth_jax.data import records
from faceslueth_jax.data.model_inputs import prepared_data
from faceslueth_jax.inference.command import MAX_FRAMES
from faceslueth_jax.preprocess import clip_flow, clip_record, face, frames, landmarks

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")
CROPS = ("auto",) + clip_record.CROPS


class ClipInputError(ValueError):
    """A clip cannot be read or used; the message names the file."""


@dataclasses.dataclass
class Clip:
    """A clip's decoded frames, (H, W, 3) RGB uint8 each."""
    path: pathlib.Path
    frames: list

    def read(self, n: int, color: bool) -> np.ndarray:
        rgb = self.frames[n]
        return rgb if color else cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def _natural_key(path: pathlib.Path):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def frame_files(folder: pathlib.Path) -> list[pathlib.Path]:
    """The image files of ``folder`` in natural order."""
    return sorted((p for p in folder.iterdir()
                   if p.is_file() and p.suffix.lower() in frames.IMAGE_SUFFIXES), key=_natural_key)


# the least side of a frame: the face detector finds faces from 20 px across
# (``face.detect_face``), and a frame under 32 px holds no face whose crop, resized up
# for the flow, would show motion rather than interpolation
MIN_SIDE = 32


class FrameSizes:
    """The check every frame of a clip or video passes, one frame at a time: the same
    size as its first frame, which is at least ``MIN_SIDE`` pixels on each side.
    Call it with each frame (or its shape) and its name (its file's name, or
    'frame t' of a video); ClipInputError naming ``path`` and the frame otherwise."""

    def __init__(self, path):
        self.path = path
        self.first = None  # (height, width, name) of the first frame

    def __call__(self, frame, name: str) -> None:
        height, width = (frame.shape if hasattr(frame, "shape") else frame)[:2]
        if self.first is None:
            if min(height, width) < MIN_SIDE:
                raise ClipInputError(
                    f"{self.path}: {name} is {width}x{height} pixels; frames need at least "
                    f"{MIN_SIDE} px on each side (for a face crop and its optical flow)")
            self.first = (height, width, name)
        elif (height, width) != self.first[:2]:
            h0, w0, first = self.first
            raise ClipInputError(f"{self.path}: frames of different sizes: {name} is "
                                 f"{width}x{height} pixels, {first} {w0}x{h0}")


def _too_long(path, count, max_frames: int) -> ClipInputError:
    return ClipInputError(
        f"{path}: {count} frames, more than --max_frames={max_frames} (a long recording "
        "is decoded whole into memory and, without --apex, its apex is spotted over every "
        "frame); cut the clip to onset..offset or raise --max_frames")


def read_clip(path, max_frames: int = MAX_FRAMES) -> Clip:
    """The frames of a clip folder or video file (at most ``max_frames``, checked
    before decoding where the count is known); ClipInputError naming the file."""
    path = pathlib.Path(path)
    if path.is_dir():
        files = frame_files(path)
        if not files:
            raise ClipInputError(f"no frames ({', '.join(frames.IMAGE_SUFFIXES)}) in folder {path}")
        if len(files) > max_frames:
            raise _too_long(path, len(files), max_frames)
        check, decoded = FrameSizes(path), []
        for f in files:
            try:
                decoded.append(frames.read_frame(f, color=True))
            except frames.FrameError as e:
                raise ClipInputError(str(e)) from None
            check(decoded[-1], f.name)
    elif path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            raise ClipInputError(f"OpenCV cannot open the video {path}")
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if count > max_frames:
            capture.release()
            raise _too_long(path, count, max_frames)
        check, decoded = FrameSizes(path), []
        try:
            while True:
                ok, bgr = capture.read()
                if not ok:
                    break
                if len(decoded) == max_frames:  # the container's count was wrong
                    raise _too_long(path, f"over {max_frames}", max_frames)
                check(bgr, f"frame {len(decoded)}")
                decoded.append(np.ascontiguousarray(bgr[..., ::-1]))
        finally:
            capture.release()
        if not decoded:
            raise ClipInputError(f"OpenCV decoded no frame of the video {path}")
    elif path.exists():
        raise ClipInputError(f"not a folder of frames or a video ({', '.join(VIDEO_SUFFIXES)}): "
                             f"{path}")
    else:
        raise ClipInputError(f"no such clip: {path}")
    if len(decoded) < 2:
        raise ClipInputError(f"{path}: {len(decoded)} frame; a clip needs at least 2 "
                             "(onset and apex)")
    return Clip(path, decoded)


@dataclasses.dataclass(frozen=True)
class ClipRequest:
    """A clip to classify, with its onset and apex frame indices when known."""
    path: pathlib.Path
    onset: int | None = None
    apex: int | None = None


CSV_COLUMNS = ("clip", "onset", "apex")


def read_clips_csv(csv_path) -> list[ClipRequest]:
    """The clips of a CSV with a header ``clip,onset,apex`` (apex, or onset and apex,
    may be blank: spotted as for one clip); a relative clip path is taken from the
    CSV's folder. ClipInputError naming the file and row."""
    import csv

    csv_path = pathlib.Path(csv_path)
    try:
        with open(csv_path, newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ClipInputError(f"{csv_path}: cannot read the clips CSV ({e})") from None
    header = tuple(c.strip().lower() for c in rows[0]) if rows else ()
    if header not in (CSV_COLUMNS[:1], CSV_COLUMNS[:2], CSV_COLUMNS):
        raise ClipInputError(f"{csv_path}: line 1 must be the header {','.join(CSV_COLUMNS)}")
    requests = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = [c.strip() for c in row] + [""] * (3 - len(row))
        numbers = []
        for name, cell in zip(CSV_COLUMNS[1:], cells[1:3]):
            if cell and not cell.isdigit():
                raise ClipInputError(f"{csv_path}, line {line}: {name} {cell!r} is not a frame "
                                     "index (an integer from 0)")
            numbers.append(int(cell) if cell else None)
        if not cells[0]:
            raise ClipInputError(f"{csv_path}, line {line}: the clip column is empty")
        path = pathlib.Path(cells[0])
        requests.append(ClipRequest(path if path.is_absolute() else csv_path.parent / path,
                                    *numbers))
    if not requests:
        raise ClipInputError(f"{csv_path}: no clips listed")
    return requests


def clip_paths(paths) -> list[pathlib.Path]:
    """Every clip named: a clip folder or video as it is; a folder without frames of
    its own is a folder of clips (its sub-folders that hold frames and its videos,
    in natural order)."""
    out = []
    for path in map(pathlib.Path, paths):
        if path.is_dir() and not frame_files(path):
            inside = sorted((p for p in path.iterdir()
                             if (p.is_dir() and frame_files(p)) or
                             (p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)),
                            key=_natural_key)
            if not inside:
                raise ClipInputError(f"no frames ({', '.join(frames.IMAGE_SUFFIXES)}) and no "
                                     f"clips in folder {path}")
            out.extend(inside)
        else:
            out.append(path)
    return out


def _has_face(grey: np.ndarray) -> bool:
    """Whether the face detector finds a face in a frame taken as the face crop (its
    margin padded back, so a tight crop is still seen whole)."""
    pad = grey.shape[0] // 4
    try:
        face.detect_face(cv2.copyMakeBorder(grey, pad, pad, pad, pad, cv2.BORDER_REPLICATE))
    except face.FaceNotFound:
        return False
    return True


@dataclasses.dataclass
class ClipFacts:
    """Where a clip's inputs came from: frames, onset, apex and how it was found."""
    clip: str
    num_frames: int
    onset: int
    apex: int
    apex_spotted: bool
    crop: str
    face_found: bool = True  # False: crop 'whole' and no face in the onset frame


def model_inputs(clips: list[Clip], chain: dict, config, onset: int | None = None,
                 apex: int | None = None, crop: str = "auto"):
    """(the model's input views for every clip, (N, ...) each; the raw (u, v, strain)
    flow at the records' size, (N, S, S, 3); the stored apex faces; [ClipFacts])."""
    if crop not in CROPS:
        raise ValueError(f"crop must be one of {CROPS}, got {crop!r}")
    record = dict(chain["record"])
    crop = record["crop"] if crop == "auto" else crop
    settings = clip_record.ChainSettings.of(dict(record, jitter_frames=0))
    if landmarks.resolve(settings.face_detector, settings.face_align)[2]:
        raise ClipInputError(f"the model's faces were made with face_detector="
                             f"{settings.face_detector}, face_align={settings.face_align}, "
                             f"which need dlib: {landmarks.INSTALL}")
    raw_settings = dataclasses.replace(settings, flow_norm="raw")
    found, facts = [], []
    for clip in clips:
        last = len(clip.frames) - 1
        first = 0 if onset is None else onset
        if not 0 <= first < last:
            raise ClipInputError(f"{clip.path}: onset frame {first} outside 0..{last - 1} "
                                 f"(the clip has {last + 1} frames, counted from 0)")
        if apex is not None and not first < apex <= last:
            raise ClipInputError(f"{clip.path}: apex frame {apex} outside {first + 1}..{last} "
                                 f"(after the onset {first}; {last + 1} frames, counted from 0)")

        def check(numbers, what, clip=clip, last=last):
            bad = [n for n in numbers if not 0 <= n <= last]
            if bad:
                raise ClipInputError(f"{clip.path}: {what} need frame {bad[0]}, outside 0..{last}")
        try:
            faces = clip_record.clip_faces(clip.read, first, apex, last, settings,
                                           cropped=crop == "whole", check=check)
        except face.FaceNotFound:
            raise ClipInputError(f"{clip.path}: no face found in the onset frame (frame {first}); "
                                 "for frames that are already face crops pass --crop=whole"
                                 ) from None
        except clip_record.ClipError as e:
            raise ClipInputError(f"{clip.path}: {e}") from None
        found.append(faces)
        facts.append(ClipFacts(str(clip.path), last + 1, first, faces.apex_frame, apex is None,
                               crop, crop != "whole" or _has_face(clip.read(first, False))))
    made = clip_record.records(found, raw_settings)
    raw_flow = np.stack([m["flow"] for m in made])
    for m in made:  # resized, then normalised: the records' flow
        m["flow"] = clip_flow.normalise(m["flow"], settings.flow_norm)
    data = records.MEData(
        views={k: np.stack([m[k] for m in made]).astype(np.float32)
               for k in ("flow", "onset", "apex", "frames") if k in made[0]},
        label=np.zeros(len(made), np.int32), subject=np.array(["clip"] * len(made)),
        dataset=np.array(["clip"] * len(made)),
        sample_id=np.array([str(c.path) for c in clips]), class_names=())
    apex_faces = np.stack([m["apex"] for m in made])
    return prepared_data(config, data).views, raw_flow, apex_faces, facts

