r"""Write one synthetic micro-expression clip to disk, to try ``predict`` on.

  python -m tfds_builders.synthetic_me.write_clip --frames=clip/ --video=clip.avi \
      [--label=surprise] [--seed=1000] [--size=128] [--orientation_deg=90]

A new subject (its face drawn from ``--seed``; the built-in data sets use seeds
0.. of their own sequence, so by default this face is in none of them) showing
``--label``, 9 frames (onset 0, offset 8), as JPEG frames (quality 95) and/or a
lossless FFV1 .avi. The clip's apex is printed.
"""

from __future__ import annotations

import pathlib
import sys

import cv2
import numpy as np
from absl import app, flags

from faceslueth_jax import atomic_files, cli  # cli: the shared flags and their parser
from tfds_builders.features import MEGC_CLASSES
from tfds_builders.synthetic_me import synthetic_faces

FLAGS = flags.FLAGS
flags.DEFINE_string("frames", None, "folder for the frames (img0.jpg .. img8.jpg)")
flags.declare_key_flag("video")  # a lossless .avi (FFV1)
flags.DEFINE_enum("label", "surprise", list(MEGC_CLASSES), "the expression")
flags.declare_key_flag("seed")  # faceslueth_jax.cli
flags.declare_key_flag("size")  # faceslueth_jax.cli
flags.DEFINE_float("orientation_deg", 90.0, "the motion's dominant axis (90: vertical)")


def make_frames(label: str, seed: int, size: int = 128, orientation_deg: float = 90.0):
    """((T, size, size) uint8 frames, apex index) of one new clip."""
    rng = np.random.default_rng(seed)
    face = synthetic_faces.make_subject(rng, size)
    clip = synthetic_faces.make_clip(rng, face, MEGC_CLASSES.index(label), orientation_deg,
                                     size=size)
    return np.clip(np.rint(clip.frames), 0, 255).astype(np.uint8), clip.apex


def write_video(path: pathlib.Path, frames: np.ndarray, fps: float = 10.0) -> None:
    """Lossless FFV1 .avi of grey frames (stored as 3 equal channels), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.stem}.tmp{path.suffix}")
    h, w = frames.shape[1:3]
    writer = cv2.VideoWriter(str(staging), cv2.VideoWriter_fourcc(*"FFV1"), fps, (w, h), True)
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write an FFV1 video at {path}")
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_GRAY2BGR))
    writer.release()
    staging.replace(path)


def main(argv):
    del argv
    if not (FLAGS.frames or FLAGS.video):
        print("error: give --frames=DIR and/or --video=PATH.avi", file=sys.stderr)
        return 2
    frames, apex = make_frames(FLAGS.label, FLAGS.seed, FLAGS.size, FLAGS.orientation_deg)
    if FLAGS.frames:
        folder = pathlib.Path(FLAGS.frames)
        folder.mkdir(parents=True, exist_ok=True)
        for i, f in enumerate(frames):
            ok, data = cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 95])
            atomic_files.write_bytes(folder / f"img{i}.jpg", data.tobytes())
    if FLAGS.video:
        write_video(pathlib.Path(FLAGS.video), frames)
    print(f"a {FLAGS.label} clip of {len(frames)} frames, onset 0, apex {apex}: "
          + ", ".join(p for p in (FLAGS.frames, FLAGS.video) if p))
    return 0


if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)),
            flags_parser=cli.parser("python -m tfds_builders.synthetic_me.write_clip", takes=("video", "seed", "size"), needs_config=False))
