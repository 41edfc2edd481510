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

import pathlib
import sys

from absl import app, flags

from faceslueth_jax import cli  # cli: the shared flags (--out) and their parser
from tfds_builders.photo_me.photo_set import astronaut, video_of, write

flags.declare_key_flag("out")
flags.DEFINE_integer("videos", 16, "how many videos", lower_bound=1)
flags.DEFINE_integer("first_seed", 0, "the first video's seed", lower_bound=0)
FLAGS = flags.FLAGS


def main(argv):
    del argv
    if not FLAGS.out:
        print("error: give --out=FOLDER", file=sys.stderr)
        return 2
    out = pathlib.Path(FLAGS.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        print(f"error: cannot make the folder {out}: {e.strerror or e}", file=sys.stderr)
        return 2
    photo, points = astronaut()
    for i in range(FLAGS.videos):
        seed = FLAGS.first_seed + i
        video, suffix = video_of(photo, points, i, seed)
        path = out / f"photo_{seed:03d}{suffix}"
        try:
            write(video, path)
        except OSError as e:
            print(f"error: {path}: {e}", file=sys.stderr)
            return 2
        kinds = [m.kind for m in video.movements]
        print(f"{path}: {video.num_frames} frames at {video.fps:g} fps, "
              + ", ".join(f"{kinds.count(k)} {k}" for k in ("micro", "macro", "nod", "turn", "blink")))
    return 0


if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)),
            flags_parser=cli.parser("python -m tfds_builders.photo_me.write_photo_videos",
                                    takes=("out",), needs_config=False))
