"""The real-photograph spotting set: scikit-image's astronaut photograph and its 68
landmarks, the set's videos (``video_of``: video i of the set, seed first_seed + i), and
a video written to disk with its truth file (``write``). The command that writes the
set: ``write_photo_videos``."""

from __future__ import annotations

import json
import pathlib

import cv2
import numpy as np

from faceslueth_jax import atomic_files
from tfds_builders.photo_me import photo_videos

CODECS = {".mp4": "mp4v", ".avi": "FFV1"}
COUNTS_30 = {"micro": 3, "macro": 1, "nod": 1, "turn": 1, "blink": 3}
COUNTS_200 = {"micro": 2, "macro": 1, "nod": 1, "blink": 2}


def astronaut() -> tuple[np.ndarray, np.ndarray]:
    """scikit-image's astronaut photograph (512x512 RGB) and its 68 landmarks."""
    try:
        from skimage import data
    except ImportError as e:
        raise SystemExit(f"error: the photograph comes from scikit-image ({e}): "
                         f"pip install -r requirements-bench.txt") from e
    from faceslueth_jax.preprocess import landmarks
    photo = data.astronaut()
    points, _ = landmarks.landmarks68(cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY), "dlib_hog")
    return photo, points


def video_of(photo, points, index: int, seed: int) -> tuple[photo_videos.PhotoVideo, str]:
    """Video ``index`` of the set (the module doc) and its file suffix."""
    if index % 4 == 3:
        return photo_videos.make_video(photo, points, seed, 10.0, 200.0, COUNTS_200), ".avi"
    suffix = ".mp4" if index % 2 == 0 else ".avi"
    return photo_videos.make_video(photo, points, seed, 20.0, 30.0, COUNTS_30), suffix


def truth_path(video: pathlib.Path) -> pathlib.Path:
    return video.with_name(video.name + ".truth.json")


def _rows(movements) -> list:
    return [{"onset": m.onset, "apex": m.apex, "offset": m.offset, "kind": m.kind,
             "action": m.action} for m in movements]


def write(video: photo_videos.PhotoVideo, path) -> None:
    """The video at ``path`` (.mp4 or .avi) and its truth file, both atomically."""
    path = pathlib.Path(path)
    staging = path.with_name(f".{path.stem}.tmp{path.suffix}")
    writer = cv2.VideoWriter(str(staging), cv2.VideoWriter_fourcc(*CODECS[path.suffix]),
                             video.fps, video.size, True)
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write {path}")
    try:
        for frame in video.frames():
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    staging.replace(path)
    atomic_files.write_text(truth_path(path), json.dumps({
        "video": path.name, "fps": video.fps, "num_frames": video.num_frames,
        "seed": video.seed, "photo": "skimage.data.astronaut",
        "events": _rows(video.expressions), "distractors": _rows(video.distractors)},
        indent=1) + "\n")
