"""analyze end to end: a synthetic long video written by the project, as an ordinary
.mp4 whose face must be found and as a folder of frames; the baseline and a trained
spotter; micro-expressions recognised with a model folder and drawn; bad input exits 2
with one line naming the file and writes nothing."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from faceslueth_jax.inference import analyze
from tests.conftest import REPO
from tests.test_predict import _train
from tests.test_spotting_run import TINY
from tfds_builders.synthetic_me import write_long_video


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "faceslueth_jax.analyze", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """A 20 s synthetic long video: an .mp4 with the face inside a larger frame, and the
    same video at 64 px as the face alone (a folder of PNG frames)."""
    root = tmp_path_factory.mktemp("videos")
    mp4 = root / "long.mp4"
    video = write_long_video.write(mp4, seconds=20, seed=1001, size=128, pad=64)
    faces = root / "faces"
    faces.mkdir()
    small = write_long_video.long_videos.make_long_video(seed=1001, num_frames=600, size=64)
    for t, frame in enumerate(small.frames()):
        cv2.imwrite(str(faces / f"{t:05d}.png"), np.clip(np.rint(frame), 0, 255).astype(np.uint8))
    return mp4, faces, video


def test_an_mp4_is_streamed_its_face_found_and_its_expressions_spotted(videos, tmp_path):
    mp4, _, video = videos
    out = tmp_path / "out"
    proc = _cli(f"--video={mp4}", f"--truth={write_long_video.truth_path(mp4)}", f"--out={out}")
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
    spotted = [analyze.Interval(r["onset"], r["offset"], r["kind"])
               for r in found["intervals"] if r["kind"] == "macro"]
    hits = sum(any(analyze.Interval(e.onset, e.offset, "macro").onset <= s.offset and
                   s.onset <= e.offset for s in spotted) for e in truth)
    assert hits >= len(truth) // 2, (truth, spotted)
    assert (out / "timeline.png").is_file() and (out / "timeline.pdf").is_file()


@pytest.fixture(scope="module")
def spotter(tmp_path_factory):
    root = tmp_path_factory.mktemp("spotter")
    proc = subprocess.run(
        [sys.executable, "run.py", "--config=configs/spot_synthetic.py", f"--workdir={root / 'w'}",
         f"--config.data.data_dir={root / 'tfds'}", "--config.train.epochs=2",
         "--config.spotters=('learned',)", "--config.bootstrap_draws=50",
         "--config.report.timelines=0",
         *[f"--config.data.synthetic.{k}={v}" for k, v in TINY.items()]],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root / "w" / "model"


@pytest.fixture(scope="module")
def recogniser(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("recognise")) / "model"


def test_frames_with_a_spotter_and_a_recogniser_give_classes_and_sheets(videos, spotter,
                                                                        recogniser, tmp_path):
    _, faces, _ = videos
    out = tmp_path / "out"
    proc = _cli(f"--video={faces}", "--crop=whole", "--p=0.1", f"--model={recogniser}",
                f"--out={out}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = json.loads((out / "intervals.json").read_text())
    micro = [r for r in found["intervals"] if r["kind"] == "micro"]
    assert micro, found["intervals"]
    for r in micro:
        assert set(r["probabilities"]) == {"negative", "positive", "surprise"}
        assert sum(r["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
        assert (out / "attention" / f"{r['onset']}-{r['offset']}.png").is_file()
        assert (out / "attention" / f"{r['onset']}-{r['offset']}.npz").is_file()
    assert all("class" not in r for r in found["intervals"] if r["kind"] == "macro")
    learned = _cli(f"--video={faces}", "--crop=whole", f"--spotter={spotter}",
                   f"--out={tmp_path / 'learned'}")
    assert learned.returncode == 0, learned.stderr[-2000:]
    assert json.loads((tmp_path / "learned" / "intervals.json").read_text())["spotter"] == \
        str(spotter)


def test_bad_input_is_one_line_exit_2_and_nothing_written(videos, recogniser, tmp_path):
    mp4, faces, _ = videos
    out = tmp_path / "out"
    bad_truth = tmp_path / "truth.json"
    bad_truth.write_text(json.dumps([{"onset": 3}]))
    blank = tmp_path / "blank"
    blank.mkdir()
    for t in range(60):
        cv2.imwrite(str(blank / f"{t}.png"), np.full((96, 96), 128, np.uint8))
    cases = [((f"--video={tmp_path / 'missing.mp4'}",), "no such video"),
             ((f"--video={mp4}", f"--truth={bad_truth}"), "entry 0"),
             ((f"--video={faces}", f"--spotter={recogniser}"), "recognition model folder"),
             ((f"--video={blank}",), "no face found in the first frame"),
             ((f"--video={mp4}", f"--model={tmp_path}"), "model.json is missing")]
    for args, message in cases:
        proc = _cli(*args, f"--out={out}")
        assert proc.returncode == 2, (args, proc.stderr[-1000:])
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and message in errors[0], (args, proc.stderr[-1000:])
        assert not out.exists()
