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

from faceslueth_jax.evaluation.spotting_metrics import Interval
from faceslueth_jax.inference import analyze as analysis
from tests.conftest import REPO, optimised_env
from tfds_builders.synthetic_me import write_long_video


def cli(*args):
    return subprocess.run([sys.executable, "-m", "faceslueth_jax.analyze", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=600, env=optimised_env())


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
    """A 10 s synthetic long video: an .mp4 with the face inside a larger frame."""
    mp4 = tmp_path_factory.mktemp("videos") / "long.mp4"
    return mp4, write_long_video.write(mp4, seconds=10, seed=1001, size=128, pad=64)


def test_an_mp4_is_streamed_its_face_found_and_its_expressions_spotted(videos, tmp_path):
    mp4, video = videos
    out = tmp_path / "out"
    proc = cli(f"--video={mp4}", f"--truth={write_long_video.truth_path(mp4)}", f"--out={out}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "onset    apex  offset" in proc.stdout and "frames per second" in proc.stdout
    assert "analysing [" in proc.stderr and "300/300 frames" in proc.stderr
    found = json.loads((out / "intervals.json").read_text())
    assert found["num_frames"] == 300 and found["fps"] == pytest.approx(30.0)
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
    assert truth and hits >= max(1, len(truth) // 2), (truth, spotted)
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


def flat_frames(folder, count: int = 8, size=(64, 64), odd=None):
    """A folder of grey PNG frames of ``size`` (H, W); ``odd``: {index: (H, W)} frames of
    another size. For the checks that refuse a folder before any analysis."""
    folder.mkdir()
    for t in range(count):
        h, w = (odd or {}).get(t, size)
        cv2.imwrite(str(folder / f"{t:03d}.png"), np.full((h, w), 100 + t, np.uint8))
    return folder


def one_error(proc, *says, streamed: bool = False):
    """The command exited 2 with one 'error:' line holding ``says`` and nothing else on
    stderr (``streamed``: a refusal met while the frames stream, after the progress
    lines of the frames analysed so far)."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr[-2000:]
    if streamed:
        assert all(line.startswith("analysing [") for line in lines[:-1]), proc.stderr[-2000:]
        lines = lines[-1:]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    for text in says:
        assert text in lines[0], (text, lines[0])
    return lines[0]


TRUE = [{"onset": 10, "apex": 12, "offset": 20, "kind": "micro", "label": 2},
        {"onset": 30, "offset": 70, "kind": "macro"}]


def test_every_shape_of_true_intervals_reads_the_same(tmp_path):
    """A JSON list, a JSON object holding it under 'intervals' or 'events', and a CSV
    with a header onset,offset,kind (apex and label optional, other columns ignored)."""
    expected = [Interval(10, 20, "micro", label=2, apex=12), Interval(30, 70, "macro")]
    files = {"list.json": json.dumps(TRUE), "intervals.json": json.dumps({"intervals": TRUE}),
             "events.json": json.dumps({"video": "x.mp4", "events": TRUE}),
             "truth.csv": "Onset, Offset ,kind,apex,label,note\n10,20,micro,12,2,a\n\n"
                          "30,70,Macro,,,b\n"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
        assert analysis.read_truth(tmp_path / name) == expected, name
    (tmp_path / "none.csv").write_text("onset,offset,kind\n")
    assert analysis.read_truth(tmp_path / "none.csv") == []


BAD_TRUTH = {  # name: (content, what the one line says besides the file)
    "object.json": (json.dumps({"spans": TRUE}), "'intervals' or 'events'"),
    "both.json": (json.dumps({"intervals": TRUE, "events": TRUE}), "both"),
    "number.json": ("3", "a list of intervals"),
    "not_list.json": (json.dumps({"intervals": {"onset": 1}}), "'intervals' is not a list"),
    "broken.json": ("[{\"onset\": 1,", "not JSON"),
    "entry.json": (json.dumps([TRUE[0], 5]), "entry 1"),
    "missing.json": (json.dumps([{"onset": 3, "offset": 4}]), "entry 0: no kind"),
    "negative.json": (json.dumps([dict(TRUE[0], onset=-1)]), "entry 0: onset -1"),
    "fraction.json": (json.dumps([dict(TRUE[0], onset=2.5)]), "entry 0: onset 2.5"),
    "bool.json": (json.dumps([dict(TRUE[0], offset=True)]), "entry 0: offset True"),
    "reversed.json": (json.dumps([TRUE[1], dict(TRUE[0], offset=5)]),
                      "entry 1: offset 5 before the onset 10"),
    "kind.json": (json.dumps([dict(TRUE[0], kind="mega")]), "entry 0: kind 'mega'"),
    "apex.json": (json.dumps([dict(TRUE[0], apex=40)]), "entry 0: apex 40 outside 10..20"),
    "no_kind.csv": ("onset,offset\n1,2\n", "missing: kind"),
    "no_header.csv": ("1,2,micro\n", "missing: onset, offset, kind"),
    "row.csv": ("onset,offset,kind\n1,2,micro\n-4,9,micro\n", "line 3: onset '-4'"),
    "offset.csv": ("onset,offset,kind\n8,2,macro\n", "line 2: offset 2 before the onset 8"),
    "kind.csv": ("onset,offset,kind\n1,2,big\n", "line 2: kind 'big'"),
    "short.csv": ("onset,offset,kind\n1,2\n", "line 2: no kind"),
    "empty.csv": ("", "missing: onset, offset, kind"),
    "notes.txt": ("the expressions are at 1 s and 3 s\n", "missing: onset, offset, kind"),
}


@pytest.mark.parametrize("name", sorted(BAD_TRUTH))
def test_true_intervals_of_another_shape_are_refused_naming_the_file(name, tmp_path):
    text, says = BAD_TRUTH[name]
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(analysis.AnalyzeError) as caught:
        analysis.read_truth(path)
    message = str(caught.value)
    assert str(path) in message and says in message and "\n" not in message, message


def test_true_intervals_in_an_object_reach_the_timeline(tmp_path):
    """{"intervals": [...]} was read as no truth at all (exit 0, an empty row)."""
    frames = face_frames(tmp_path / "frames", seconds=4)
    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps({"intervals": TRUE}))
    out = tmp_path / "out"
    proc = cli(f"--video={frames}", "--crop=whole", f"--truth={truth}", f"--out={out}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = json.loads((out / "intervals.json").read_text())
    assert [(t["onset"], t["offset"], t["kind"]) for t in found["truth"]] == [
        (10, 20, "micro"), (30, 70, "macro")]
    # scored against the truth: the written counts are those of the spotted rows
    scores = found["scores"]
    spotted = analysis.as_intervals(found["intervals"])
    for kind, true in (("micro", [(10, 20)]), ("macro", [(30, 70)])):
        hits = sum(any(_iou(i, t) >= 0.5 for t in true) for i in spotted if i.kind == kind)
        mine = sum(i.kind == kind for i in spotted)
        assert (scores[kind]["tp"], scores[kind]["fp"], scores[kind]["fn"]) == (
            min(hits, 1), mine - min(hits, 1), 1 - min(hits, 1)), (kind, found["intervals"])
    assert scores["overall"]["tp"] == scores["micro"]["tp"] + scores["macro"]["tp"]
    assert "scores at IoU >= 0.5" in proc.stdout and "overall" in proc.stdout
    assert sorted(p.name for p in out.iterdir()) == ["intervals.json", "timeline.pdf",
                                                      "timeline.png"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"spans": TRUE}))
    one_error(cli(f"--video={frames}", f"--truth={bad}", f"--out={tmp_path / 'o2'}"), str(bad))
    assert not (tmp_path / "o2").exists()


@pytest.mark.parametrize("fps", ["-5", "0", "nan", "inf", "1e6"])
def test_a_frame_rate_that_is_no_frame_rate_is_refused(fps, tmp_path):
    frames = flat_frames(tmp_path / "frames")
    out = tmp_path / "out"
    one_error(cli(f"--video={frames}", f"--fps={fps}", f"--out={out}"), "--fps=")
    assert not out.exists()


def test_frames_of_different_sizes_or_too_small_are_refused(tmp_path):
    """As predict refuses them: a folder whose frames change size (here frame 3), and
    frames too small for a face crop and its flow (60 frames of 1x1 pixels)."""
    mixed = flat_frames(tmp_path / "mixed", count=60, odd={3: (80, 64)})
    tiny = flat_frames(tmp_path / "tiny", count=60, size=(1, 1))
    out = tmp_path / "out"
    one_error(cli(f"--video={mixed}", "--crop=whole", f"--out={out}"), str(mixed),
              "different sizes", "003.png is 64x80", streamed=True)
    one_error(cli(f"--video={tiny}", "--crop=whole", f"--out={out}"), str(tiny), "1x1",
              "at least 32")
    assert not out.exists()


def test_an_existing_out_folder_is_refused_before_anything_is_read(tmp_path):
    """--out names a folder to create; an existing one (a previous run's results) is
    left as it is, refused before the video is even opened."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "intervals.json").write_text("the previous run's\n")
    line = one_error(cli(f"--video={tmp_path / 'no_such.mp4'}", f"--out={out}"),
                     f"--out={out}", "already exists")
    assert "no_such" not in line
    assert sorted(p.name for p in out.iterdir()) == ["intervals.json"]
    assert (out / "intervals.json").read_text() == "the previous run's\n"
    one_error(cli(f"--video={tmp_path}", "--seed=3"),
              "faceslueth_jax.analyze does not take --seed=3")


def _iou(spotted, true):
    inter = max(0, min(spotted.offset, true[1]) - max(spotted.onset, true[0]) + 1)
    return inter / (spotted.length + true[1] - true[0] + 1 - inter)


def test_scores_count_each_true_interval_once_per_type():
    """Two spots on one true micro-expression: one TP, one FP; a macro spot on it is a
    macro FP (types are scored apart); a true macro-expression missed: one FN."""
    rows = [{"onset": 10, "offset": 19, "kind": "micro", "score": 2.0, "apex": 14},
            {"onset": 11, "offset": 20, "kind": "micro", "score": 1.0, "apex": 15},
            {"onset": 9, "offset": 21, "kind": "macro", "score": 1.0, "apex": 15}]
    truth = [Interval(10, 20, "micro"), Interval(40, 90, "macro")]
    s = analysis.truth_scores(rows, truth)
    assert (s["micro"]["tp"], s["micro"]["fp"], s["micro"]["fn"]) == (1, 1, 0)
    assert (s["macro"]["tp"], s["macro"]["fp"], s["macro"]["fn"]) == (0, 1, 1)
    assert s["overall"]["f1"] == 2 * 1 / (2 * 1 + 2 + 1)
    assert s["macro"]["precision"] == 0.0 and s["macro"]["recall"] == 0.0
    assert "overall" in analysis.scores_table(s)


@pytest.mark.parametrize("z", ["nan", "inf", "0"])
def test_a_threshold_that_is_no_threshold_is_refused(z, tmp_path):
    """--z=nan spotted nothing without a word; 0 puts T at the median (half the frames)."""
    frames = flat_frames(tmp_path / "frames")
    out = tmp_path / "out"
    one_error(cli(f"--video={frames}", f"--z={z}", f"--out={out}"), "--z=")
    assert not out.exists()
