"""Using a trained model: the model folder round-trips, a clip on disk (frames or
video) is classified exactly as the same frames in memory, bad input exits 2 with
one line naming the file and writes nothing, and the attention-and-flow sheet is
drawn (PNG, PDF) with its raw maps beside it (.npz)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import cv2
import jax
import matplotlib.pyplot as plt
import ml_collections
import numpy as np
import pytest

import faceslueth_jax
from faceslueth_jax.data import model_inputs, records, sources
from faceslueth_jax.evaluation import angles
from faceslueth_jax.inference import clip_input, model_folder, pictures, predict
from faceslueth_jax.models.motion_stream import soa_angles_deg
from faceslueth_jax.train import protocols
from tests.conftest import REPO
from tests.test_run import shared_tiny_run
from tfds_builders.synthetic_me import write_clip

STAGES = 2  # the SOA stages of TINY_RUN's motion stream


@pytest.fixture(scope="module")
def loso_run():
    return shared_tiny_run()[0]  # the tiny LOSO run tests/test_run.py reads too


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


def _member_angles(model) -> np.ndarray:
    """(M, L) every member's learned SOA angles, in degrees."""
    return np.asarray(jax.vmap(soa_angles_deg)(model.variables["params"]))


def _check_sheet_files(png, stages: int) -> dict:
    """The sheet's PNG decodes at a sheet's size, its PDF is a PDF, and its .npz holds
    the face, the flow and one attention map and angle per stage. Returns the .npz."""
    image = cv2.imread(str(png))
    assert image is not None and image.std() > 10, png  # drawn, not blank
    height, width = image.shape[:2]
    assert 300 <= height < width and width >= 150 * (2 + stages), image.shape  # >= 200 dpi
    assert png.with_suffix(".pdf").read_bytes().startswith(b"%PDF")
    with np.load(png.with_suffix(".npz")) as saved:
        raw = {k: saved[k] for k in saved.files}
    face, flow = raw["apex_face"], raw["flow"]
    assert face.ndim == 3 and face.shape[0] == face.shape[1] and flow.shape[-1] == 3
    assert raw["theta_deg"].shape == (stages,)
    assert sorted(k for k in raw if k.startswith("attention_")) == [
        f"attention_motion_stage{i}" for i in range(stages)]
    np.testing.assert_allclose(raw["probabilities"].sum(), 1.0, rtol=1e-5)
    return raw


def test_several_clips_are_batched_and_pictured(model, clip_on_disk, tmp_path):
    folder, video, _, _ = clip_on_disk
    clips = tmp_path / "clips"  # a folder of clips: one frame folder, one video
    shutil.copytree(folder, clips / "a")
    shutil.copy(video, clips / "b.avi")
    results, sheets = predict.predict(model, [clips], batch_size=1, with_pictures=True)
    assert [r["clip"] for r in results] == [str(clips / "a"), str(clips / "b.avi")]
    assert results[0]["probabilities"] == pytest.approx(results[1]["probabilities"], abs=1e-6)
    assert len(sheets) == 2 and [len(s.stages) for s in sheets] == [STAGES, STAGES]
    for k, (result, sheet) in enumerate(zip(results, sheets)):
        written = pictures.write(sheet, tmp_path / "out" / f"clip{k}.png")
        assert [p.name for p in written] == [f"clip{k}.png", f"clip{k}.pdf", f"clip{k}.npz"]
        raw = _check_sheet_files(written[0], stages=STAGES)
        assert list(raw["class_names"]) == list(model.class_names)
        np.testing.assert_allclose(raw["probabilities"],
                                   list(result["probabilities"].values()), atol=1e-6)
    assert not list((tmp_path / "out").glob(".*.tmp")), "temporary files left behind"


def _sheet(stages: int) -> pictures.Sheet:
    """A sheet of made-up maps: a 32 px face, a 16 px flow pointing right, and stage
    i's map at 8 / 2**i px with values up to i + 1."""
    rng = np.random.default_rng(0)
    flow = np.zeros((16, 16, 3), np.float32)
    flow[..., 0] = 1.0
    attention = {f"motion/stage{i}": (i + 1) * rng.random((8 >> i, 8 >> i)) for i in range(stages)}
    theta = {f"motion/stage{i}": t for i, t in enumerate((10.0, 90.0, 135.0, 170.0)[:stages])}
    return pictures.Sheet("clip: surprise (p 0.70)", rng.random((32, 32, 1)), flow, attention,
                          theta, np.array([0.1, 0.2, 0.7]), ("negative", "positive", "surprise"))


def _all_axes(fig) -> list:
    return [a for ax in fig.axes for a in (ax, *ax.child_axes)]


