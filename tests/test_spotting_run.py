"""Spotting under LOSO: the learned spotter's samples, labels and interval rule by hand,
the bootstrap over subjects, and a whole run on tiny synthetic long videos: its files
agree with each other, and no test subject's labels reach its own spotting."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from configs import spot_synthetic
from faceslueth_jax.evaluation import spotting_metrics
from faceslueth_jax.evaluation.spotting_metrics import Interval
from faceslueth_jax.spotting import experiment, learned, videos as video_data
from tests.conftest import REPO, optimised_env

TINY = dict(num_subjects=3, num_frames=400, size=64, flow_size=32)


def test_frames_are_labelled_by_the_kind_of_interval_they_lie_in():
    labels = learned.frame_labels([Interval(2, 4, "micro"), Interval(6, 9, "macro")], 12)
    assert labels.tolist() == [0, 0, 1, 1, 1, 0, 2, 2, 2, 2, 0, 0]


def test_windows_step_by_the_stride_and_clamp_at_the_edges():
    blocks = {15: np.tile(np.arange(10.0)[:, None], (1, 36)) + 1.0,
              60: np.ones((10, 36))}
    t, windows = learned.video_inputs(blocks, 30.0, ("micro", "macro"), width=4)
    assert learned.stride(30.0) == 2 and learned.stride(200.0) == 13
    assert t.tolist() == [0, 2, 4, 6, 8] and windows.shape == (5, 4, 72)
    # positions t - 4, t - 2, t, t + 2 (edges: the nearest frame), log(1 + b / median)
    scale = np.median(np.arange(10.0) + 1.0)
    assert np.allclose(windows[2, :, 0], np.log1p((np.array([0, 2, 4, 6]) + 1.0) / scale))
    assert np.allclose(windows[0, :, 0], np.log1p((np.array([0, 0, 0, 2]) + 1.0) / scale))
    assert np.allclose(windows[:, :, 36:], np.log(2.0))


def test_intervals_are_runs_of_the_filtered_class_kept_by_length():
    probs = np.tile([0.9, 0.05, 0.05], (40, 1))
    probs[5:9] = [0.1, 0.8, 0.1]     # positions 5..8: a micro run of 4 positions (8 frames)
    probs[20] = [0.1, 0.8, 0.1]      # a lone position: removed by the median filter
    probs[25:35] = [0.1, 0.1, 0.8]   # 10 positions: 20 frames, a macro
    probs[12:22, 1] = 0.0            # (keeps position 20 the only micro there)
    probs[20] = [0.1, 0.8, 0.1]
    found = learned.intervals(probs, np.arange(40) * 2, 30.0, 80)
    assert [(i.onset, i.offset, i.kind) for i in found] == [(10, 17, "micro"), (50, 69, "macro")]
    assert found[0].score == pytest.approx(0.8)
    probs[5:15] = [0.1, 0.8, 0.1]    # 20 frames: too long for a micro-expression at 30 fps
    assert [i.kind for i in learned.intervals(probs, np.arange(40) * 2, 30.0, 80)] == ["macro"]


def test_the_bootstrap_over_subjects_sums_their_counts():
    videos = {"a": ([Interval(0, 9)], [Interval(0, 9)]),           # subject 1: TP
              "b": ([Interval(20, 29)], [Interval(50, 59)]),       # subject 2: FP + FN
              "c": ([], [Interval(0, 9, "macro")])}                 # subject 2: macro FN
    subjects, counts = spotting_metrics.subject_counts(videos, {"a": "s1", "b": "s2", "c": "s2"})
    assert subjects == ["s1", "s2"]
    assert counts.tolist() == [[[1, 0, 0], [0, 0, 0]], [[0, 1, 1], [0, 0, 1]]]
    ci = spotting_metrics.bootstrap_f1(counts, draws=500)
    assert ci["micro"][0] == 0.0 and ci["micro"][1] == 1.0  # all s2 .. all s1
    same = spotting_metrics.bootstrap_f1(np.repeat(counts[:1], 4, 0), draws=100)
    assert same["micro"] == [1.0, 1.0] and same["overall"] == [1.0, 1.0]


def _config(root, **changes):
    c = spot_synthetic.get_config()
    c.data.data_dir = str(root / "tfds")
    c.data.synthetic.update(TINY)
    c.train.epochs = 2
    c.bootstrap_draws = 200
    c.report.timelines = 1
    for k, v in changes.items():
        c[k] = v
    return c


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("spot")
    workdir = root / "work"
    proc = subprocess.run(
        [sys.executable, "run.py", "--config=configs/spot_synthetic.py", f"--workdir={workdir}",
         f"--config.data.data_dir={root / 'tfds'}", "--config.train.epochs=2",
         "--config.bootstrap_draws=200", "--config.report.timelines=1",
         *[f"--config.data.synthetic.{k}={v}" for k, v in TINY.items()]],
        cwd=REPO, capture_output=True, text=True, timeout=600, env=optimised_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root, workdir, proc.stdout


def test_a_run_writes_its_files_and_they_agree(run):
    root, workdir, stdout = run
    metrics = json.loads((workdir / "metrics.json").read_text())
    intervals = json.loads((workdir / "intervals.json").read_text())
    assert set(metrics["spotters"]) == {"mdmd", "learned"} and "mdmd" in stdout
    assert metrics["data"]["videos"] == 3 and len(intervals) == 3
    for name, scores in metrics["spotters"].items():
        again = spotting_metrics.spotting_scores({
            v: ([Interval(i["onset"], i["offset"], i["kind"], i.get("score", 0.0))
                 for i in entry[name]],
                [Interval(i["onset"], i["offset"], i["kind"]) for i in entry["truth"]])
            for v, entry in intervals.items()})
        for kind in ("micro", "macro", "overall"):
            assert scores[kind]["f1"] == again[kind]["f1"], (name, kind)
            lo, hi = scores[kind]["f1_interval95"]
            assert 0.0 <= lo <= hi <= 1.0
    rows = (workdir / "per_subject.csv").read_text().splitlines()
    assert rows[0] == "spotter,subject,kind,tp,fp,fn,f1" and len(rows) == 1 + 2 * 3 * 2
    assert (workdir / "timelines" / "synthetic_lv_s00.png").is_file()
    model = json.loads((workdir / "model" / "model.json").read_text())
    assert model["task"] == "spotting" and len(model["members"]) == 3


def test_no_test_subject_labels_reach_its_own_spotting(run):
    """Fold s00's p and its learned intervals do not change when s00's events are
    removed: only the other subjects' labels choose them."""
    root, _, _ = run
    config = _config(root)
    videos, _, _ = video_data.load(config.data, say=lambda _: None)
    blind = [dataclasses.replace(v, truth=[]) if v.subject == "s00" else v for v in videos]
    spotted, chosen = experiment.mdmd_loso(config, videos)
    spotted_blind, chosen_blind = experiment.mdmd_loso(config, blind)
    assert chosen["s00"] == chosen_blind["s00"] and spotted["synthetic_lv/s00"] == \
        spotted_blind["synthetic_lv/s00"]
    found = experiment.learned_loso(config, videos)[0]
    found_blind = experiment.learned_loso(config, blind)[0]
    assert found["synthetic_lv/s00"] == found_blind["synthetic_lv/s00"]


def test_analyze_spots_with_the_runs_spotter_folder(run, tmp_path):
    from tests.test_analyze import cli, face_frames
    _, workdir, _ = run
    frames = face_frames(tmp_path / "frames", seconds=5)
    proc = cli(f"--video={frames}", "--crop=whole", f"--spotter={workdir / 'model'}",
               f"--out={tmp_path / 'out'}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = json.loads((tmp_path / "out" / "intervals.json").read_text())
    assert found["spotter"] == str(workdir / "model") and found["num_frames"] == 150
    assert all(r["kind"] in ("micro", "macro") for r in found["intervals"])
    refused = cli(f"--video={frames}", f"--model={workdir / 'model'}")
    assert refused.returncode == 2 and "spotter's model folder" in refused.stderr


def test_an_unknown_spotter_is_refused(tmp_path):
    with pytest.raises(ValueError, match="spotters must be among"):
        experiment.spot_and_evaluate(_config(tmp_path, spotters=("peaks",)), tmp_path / "w")
