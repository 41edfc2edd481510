"""Using a trained model: the model folder round-trips, a clip on disk (frames or
video) is classified exactly as the same frames in memory, bad input exits 2 with
one line naming the file and writes nothing, and the attention picture is drawn."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import cv2
import jax
import ml_collections
import numpy as np
import pytest

import faceslueth_jax
from faceslueth_jax.data import model_inputs, records, sources
from faceslueth_jax.inference import clip_input, model_folder, pictures, predict
from faceslueth_jax.train import protocols
from tests.conftest import REPO
from tests.test_run import TINY_RUN
from tfds_builders.synthetic_me import write_clip


def _train(root, *extra):
    workdir = root / "work"
    proc = subprocess.run(
        [sys.executable, "run.py", "--config=configs/loso_synthetic.py", f"--workdir={workdir}",
         f"--config.data.data_dir={root / 'tfds'}", "--config.baseline.logistic_regression=False",
         *TINY_RUN, *extra],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return workdir


@pytest.fixture(scope="module")
def loso_run(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("loso"), "--config.report.attention_samples=1")


@pytest.fixture(scope="module")
def model(loso_run):
    return faceslueth_jax.restore(loso_run / "model")


@pytest.fixture(scope="module")
def clip_on_disk(tmp_path_factory):
    """One new synthetic clip at the training data's size (64 px): PNG frames, a
    lossless .avi, and the same frames in memory."""
    root = tmp_path_factory.mktemp("clip")
    frames, apex = write_clip.make_frames("surprise", seed=1000, size=64)
    folder = root / "frames"
    folder.mkdir()
    for i, f in enumerate(frames):  # img0 .. img8, natural order
        assert cv2.imwrite(str(folder / f"img{i}.png"), f)
    write_clip.write_video(root / "clip.avi", frames)
    return folder, root / "clip.avi", frames, apex


def test_a_loso_run_is_a_fold_ensemble_that_reproduces_its_test_logits(loso_run, model):
    """Member f (fold f's model restored from the folder) gives fold f's test samples
    the probabilities the run recorded at its last epoch."""
    assert model.meta["kind"] == "fold_ensemble" and model.num_members == 3
    assert model.meta["training_data"]["num_samples"] > 0
    config = ml_collections.ConfigDict(json.loads((loso_run / "config.json").read_text()))
    data = model_inputs.prepared_data(config, records.read_builder(sources.prepare(config.data)))
    folds = protocols.make_folds("loso", data.dataset, data.subject)
    saved = np.load(loso_run / "probabilities.npz")
    assert list(saved["sample_id"]) == list(data.sample_id)
    logits = np.asarray(model.member_logits(data.views))  # (M, N, K)
    for f in range(folds.num_folds):
        rows = folds.test_samples(f)
        np.testing.assert_allclose(jax.nn.softmax(logits[f, rows]),
                                   saved["probs_last_epoch"][0, rows], atol=1e-5)


def test_frames_and_video_give_the_in_memory_probabilities(model, clip_on_disk):
    folder, video, frames, apex = clip_on_disk
    rgb = [cv2.cvtColor(f, cv2.COLOR_GRAY2RGB) for f in frames]
    views, _, _, facts = clip_input.model_inputs([clip_input.Clip(folder, rgb)],
                                                 model.meta["chain"], model.config)
    in_memory = model.probabilities(views)[0]
    assert facts[0].apex_spotted and 0 < facts[0].apex < len(frames)  # spotted (true: apex)
    from_frames, _ = predict.predict(model, [folder])
    from_video, _ = predict.predict(model, [video])
    for result in (from_frames[0], from_video[0]):
        np.testing.assert_allclose(list(result["probabilities"].values()), in_memory, atol=1e-6)
        assert result["apex"] == facts[0].apex and result["num_frames"] == len(frames)
    np.testing.assert_allclose(in_memory.sum(), 1.0, rtol=1e-6)


def test_several_clips_are_batched_and_pictured(model, clip_on_disk, tmp_path):
    folder, video, _, _ = clip_on_disk
    clips = tmp_path / "clips"  # a folder of clips: one frame folder, one video
    shutil.copytree(folder, clips / "a")
    shutil.copy(video, clips / "b.avi")
    results, images = predict.predict(model, [clips], batch_size=1, with_pictures=True)
    assert [r["clip"] for r in results] == [str(clips / "a"), str(clips / "b.avi")]
    assert results[0]["probabilities"] == pytest.approx(results[1]["probabilities"], abs=1e-6)
    stages = len(predict.stage_angles(model))
    assert stages == 4
    for image in images:
        assert image.shape == (pictures.TITLE + 2 * pictures.PANEL, stages * pictures.PANEL, 3)
        assert image.dtype == np.uint8 and image.std() > 10  # drawn, not blank


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "faceslueth_jax.predict", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def test_the_command_writes_its_results(loso_run, clip_on_disk, tmp_path):
    folder = clip_on_disk[0]
    out = tmp_path / "out"
    proc = _cli(f"--model={loso_run / 'model'}", f"--clip={folder}", f"--out={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "(spotted)" in proc.stdout and "frames: " in proc.stdout
    written = json.loads((out / "predictions.json").read_text())
    assert written["members"] == 3 and written["clips"][0]["picture"] == "frames.png"
    assert cv2.imread(str(out / "frames.png")).shape[:2] == (
        pictures.TITLE + 2 * pictures.PANEL, 4 * pictures.PANEL)


@pytest.mark.parametrize("case", ["unreadable video", "model file missing"])
def test_bad_input_exits_2_naming_the_file_and_writes_nothing(loso_run, clip_on_disk,
                                                              tmp_path, case):
    folder = clip_on_disk[0]
    model_dir = loso_run / "model"
    if case == "unreadable video":
        bad = tmp_path / "broken.avi"
        bad.write_bytes(b"not a video at all")
        args, named = [f"--model={model_dir}", f"--clip={bad}"], str(bad)
    else:
        copy = tmp_path / "model"
        shutil.copytree(model_dir, copy)
        (copy / "model.json").unlink()
        args, named = [f"--model={copy}", f"--clip={folder}"], str(copy / "model.json")
    out = tmp_path / "out"
    proc = _cli(*args, f"--out={out}")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and named in lines[0], proc.stderr
    assert not out.exists()


def test_each_bad_clip_is_one_error_naming_it(model, clip_on_disk, tmp_path):
    folder, _, frames, _ = clip_on_disk
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no frames here")
    one = tmp_path / "one"
    one.mkdir()
    cv2.imwrite(str(one / "img0.png"), frames[0])
    noise = tmp_path / "noise"  # flat grey: no face anywhere
    noise.mkdir()
    for i in range(3):
        cv2.imwrite(str(noise / f"f{i}.png"), np.full((64, 64), 128, np.uint8))
    cases = [([empty], {}, str(empty)), ([one], {}, "at least 2"),
             ([noise], {"crop": "detect"}, "no face found"),
             ([folder], {"onset": 9}, "onset frame 9 outside"),
             ([folder], {"apex": 0}, "apex frame 0 outside"),
             ([tmp_path / "absent"], {}, str(tmp_path / "absent")),
             ([folder], {"max_frames": 5}, "9 frames, more than --max_frames=5"),
             ([clip_on_disk[1]], {"max_frames": 5}, "more than --max_frames=5")]
    for paths, options, says in cases:
        with pytest.raises(clip_input.ClipInputError) as caught:
            predict.predict(model, paths, **options)
        message = str(caught.value)
        assert says in message and "\n" not in message, message


def test_a_model_folder_of_another_version_is_refused(loso_run, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(loso_run / "model", copy)
    meta = json.loads((copy / "model.json").read_text())
    meta["format_version"] = 99
    (copy / "model.json").write_text(json.dumps(meta))
    with pytest.raises(model_folder.ModelFolderError, match="version 99"):
        faceslueth_jax.restore(copy)
    meta["format_version"] = model_folder.FORMAT_VERSION
    (copy / "model.json").write_text(json.dumps(meta))
    member = copy / model_folder.MEMBERS / "00001.msgpack"
    member.unlink()  # a hard link into the run's final_variables: replace, never write through
    member.write_bytes(b"\x93truncated")
    with pytest.raises(model_folder.ModelFolderError, match="00001.msgpack: cannot be read"):
        faceslueth_jax.restore(copy)
    member.unlink()
    with pytest.raises(model_folder.ModelFolderError, match="00001.msgpack is missing"):
        faceslueth_jax.restore(copy)


def test_a_run_draws_its_test_samples_attention(loso_run):
    """--config.report.attention_samples=1: one picture per class of the database (the
    classes that have test samples), each as tall and wide as a clip's."""
    drawn = sorted((loso_run / "attention").glob("*/*/*.png"))
    classes = {p.parent.name for p in drawn}
    assert drawn and classes <= {"negative", "positive", "surprise"} and len(drawn) == len(classes)
    for path in drawn:
        assert cv2.imread(str(path)).shape == (pictures.TITLE + 2 * pictures.PANEL,
                                                4 * pictures.PANEL, 3)


def test_a_batch_goes_on_past_bad_clips_and_lists_them(loso_run, clip_on_disk, tmp_path):
    """A CSV of clips with their onsets and apexes: the good ones are classified and
    written, the bad one is listed at the end, exit 1; with --on_error=raise the bad
    one stops everything (exit 2, nothing written)."""
    folder, video, frames, apex = clip_on_disk
    one = tmp_path / "one"
    one.mkdir()
    cv2.imwrite(str(one / "img0.png"), frames[0])
    table = tmp_path / "clips.csv"
    table.write_text(f"clip,onset,apex\n{folder},0,{apex}\none,,\n{video},0,\n")
    out = tmp_path / "out"
    proc = _cli(f"--model={loso_run / 'model'}", f"--clips_csv={table}", f"--out={out}")
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert f"{folder}: " in proc.stdout and f"onset 0, apex {apex}\n" in proc.stdout
    assert f"{video}: " in proc.stdout and "(spotted)" in proc.stdout
    failed = proc.stderr[proc.stderr.index("error: 1 of 3 clip(s) could not be used:"):]
    assert str(one) in failed and "at least 2" in failed, proc.stderr
    written = json.loads((out / "predictions.json").read_text())
    assert [c["clip"] for c in written["clips"]] == [str(folder), str(video)]
    assert written["clips"][0]["apex"] == apex and not written["clips"][0]["apex_spotted"]
    assert [f["clip"] for f in written["failed"]] == [str(one)]

    raised = tmp_path / "raised"
    proc = _cli(f"--model={loso_run / 'model'}", f"--clips_csv={table}", f"--out={raised}",
                "--on_error=raise")
    assert proc.returncode == 2 and str(one) in proc.stderr.strip().splitlines()[-1]
    assert not raised.exists()
    table.write_text("clip,onset,apex\nframes,zero,4\n")
    proc = _cli(f"--model={loso_run / 'model'}", f"--clips_csv={table}")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: {table}, line 2: onset 'zero' is not a frame index (an integer from 0)")


def test_frames_taken_as_the_face_without_a_face_are_flagged(model, tmp_path):
    noise = tmp_path / "noise"  # flat grey: no face anywhere
    noise.mkdir()
    for i in range(3):
        cv2.imwrite(str(noise / f"f{i}.png"), np.full((64, 64), 128, np.uint8))
    (result,), _ = predict.predict(model, [noise], crop="whole")
    assert result["face_found"] is False and "no face found" in result["warning"]