def test_a_sheet_shares_one_attention_scale_and_draws_each_angle():
    """Every stage's map on the common scale of all of them with one colour bar; each
    stage's line runs along (cos theta, sin theta) in image axes; axes off."""
    sheet = _sheet(stages=4)
    fig = pictures.draw(sheet)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["apex face", "flow onset → apex"] + [
        f"stage {i} attention" for i in range(4)]
    assert fig._suptitle.get_text() == sheet.title
    assert not any(ax.axison for ax in fig.axes)
    maps = list(sheet.attention.values())
    common = (min(m.min() for m in maps), max(m.max() for m in maps))
    for ax in fig.axes[2:]:
        assert ax.images[-1].get_clim() == pytest.approx(common)
        assert ax.images[-1].get_array().shape == (32, 32)  # upsampled to the face
    bars = [a for a in _all_axes(fig) if a.get_ylabel() == pictures.ATTENTION_LABEL]
    assert len(bars) == 1
    flow_ax = fig.axes[1]
    assert len(flow_ax.images) == 1 and flow_ax.child_axes  # the flow once, the wheel inset
    lines = flow_ax.get_lines()
    assert [t.get_text() for t in flow_ax.get_legend().get_texts()] == [
        "stage 0: 10.0°", "stage 1: 90.0°", "stage 2: 135.0°", "stage 3: 170.0°"]
    for line, theta in zip(lines, sheet.theta_deg.values()):
        (x0, x1), (y0, y1) = line.get_xdata(), line.get_ydata()
        assert np.degrees(np.arctan2(y1 - y0, x1 - x0)) % 180 == pytest.approx(theta % 180)
    right_down_still = pictures.flow_colours(np.array([[[2.0, 0.0], [0.0, 1.0], [0.0, 0.0]]]))
    np.testing.assert_allclose(right_down_still[0], [[1.0, 0.0, 0.0], [0.25, 0.5, 0.0],
                                                     [0.0, 0.0, 0.0]])  # hue 0, 90 deg; black
    plt.close(fig)


