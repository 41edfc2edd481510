"""run.py end to end: the CLI, its outputs, and failing fast on missing data."""

from __future__ import annotations

import csv
import html
import json
import shutil
import subprocess
import sys
import time
import types

import numpy as np
import pytest

from faceslueth_jax.evaluation.metrics import confusion_matrix, scores
from tests.conftest import REPO, built_once

TINY_RUN = [
    "--config.data.synthetic.num_subjects=3", "--config.data.synthetic.clips_per_subject=4",
    "--config.data.synthetic.size=64", "--config.train.epochs=2",
    "--config.data.flow_size=16", "--config.data.face_size=32",
    "--config.model.faceslueth_r.motion.stem_widths=(4,)", "--config.model.faceslueth_r.motion.widths=(4,8)",
    "--config.model.faceslueth_r.motion.strides=(2,2)",
    "--config.model.faceslueth_r.appearance.embed_dim=8", "--config.model.faceslueth_r.appearance.num_heads=(1,)",
    "--config.model.faceslueth_r.appearance.window_size=4", "--config.model.faceslueth_r.head_widths=(16,8)",
    "--config.train.batch_size=6",  # the largest training set of these 3 subjects' folds
]
# The motion stream alone: half the compiling, for runs whose property is the pipeline's
# (protocols, databases, divergence, resuming), not the model's; TINY_RUN trains the
# whole model end to end.
MOTION_ONLY = ["--config.model.faceslueth_r.use_appearance=False"]
# shared_tiny_run's arguments: TINY_RUN drawing one attention sample a class
SHARED_RUN = [*TINY_RUN, "--config.report.attention_samples=1"]


