r"""Write one synthetic long video to disk, to try ``faceslueth_jax.analyze`` on.

  python -m tfds_builders.synthetic_me.write_long_video --video=long.mp4 \
      [--seconds=60] [--fps=30] [--seed=1000] [--size=128] [--pad=64]

A new subject's long video (``long_videos``: micro- and macro-expressions at known
intervals among head motion, blinks, lighting drift and noise; seed 1000 is in none
of the built-in data sets), the face drawn in the middle of a larger frame (``--pad``
pixels of the background on every side, so a face detector has a frame to search),
as an .mp4 (MPEG-4 part 2, as an ordinary camera file) or a lossless FFV1 .avi, and
its true intervals beside it as ``<video>.truth.json``. Both written atomically.
"""

from __future__ import annotations

import json
import math
import pathlib
import sys

import cv2
import numpy as np
from absl import app, flags

from faceslueth_jax import atomic_files, cli  # cli: the shared flags and their parser
from tfds_builders.features import MEGC_CLASSES
from tfds_builders.synthetic_me import long_videos

FLAGS = flags.FLAGS
for _name in ("video", "fps", "seed", "size"):  # shared: faceslueth_jax.cli
    flags.declare_key_flag(_name)
flags.DEFINE_float("seconds", 60.0, "length in seconds", lower_bound=1.0)
flags.DEFINE_integer("pad", 64, "background pixels around the face", lower_bound=0)
CODECS = {".mp4": "mp4v", ".avi": "FFV1"}


def truth_path(video: pathlib.Path) -> pathlib.Path:
    return video.with_name(video.name + ".truth.json")


def write(path, seconds: float = 60.0, fps: float = 30.0, seed: int = 1000, size: int = 128,
          pad: int = 64) -> long_videos.LongVideo:
    """The video and its truth file at ``path``; returns the generator's video."""
    path = pathlib.Path(path)
    if path.suffix.lower() not in CODECS:
        raise ValueError(f"the video must end in one of {tuple(CODECS)}: {path}")
    video = long_videos.make_long_video(seed=seed, num_frames=int(round(seconds * fps)),
                                        fps=fps, size=size)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.stem}.tmp{path.suffix}")
    side = size + 2 * pad
    writer = cv2.VideoWriter(str(staging), cv2.VideoWriter_fourcc(*CODECS[path.suffix.lower()]),
                             fps, (side, side), True)
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write {path}")
    try:
        for frame in video.frames():
            grey = np.clip(np.rint(frame), 0, 255).astype(np.uint8)
            grey = cv2.copyMakeBorder(grey, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
            writer.write(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
    finally:
        writer.release()
    staging.replace(path)
    atomic_files.write_text(truth_path(path), json.dumps({
        "video": path.name, "fps": fps, "num_frames": video.num_frames, "seed": seed,
        "class_names": list(MEGC_CLASSES),
        "events": [{"onset": e.onset, "apex": e.apex, "offset": e.offset, "kind": e.kind,
                    "label": e.label} for e in video.events]}, indent=1) + "\n")
    return video


def main(argv):
    del argv
    if not FLAGS.video:
        print("error: give --video=PATH.mp4 (or .avi)", file=sys.stderr)
        return 2
    if FLAGS.fps is not None and not (math.isfinite(FLAGS.fps) and FLAGS.fps > 0):
        print(f"error: --fps={FLAGS.fps} is not a frame rate (a finite number above 0)",
              file=sys.stderr)
        return 2
    try:
        video = write(FLAGS.video, FLAGS.seconds, FLAGS.fps or 30.0, FLAGS.seed, FLAGS.size,
                      FLAGS.pad)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    kinds = [e.kind for e in video.events]
    print(f"{FLAGS.video}: {video.num_frames} frames at {video.fps:g} fps, "
          f"{kinds.count('micro')} micro- and {kinds.count('macro')} macro-expressions "
          f"({truth_path(pathlib.Path(FLAGS.video))})")
    return 0


if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)),
            flags_parser=cli.parser("python -m tfds_builders.synthetic_me.write_long_video", takes=("video", "seed", "size", "fps"), needs_config=False))