def test_a_model_without_soa_layers_gets_the_face_and_the_flow(tmp_path):
    sheet = _sheet(stages=0)
    fig = pictures.draw(sheet)
    assert [ax.get_title() for ax in fig.axes] == ["apex face", "flow onset → apex"]
    assert not fig.axes[1].get_lines()
    plt.close(fig)
    raw = _check_sheet_files(pictures.write(sheet, tmp_path / "baseline.png")[0], stages=0)
    assert raw["apex_face"].shape == (32, 32, 1) and raw["flow"].shape == (16, 16, 3)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "faceslueth_jax.predict", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def test_the_command_writes_its_results(loso_run, model, clip_on_disk, tmp_path):
    folder = clip_on_disk[0]
    out = tmp_path / "out"
    proc = _cli(f"--model={loso_run / 'model'}", f"--clip={folder}", f"--out={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "(spotted)" in proc.stdout and "frames: " in proc.stdout
    written = json.loads((out / "predictions.json").read_text())
    assert written["members"] == 3 and written["clips"][0]["picture"] == "frames.png"
    assert sorted(p.name for p in out.iterdir()) == [
        "frames.npz", "frames.pdf", "frames.png", "predictions.json"]
    raw = _check_sheet_files(out / "frames.png", stages=STAGES)
    # the maps the model gives these inputs: each stage's at its own resolution, the
    # mean over members and channels; theta: the members' axial mean angle per stage
    rgb = [cv2.cvtColor(f, cv2.COLOR_GRAY2RGB) for f in clip_on_disk[2]]
    views, flow, face, _ = clip_input.model_inputs([clip_input.Clip(folder, rgb)],
                                                   model.meta["chain"], model.config)
    _, maps = model.member_logits(views, capture_attention=True)
    for i in range(STAGES):
        expected = np.asarray(maps[f"motion/stage{i}"])[:, 0].mean(axis=(0, -1))  # (H, W)
        assert raw[f"attention_motion_stage{i}"].shape == expected.shape
        np.testing.assert_allclose(raw[f"attention_motion_stage{i}"], expected, atol=1e-5)
    np.testing.assert_allclose(raw["theta_deg"], angles.axial_mean(_member_angles(model)),
                               atol=1e-4)
    np.testing.assert_allclose(raw["apex_face"], face[0], atol=1e-6)
    np.testing.assert_allclose(raw["flow"], flow[0], atol=1e-6)
    np.testing.assert_allclose(raw["probabilities"],
                               list(written["clips"][0]["probabilities"].values()), atol=1e-6)


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


def test_a_run_draws_its_test_samples_attention(loso_run, model):
    """--config.report.attention_samples=1: one sheet per class of the database (the
    classes that have test samples), each with the angles of the fold model that
    tested the sample."""
    drawn = sorted((loso_run / "attention").glob("*/*/*.png"))
    classes = {p.parent.name for p in drawn}
    assert drawn and classes <= {"negative", "positive", "surprise"} and len(drawn) == len(classes)
    members = _member_angles(model)  # (3 folds, STAGES stages)
    for path in drawn:
        raw = _check_sheet_files(path, stages=STAGES)
        assert np.abs(members - raw["theta_deg"]).max(axis=1).min() < 1e-4, raw["theta_deg"]
        assert list(raw["class_names"]) == list(model.class_names)


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


def test_analyze_recognises_each_spotted_micro_expression(loso_run, tmp_path):
    """A long video of 64 px faces (the model's training size), the baseline spotter at
    a low threshold: every micro-expression gets the model's classes and a sheet."""
    from tests.test_analyze import cli, face_frames
    frames = face_frames(tmp_path / "frames", seconds=8)  # two micro-expressions
    out = tmp_path / "out"
    proc = cli(f"--video={frames}", "--crop=whole", "--z=5", f"--model={loso_run / 'model'}",
               f"--out={out}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = json.loads((out / "intervals.json").read_text())
    micro = [r for r in found["intervals"] if r["kind"] == "micro"]
    assert micro, found["intervals"]
    for r in micro:
        assert set(r["probabilities"]) == {"negative", "positive", "surprise"}
        assert sum(r["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
        assert r["class"] in r["probabilities"] and r["class"] in proc.stdout
        assert (out / "attention" / f"{r['onset']}-{r['offset']}.png").is_file()
        assert (out / "attention" / f"{r['onset']}-{r['offset']}.npz").is_file()
    assert all("class" not in r for r in found["intervals"] if r["kind"] == "macro")
    refused = cli(f"--video={frames}", f"--spotter={loso_run / 'model'}")
    assert refused.returncode == 2 and "recognition model folder" in refused.stderr


def test_frames_of_different_sizes_or_too_small_are_no_clip(tmp_path):
    """The check analyze shares (``clip_input.check_frames``): one size for every frame,
    at least MIN_SIDE pixels on each side."""
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for i, side in enumerate((64, 64, 80, 64)):
        cv2.imwrite(str(mixed / f"img{i}.png"), np.full((side, 64), 128, np.uint8))
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    for i in range(5):
        cv2.imwrite(str(tiny / f"img{i}.png"), np.full((1, 1), 128, np.uint8))
    for folder, says in ((mixed, "different sizes"), (tiny, "at least 32")):
        with pytest.raises(clip_input.ClipInputError) as caught:
            clip_input.read_clip(folder)
        message = str(caught.value)
        assert str(folder) in message and says in message and "\n" not in message, message


def _one_error(proc, *says):
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-2000:]
    for text in says:
        assert text in lines[0], (text, lines[0])
    return lines[0]


@pytest.mark.parametrize("size", ["0", "-1"])
def test_a_batch_of_no_clips_is_refused_before_the_model_is_read(size, tmp_path):
    _one_error(_cli(f"--model={tmp_path / 'model'}", f"--clip={tmp_path}",
                    f"--batch_size={size}", f"--out={tmp_path / 'out'}"),
               f"--batch_size={size}")
    assert not (tmp_path / "out").exists()


def test_an_existing_out_folder_is_refused_before_the_model_is_read(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "predictions.json").write_text("the previous run's\n")
    (out / "old_clip.png").write_bytes(b"png")
    line = _one_error(_cli(f"--model={tmp_path / 'no_model'}", f"--clip={tmp_path}",
                           f"--out={out}"), f"--out={out}", "already exists")
    assert "no_model" not in line
    assert sorted(p.name for p in out.iterdir()) == ["old_clip.png", "predictions.json"]
    assert (out / "predictions.json").read_text() == "the previous run's\n"


def test_a_flag_predict_does_not_take_is_refused(tmp_path):
    """--fps (analyze's, parsed in every command) would be ignored without a word."""
    _one_error(_cli(f"--model={tmp_path / 'model'}", f"--clip={tmp_path}", "--fps=-5"),
               "faceslueth_jax.predict does not take --fps=-5")


def test_a_batch_of_no_clips_is_refused_by_the_library_too(model, clip_on_disk):
    for size in (0, -1):
        with pytest.raises(predict.PredictError, match=f"batch_size={size}"):
            predict.predict(model, [clip_on_disk[0]], batch_size=size)


def test_analyze_refuses_true_classes_the_model_does_not_have(loso_run, tmp_path):
    """The timeline names the true intervals' classes by the model's: a label past them
    would fail at the end, after the whole video; it is refused before any frame."""
    from tests.test_analyze import flat_frames
    frames = flat_frames(tmp_path / "frames")
    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps([{"onset": 1, "offset": 4, "kind": "micro", "label": 7}]))
    _one_error(subprocess.run(
        [sys.executable, "-m", "faceslueth_jax.analyze", f"--video={frames}", f"--truth={truth}",
         f"--model={loso_run / 'model'}", f"--out={tmp_path / 'out'}"], cwd=REPO,
        capture_output=True, text=True, timeout=300), str(truth), "label 7")
    assert not (tmp_path / "out").exists()
