r"""Write the real-photograph spotting set: long videos of scikit-image's astronaut
photograph (``photo_videos``), each with its true intervals and its distractors.

  pip install -r requirements-bench.txt      # scikit-image: the photograph
  python -m tfds_builders.photo_me.write_photo_videos --out=/tmp/photo_lv \
      [--videos=16] [--first_seed=0]

Video i (seed first_seed + i) is 640x480; videos with i % 4 == 3 are 200 fps and 10 s
long (2 micro-, 1 macro-expression, 1 nod, 2 blinks), the others 30 fps and 20 s (3
micro-, 1 macro-expression, 1 nod, 1 turn, 3 blinks); every other 30 fps video is a
lossy MPEG-4 .mp4, the rest lossless FFV1 .avi. Beside each video,
``<video>.truth.json``: ``events`` (the expressions: onset, apex, offset, kind,
action) and ``distractors`` (nods, turns, blinks), frames counted from 0. About 10 s
a 30 fps video on 2 CPU cores. The landmarks that place the warps are dlib's 68
points on the photograph (``preprocess.landmarks``).
"""

from __future__ import annotations

import json
import pathlib
import sys

import cv2
import numpy as np
from absl import app, flags

from faceslueth_jax import atomic_files
from tfds_builders.photo_me import photo_videos

flags.DEFINE_string("out", None, "the folder the videos go to")
flags.DEFINE_integer("videos", 16, "how many videos", lower_bound=1)
flags.DEFINE_integer("first_seed", 0, "the first video's seed", lower_bound=0)
FLAGS = flags.FLAGS
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


def main(argv):
    del argv
    if not FLAGS.out:
        print("error: give --out=FOLDER", file=sys.stderr)
        return 2
    out = pathlib.Path(FLAGS.out)
    out.mkdir(parents=True, exist_ok=True)
    photo, points = astronaut()
    for i in range(FLAGS.videos):
        seed = FLAGS.first_seed + i
        video, suffix = video_of(photo, points, i, seed)
        path = out / f"photo_{seed:03d}{suffix}"
        write(video, path)
        kinds = [m.kind for m in video.movements]
        print(f"{path}: {video.num_frames} frames at {video.fps:g} fps, "
              + ", ".join(f"{kinds.count(k)} {k}" for k in ("micro", "macro", "nod", "turn", "blink")))
    return 0


if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)))