def _run(*args, timeout=600):
    return subprocess.run([sys.executable, "run.py", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def shared_tiny_run() -> tuple:
    """(workdir, its printed output: .stdout, .stderr): the whole tiny model trained by
    run.py once for the test run (``built_once``), with one attention sample a class;
    tests/test_predict.py reads the same run. Its records are in workdir.parent / 'tfds'."""
    def train(root):
        proc = _run("--config=configs/loso_synthetic.py", f"--workdir={root / 'work'}",
                    f"--config.data.data_dir={root / 'tfds'}", *SHARED_RUN)
        assert proc.returncode == 0, proc.stderr[-4000:]
        (root / "stdout.txt").write_text(proc.stdout)
        (root / "stderr.txt").write_text(proc.stderr)
    root = built_once("tiny_run", train)
    return root / "work", types.SimpleNamespace(stdout=(root / "stdout.txt").read_text(),
                                               stderr=(root / "stderr.txt").read_text())


@pytest.fixture(scope="module")
def tiny_run():
    return shared_tiny_run()


def test_outputs_are_complete(tiny_run):
    workdir, proc = tiny_run
    for name in ("config.json", "metrics.json", "predictions.csv", "theta.csv",
                 "confusion_matrix.png", "theta.png", "log", "summary.txt", "curves.csv",
                 "per_subject.csv", "per_class.csv", "learning_curve.pdf", "index.html"):
        assert (workdir / name).is_file(), name
    assert not list(workdir.glob(".*.tmp")), "temporary files left behind"
    metrics = json.loads((workdir / "metrics.json").read_text())
    assert metrics["selection"] == "last_epoch" and metrics["optimistic"] is False
    best = metrics["other_selections"]["best_test_epoch"]
    assert best["optimistic"] is True
    n = metrics["num_samples"]
    assert metrics["headline"]["num_samples"] == n and metrics["num_folds"] == 3
    assert len(metrics["final_theta_deg"]["circular_mean"]) == 2  # one per SOA stage
    rows = list(csv.DictReader(open(workdir / "predictions.csv")))
    assert len(rows) == n and {"p_negative", "p_positive", "p_surprise", "fold"} <= set(rows[0])
    # the headline scores are those of predictions.csv's rows
    names = metrics["class_names"]
    label = np.array([names.index(r["label"]) for r in rows])
    predicted = np.array([names.index(r["prediction"]) for r in rows])
    want = scores(confusion_matrix(label, predicted, len(names)))
    for m in ("uf1", "uar", "accuracy"):
        assert metrics["headline"][m] == pytest.approx(want[m], abs=1e-12), m
    probs = np.array([[float(r[f"p_{c}"]) for c in names] for r in rows])
    assert (probs.argmax(1) == predicted).all()
    theta_rows = list(csv.DictReader(open(workdir / "theta.csv")))
    assert len(theta_rows) == 3 * 2 * 2  # folds x epochs x layers
    # the printed summary: both selections, theta per layer, where the results are
    out = proc.stdout
    assert "last_epoch" in out and "best_test_epoch (OPTIMISTIC)" in out
    assert "logistic regression on flow" in out and "layer 1" in out
    assert str(workdir.resolve()) in out



def _events(directory) -> dict:
    """tag -> {step: value} of the scalars, and '<images>' -> tags, of the event files
    under ``directory`` (TFRecord framing: length, crc, Event proto, crc)."""
    import struct

    from tensorboardX.proto import event_pb2

    found = {"<images>": set()}
    for path in sorted(directory.rglob("events.out.tfevents.*")):
        data = path.read_bytes()
        at = 0
        while at < len(data):
            (length,) = struct.unpack("<Q", data[at:at + 8])
            event = event_pb2.Event.FromString(data[at + 12:at + 12 + length])
            at += 12 + length + 4
            for value in event.summary.value:
                if value.HasField("image"):
                    found["<images>"].add(value.tag)
                elif value.HasField("simple_value"):
                    found.setdefault(value.tag, {})[event.step] = value.simple_value
    return found


def _png_dpi(path) -> float:
    data = path.read_bytes()
    at = data.index(b"pHYs") + 4
    return int.from_bytes(data[at:at + 4], "big") * 0.0254  # pixels per metre -> per inch


def test_the_views_agree_with_the_predictions_and_metrics(tiny_run):
    """curves.csv, per_subject.csv, per_class.csv, the figures, the event files, the log
    and index.html hold what predictions.csv, metrics.json and theta.csv hold."""
    from faceslueth_jax.evaluation import angles

    workdir, proc = tiny_run
    metrics = json.loads((workdir / "metrics.json").read_text())
    names, epochs = metrics["class_names"], metrics["epochs"]
    rows = list(csv.DictReader(open(workdir / "predictions.csv")))
    subjects = {}
    for r in rows:
        seen = subjects.setdefault(r["subject"], [0, 0])
        seen[0] += 1
        seen[1] += r["label"] == r["prediction"]
    per_subject = [r for r in csv.DictReader(open(workdir / "per_subject.csv"))
                   if r["selection"] == "last_epoch"]
    assert {r["aggregate"] for r in per_subject} == {"single_seed"}
    assert {r["subject"]: [int(r["samples"]), int(r["correct"])] for r in per_subject} == subjects
    label = np.array([names.index(r["label"]) for r in rows])
    predicted = np.array([names.index(r["prediction"]) for r in rows])
    recall = scores(confusion_matrix(label, predicted, len(names)))["per_class_recall"]
    pooled = {r["class"]: r for r in csv.DictReader(open(workdir / "per_class.csv"))
              if r["selection"] == "last_epoch" and r["scope"] == "pooled"}
    for k, name in enumerate(names):
        assert int(pooled[name]["support"]) == int((label == k).sum())
        assert float(pooled[name]["recall"] or "nan") == pytest.approx(recall[k], abs=1e-4) \
            if recall[k] is not None else pooled[name]["recall"] == ""
    curves = list(csv.DictReader(open(workdir / "curves.csv")))
    assert [int(r["epoch"]) for r in curves] == list(range(1, epochs + 1))
    loss = np.mean(metrics["loss_per_fold_epoch"], axis=0)
    np.testing.assert_allclose([float(r["train_loss"]) for r in curves], loss, atol=1e-5)
    assert [float(r["learning_curve_uf1"]) for r in curves] == metrics["learning_curve"]["uf1"]
    theta = np.zeros((3, epochs, 2))  # folds x epochs x SOA layers
    theta_rows = list(csv.DictReader(open(workdir / "theta.csv")))
    folds = sorted({r["fold"] for r in theta_rows})
    for r in theta_rows:
        theta[folds.index(r["fold"]), int(r["epoch"]) - 1, int(r["layer"])] = float(r["theta_deg"])
    np.testing.assert_allclose([[float(r[f"theta_layer_{l}"]) for l in range(2)] for r in curves],
                               angles.axial_mean(theta, axis=0), atol=1e-3)
    for stem in ("confusion_matrix", "theta", "learning_curve"):
        assert (workdir / f"{stem}.pdf").read_bytes()[:4] == b"%PDF", stem
        assert _png_dpi(workdir / f"{stem}.png") >= 199, stem
    events = _events(workdir / "tensorboard")
    curve = events["learning_curve_DIAGNOSTIC/uf1"]
    assert [curve[e] for e in range(1, epochs + 1)] == pytest.approx(metrics["learning_curve"]["uf1"])
    assert events["headline/last_epoch/uf1"][epochs] == pytest.approx(metrics["headline"]["uf1"])
    assert events["headline/best_test_epoch_OPTIMISTIC/uf1"][epochs] == pytest.approx(
        metrics["other_selections"]["best_test_epoch"]["uf1"])
    assert sorted(k for k in events if k.startswith("train_loss/fold_group_")) == [
        f"train_loss/fold_group_{c}" for c in range(3)]
    assert {"figures/confusion_matrix", "figures/theta", "figures/learning_curve"} <= events["<images>"]
    assert (workdir / "tensorboard" / "hparams").is_dir()
    log = (workdir / "log").read_text()
    assert sum(f"epoch {e}/{epochs}, chunk" in log for e in range(1, epochs + 1)) == epochs
    assert len([line for line in log.splitlines() if ", chunk " in line]) == 3 * epochs
    assert ", chunk " not in proc.stderr  # the console has the progress bar instead
    summary = (workdir / "summary.txt").read_text()
    assert "worst subjects" in summary
    page = (workdir / "index.html").read_text()
    assert f"{metrics['headline']['uf1']:.4f}" in page and "OPTIMISTIC" in page
    assert "http://" not in page and "https://" not in page  # self-contained
    assert page.count("data:image/png;base64,") == 3 and html.escape(metrics["command"]) in page

def test_rerun_with_another_reported_rule_re_reports(tiny_run, tmp_path):
    """protocol.selection only picks the reported rule: rerunning a finished run with the
    other rule resumes its checkpoints (nothing is compiled or trained again) and keeps
    the training time of the run that trained it."""
    workdir, _ = tiny_run
    before = json.loads((workdir / "metrics.json").read_text())
    copy = tmp_path / "copy"
    shutil.copytree(workdir, copy)
    proc = _run("--config=configs/loso_synthetic.py", f"--workdir={copy}",
                f"--config.data.data_dir={workdir.parent / 'tfds'}",
                "--config.protocol.selection=best_test_epoch", *SHARED_RUN)
    assert proc.returncode == 0, proc.stderr[-4000:]
    after = json.loads((copy / "metrics.json").read_text())
    assert after["selection"] == "best_test_epoch"
    assert after["optimistic"] is True and "OPTIMISTIC" in after["note"]  # labelled so
    assert "OPTIMISTIC" in proc.stdout.splitlines()[3]  # on the headline row
    assert after["headline"] == before["other_selections"]["best_test_epoch"]
    assert after["other_selections"]["last_epoch"] == before["headline"]
    assert after["train_seconds"] == before["train_seconds"]
    assert after["execution"]["resumed_from_step"] == 3 * 2  # every fold's 2 epochs were done
    assert "epoch_program_bytes_per_device" in before["execution"]
    assert "epoch_program_bytes_per_device" not in after["execution"]  # nothing compiled
    assert "rerun_seconds" in after


def test_licensed_database_fails_at_once_with_instructions(tmp_path):
    t0 = time.monotonic()
    proc = _run("--config=configs/loso_casme2.py", f"--workdir={tmp_path / 'w'}", timeout=120)
    assert proc.returncode == 2
    assert "CASME II is licensed" in proc.stderr
    assert "CASME2-coding-*.xlsx" in proc.stderr and "--config.data.manual_dir" in proc.stderr
    assert not (tmp_path / "w").exists(), "no output folder for a run that never started"
    assert time.monotonic() - t0 < 60


def test_composite_without_manual_dir_says_what_to_do(tmp_path):
    proc = _run("--config=configs/loso_composite.py", f"--workdir={tmp_path / 'w'}",
                f"--config.data.data_dir={tmp_path / 'tfds'}", timeout=120)
    assert proc.returncode == 2
    assert "needs --config.data.manual_dir" in proc.stderr and "HTNet" in proc.stderr


def test_a_licensed_database_config_trains_on_its_fixture(tmp_path):
    from tests import database_fixtures as fx
    manual = fx.write_samm(tmp_path / "samm")
    proc = _run("--config=configs/loso_samm.py", f"--workdir={tmp_path / 'w'}",
                f"--config.data.manual_dir={manual}", f"--config.data.data_dir={tmp_path / 'tfds'}",
                "--config.data.build.flow_size=28", "--config.data.build.face_size=48",
                *TINY_RUN[3:], *MOTION_ONLY, "--config.baseline.logistic_regression=False")
    assert proc.returncode == 0, proc.stderr[-4000:]
    with open(tmp_path / "w" / "predictions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    # SAMM's Other is outside the 3 MEGC classes: 7 of the 8 clips, 4 subjects, 4 folds
    assert len(rows) == 7 and {r["dataset"] for r in rows} == {"samm"}
    assert {r["subject"] for r in rows} == {"006", "007", "009", "011"}


def test_lodo_reports_each_held_out_database(tmp_path):
    from tests import fixtures
    manual = fixtures.write_htnet_composite(tmp_path / "htnet")
    proc = _run("--config=configs/lodo_composite.py", f"--workdir={tmp_path / 'w'}",
                f"--config.data.manual_dir={manual}", f"--config.data.data_dir={tmp_path / 'tfds'}",
                *TINY_RUN[3:], *MOTION_ONLY, "--config.train.batch_size=5")  # 5: the largest training set
    assert proc.returncode == 0, proc.stderr[-4000:]
    metrics = json.loads((tmp_path / "w" / "metrics.json").read_text())
    assert metrics["protocol"] == "lodo" and metrics["num_folds"] == 3
    headline = metrics["headline"]
    per_db = headline["per_group"]
    assert set(per_db) == {"casme2", "samm", "smic"}
    assert set(headline["per_fold"]) == set(per_db)  # one fold per held-out database
    for m in ("uf1", "uar"):
        mean = sum(s[m] for s in per_db.values()) / 3
        assert abs(headline["mean_over_groups"][m] - mean) < 1e-12
    assert "mean over databases" in proc.stdout
    assert set(metrics["logistic_regression_baseline"]["per_group"]) == set(per_db)


def test_report_tables_finished_runs(tiny_run, tmp_path):
    workdir, _ = tiny_run
    metrics = json.loads((workdir / "metrics.json").read_text())
    assert metrics["command"].startswith("python run.py --config=configs/loso_synthetic.py")
    out = tmp_path / "table.md"
    proc = subprocess.run([sys.executable, "-m", "faceslueth_jax.evaluation.report", str(workdir),
                           f"--out={out}", "--not_run=FaceSleuth-R paper: no GPU"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = out.read_text().splitlines()
    rows = [line.split(" | ") for line in lines if line.startswith("| [1] | loso_synthetic")]
    assert len(rows) == 2  # one per selection rule, the headline (last epoch) first
    assert rows[0][2:4] == ["FaceSleuth-R", "compact"]
    assert rows[0][6] == "last epoch, seed 0"
    assert rows[1][6] == "best test epoch (OPTIMISTIC), seed 0"
    best = metrics["other_selections"]["best_test_epoch"]
    # each score a short cell; its 95% subject-bootstrap interval on the row's note (k)
    low, high = metrics["headline"]["seeds"]["uf1"]["ci95"]
    assert rows[0][7] == f"{metrics['headline']['uf1']:.4f}" and rows[0][10] == "(1)"
    assert f"- (1) UF1 [{low:.4f}, {high:.4f}]" in "\n".join(lines)
    assert rows[1][8] == f"{best['uar']:.4f}"
    assert rows[0][9] == f"{metrics['headline']['accuracy']:.4f}"
    # 3 subjects: 2 training subjects per fold, so a 2-fold inner CV chooses l2
    assert metrics["logistic_regression_baseline"]["fit"]["inner_folds"] == 2
    assert any(line.startswith("| [1] |  | logistic regression (baseline), l2 by inner CV, "
                               "balanced |") for line in lines)
    assert f"- [1] `{metrics['command']}`" in lines
    assert rows[0][-1].rstrip(" |") == f"{metrics['execution']['host_cpus']}-core CPU"
    assert "| FaceSleuth-R paper |" in out.read_text() and "not run: no GPU" in out.read_text()
    assert "worst subjects of [1]" in proc.stdout  # printed, not in the table
    assert metrics["command"] in out.read_text()
    # a directory that holds no finished run is named, on stderr and under the table of
    # the finished ones; given alone, it is one line and no table is written
    proc = subprocess.run([sys.executable, "-m", "faceslueth_jax.evaluation.report", str(workdir),
                           str(tmp_path / "unfinished"), f"--out={tmp_path / 'two.md'}"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "unfinished: no metrics.json" in proc.stderr
    assert "unfinished: no metrics.json" in (tmp_path / "two.md").read_text()
    proc = subprocess.run([sys.executable, "-m", "faceslueth_jax.evaluation.report",
                           str(tmp_path / "unfinished"), f"--out={tmp_path / 'no.md'}"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "no metrics.json" in proc.stderr
    assert not (tmp_path / "no.md").exists()


def _tree(folder) -> dict:
    """Every file below ``folder``: its bytes' sha256 (the folder's exact content)."""
    import hashlib
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _one_error(proc, status=2) -> str:
    assert proc.returncode == status, proc.stderr[-4000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-4000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, proc.stderr[-4000:]
    return errors[0]


def test_a_rerun_of_another_experiment_is_refused_leaving_the_folder_as_it_was(tiny_run,
                                                                             tmp_path):
    """Another learning rate into a finished run's workdir: refused before anything is
    compiled or written (config.json, log and TensorBoard untouched)."""
    workdir, _ = tiny_run
    copy = tmp_path / "copy"
    shutil.copytree(workdir, copy)
    before = _tree(copy)
    t0 = time.monotonic()
    proc = _run("--config=configs/loso_synthetic.py", f"--workdir={copy}",
                f"--config.data.data_dir={workdir.parent / 'tfds'}", *SHARED_RUN,
                "--config.train.optimizer.lr=1e-3")
    error = _one_error(proc)
    assert "holds a run of another experiment" in error and "train.optimizer.lr" in error
    assert _tree(copy) == before
    assert time.monotonic() - t0 < 60  # refused before compiling (which takes minutes)
    (copy / "experiment.json").unlink()  # a workdir from before experiment.json: config.json
    before = _tree(copy)
    assert "train.optimizer.lr" in _one_error(_run(
        "--config=configs/loso_synthetic.py", f"--workdir={copy}",
        f"--config.data.data_dir={workdir.parent / 'tfds'}", *SHARED_RUN,
        "--config.train.optimizer.lr=1e-3"))
    assert _tree(copy) == before


def test_too_large_a_batch_or_too_few_subjects_is_refused_before_a_workdir(tiny_run, tmp_path):
    workdir, _ = tiny_run
    proc = _run("--config=configs/loso_synthetic.py", f"--workdir={tmp_path / 'w'}",
                f"--config.data.data_dir={workdir.parent / 'tfds'}", *TINY_RUN,
                "--config.train.batch_size=1000000000")
    assert "train.batch_size=1000000000 is larger than the largest training set" in \
        _one_error(proc)
    proc = _run("--config=configs/loso_synthetic.py", f"--workdir={tmp_path / 'w'}",
                f"--config.data.data_dir={workdir.parent / 'tfds'}", *TINY_RUN,
                "--config.data.synthetic.num_subjects=1")
    assert "needs at least two" in _one_error(proc)
    assert not (tmp_path / "w").exists()


def test_a_sweep_that_diverges_publishes_nothing_and_fails(tiny_run, tmp_path):
    """Every fold diverges (lr 1e30): exit 3 and one line; no model folder and no
    metrics.json where a result would be; the files for inspection in DIVERGED/, which
    report does not table."""
    workdir, _ = tiny_run
    run = tmp_path / "runs" / "diverged"
    proc = _run("--config=configs/loso_synthetic.py", f"--workdir={run}",
                f"--config.data.data_dir={workdir.parent / 'tfds'}", *TINY_RUN, *MOTION_ONLY,
                "--config.train.optimizer.lr=1e30")
    error = _one_error(proc, status=3)
    assert "3 of 3 fold models diverged" in error and "DIVERGED" in error
    assert not (run / "model").exists() and not (run / "metrics.json").exists()
    assert json.loads((run / "DIVERGED" / "metrics.json").read_text())["diverged_folds"]
    shutil.copytree(workdir, tmp_path / "runs" / "finished")
    report = subprocess.run([sys.executable, "-m", "faceslueth_jax.evaluation.report",
                             str(tmp_path / "runs")], cwd=REPO, capture_output=True, text=True,
                            timeout=300)
    assert report.returncode == 0, report.stderr[-3000:]
    assert "[1]" in report.stdout and "[2]" not in report.stdout
