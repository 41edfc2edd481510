r"""analyze's speed on a 640x480, 30 fps video: the whole chain (decode, find the face and
follow it, four TV-L1 flows a frame, spotting), frames per second, on this machine.

  pip install -r requirements-bench.txt
  python bench/analyze_speed.py [--seconds=60] [--repeats=2] \
      [--out=bench/runs/spotting_photo/speed.json]

The video is one of the real-photograph spotting set (``tfds_builders.photo_me``, seed
1000: in no study set), written as a lossy .mp4 to a temporary folder. Timed: the
command a user runs, ``python -m faceslueth_jax.analyze --video=...`` in a fresh
process (wall clock, everything: starting Python and JAX, compiling the flow's
program, decoding, the face, the flows, spotting, the table), then ``--repeats`` runs
of ``inference.analyze.analyze`` in this process once its program is compiled. Run it
with nothing else on the machine.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys
import tempfile
import time

from absl import app, flags

from faceslueth_jax import atomic_files
from faceslueth_jax.inference import analyze
from tfds_builders.photo_me import photo_set, photo_videos

flags.DEFINE_float("seconds", 60.0, "the video's length", lower_bound=2.0)
flags.DEFINE_integer("repeats", 2, "runs of the chain", lower_bound=1)
flags.DEFINE_string("out", "bench/runs/spotting_photo/speed.json", "where the figures go")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    photo, points = photo_set.astronaut()
    video = photo_videos.make_video(photo, points, 1000, FLAGS.seconds, 30.0,
                                    photo_set.COUNTS_30)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "speed.mp4"
        photo_set.write(video, path)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "faceslueth_jax.analyze", f"--video={path}"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        command_s = time.perf_counter() - started
        print(f"python -m faceslueth_jax.analyze: {video.num_frames} frames in {command_s:.1f} s, "
              f"{video.num_frames / command_s:.1f} frames per second")
        for _ in range(FLAGS.repeats):
            result = analyze.analyze(analyze.open_video(path))
            runs.append(result["seconds"])
            print(f"{video.num_frames} frames of {video.size[0]}x{video.size[1]}: "
                  f"{result['seconds']}")
    best = max(r["frames_per_second"] for r in runs)
    atomic_files.write_json(FLAGS.out, {
        "frames": video.num_frames, "size": list(video.size), "fps_of_video": 30.0,
        "command_seconds": round(command_s, 2),
        "command_frames_per_second": round(video.num_frames / command_s, 1),
        "in_process_runs": runs, "in_process_frames_per_second_best": best})
    print(f"analyze: {best} frames per second (best of {len(runs)})")
    return 0


if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)))
