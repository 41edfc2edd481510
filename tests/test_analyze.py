"""analyze end to end: a synthetic long video written by the project, as an ordinary
.mp4 whose face must be found; bad input exits 2 with one line naming the file and
writes nothing. (With a trained spotter: tests/test_spotting_run.py; with a recognition
model folder: tests/test_predict.py, beside the runs they train.)"""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from tests.conftest import REPO
from tfds_builders.synthetic_me import write_long_video


def cli(*args):
    return subprocess.run([sys.executable, "-m", "faceslueth_jax.analyze", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=600)


def face_frames(folder, seconds: float = 20, size: int = 64, seed: int = 1001):
    """A synthetic long video (30 fps) as a folder of PNG frames, the face alone."""
    folder.mkdir()
    video = write_long_video.long_videos.make_long_video(seed=seed, num_frames=int(30 * seconds),
                                                         size=size)
    for t, frame in enumerate(video.frames()):
        cv2.imwrite(str(folder / f"{t:05d}.png"), np.clip(np.rint(frame), 0, 255).astype(np.uint8))
    return folder


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """A 20 s synthetic long video: an .mp4 with the face inside a larger frame."""
    mp4 = tmp_path_factory.mktemp("videos") / "long.mp4"
    return mp4, write_long_video.write(mp4, seconds=20, seed=1001, size=128, pad=64)


def test_an_mp4_is_streamed_its_face_found_and_its_expressions_spotted(videos, tmp_path):
    mp4, video = videos
    out = tmp_path / "out"
    proc = cli(f"--video={mp4}", f"--truth={write_long_video.truth_path(mp4)}", f"--out={out}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "onset    apex  offset" in proc.stdout and "frames per second" in proc.stdout
    assert "analysing [" in proc.stderr and "600/600 frames" in proc.stderr
    found = json.loads((out / "intervals.json").read_text())
    assert found["num_frames"] == 600 and found["fps"] == pytest.approx(30.0)
    # the face box of the first frame holds the drawn face (it sits at 64..192)
    x, y, side = found["face_box_first_frame"]
    assert 20 <= x <= 110 and 20 <= y <= 110 and 80 <= side <= 240
    assert found["intervals"] and all(r["onset"] <= r["apex"] <= r["offset"]
                                      for r in found["intervals"])
    # the macro-expressions (2..4 px) are where the video's truth has them
    truth = [e for e in video.events if e.kind == "macro"]
    spotted = [r for r in found["intervals"] if r["kind"] == "macro"]
    hits = sum(any(r["onset"] <= e.offset and e.onset <= r["offset"] for r in spotted)
               for e in truth)
    assert truth and hits >= len(truth) // 2, (truth, spotted)
    assert (out / "timeline.png").is_file() and (out / "timeline.pdf").is_file()


def test_bad_input_is_one_line_exit_2_and_nothing_written(videos, tmp_path):
    mp4, _ = videos
    out = tmp_path / "out"
    bad_truth = tmp_path / "truth.json"
    bad_truth.write_text(json.dumps([{"onset": 3}]))
    blank = tmp_path / "blank"
    blank.mkdir()
    for t in range(60):
        cv2.imwrite(str(blank / f"{t}.png"), np.full((96, 96), 128, np.uint8))
    cases = [((f"--video={tmp_path / 'missing.mp4'}",), "no such video"),
             ((f"--video={mp4}", f"--truth={bad_truth}"), "entry 0"),
             ((f"--video={blank}",), "no face found in the first frame"),
             ((f"--video={mp4}", f"--model={tmp_path}"), "model.json is missing")]
    for args, message in cases:
        proc = cli(*args, f"--out={out}")
        assert proc.returncode == 2, (args, proc.stderr[-1000:])
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and message in errors[0], (args, proc.stderr[-1000:])
        assert not out.exists()
