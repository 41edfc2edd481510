"""Whole sweeps through run.py: killed with SIGKILL and resumed, and split over two
``jax.distributed`` processes, each compared with an uninterrupted one-process run."""

from __future__ import annotations

import csv
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.conftest import REPO, with_xla_flags
from tests.test_run import TINY_RUN

# Adam with eps = 1 keeps placements comparable (see tests/tiny_problem.placement_config);
# the Swin stream and head alone: their logits stay within 1e-4 across the two-process
# placement (the motion stream's BatchNorm over 4-channel maps moves them by 7e-4)
SWEEP = TINY_RUN[:3] + ["--config.train.epochs=16", "--config.checkpoint.every_epochs=16",
                        "--config.checkpoint.min_seconds=0", "--config.train.scan_unroll=1",
                        "--config.train.optimizer.eps=1.0",
                        "--config.train.optimizer.lr=0.05"] + TINY_RUN[4:] + [
                        "--config.model.faceslueth_r.use_motion=False"]


# The interrupted sweep saves every 2 epochs (a save is about a second on 2 cores; the
# runs it is compared with save once, at the end: saving never changes the numbers)
EVERY_2_EPOCHS = "--config.checkpoint.every_epochs=2"


def _command(workdir, data_dir, *extra):
    return [sys.executable, "run.py", "--config=configs/loso_synthetic.py",
            f"--workdir={workdir}", f"--config.data.data_dir={data_dir}", *SWEEP, *extra]


def _env(devices: int = 1):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    if devices > 1:
        env = with_xla_flags(env, f"--xla_force_host_platform_device_count={devices}")
    return env


def _run(workdir, data_dir, *extra, devices=1):
    proc = subprocess.run(_command(workdir, data_dir, *extra), cwd=REPO, env=_env(devices),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def _results(workdir):
    """metrics.json without timings and run facts, and predictions.csv's rows."""
    metrics = json.loads((workdir / "metrics.json").read_text())
    for key in ("train_seconds", "wall_seconds", "time_split_seconds", "execution",
                "summary_text", "command"):
        metrics.pop(key, None)
    with open(workdir / "predictions.csv", newline="") as f:
        return metrics, list(csv.DictReader(f))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    _run(root / "work", root / "tfds")
    return root


def _await_checkpoint_after(proc, workdir, step: int) -> None:
    deadline = time.monotonic() + 300
    while not any(p.name.isdigit() and int(p.name) > step
                  for p in (workdir / "checkpoints").glob("*")):
        assert proc.poll() is None and time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.05)


def test_interrupted_and_killed_sweep_resumes_to_the_same_numbers(uninterrupted, tmp_path):
    """Stopped with Ctrl-C (one line, no temporaries), resumed with its data in another
    folder, killed at a random moment, resumed: the uninterrupted sweep's numbers, and
    the training time of every run counted."""
    data_dir, workdir = uninterrupted / "tfds", tmp_path / "work"
    proc = subprocess.Popen(_command(workdir, data_dir, EVERY_2_EPOCHS), cwd=REPO, env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _await_checkpoint_after(proc, workdir, 0)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    last = err.strip().splitlines()[-1]
    assert re.fullmatch(r"interrupted at step \d+; rerun the same command to resume", last), err
    assert not list(workdir.rglob("*orbax-checkpoint-tmp*"))
    interrupted_at = int(last.split()[3].rstrip(";"))

    moved = tmp_path / "mounted_elsewhere"  # the data moved while the job was down
    shutil.copytree(data_dir, moved)
    proc = subprocess.Popen(_command(workdir, moved, EVERY_2_EPOCHS), cwd=REPO, env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _await_checkpoint_after(proc, workdir, interrupted_at)
    seed = random.randrange(1 << 30)
    time.sleep(random.Random(seed).uniform(0.0, 1.5))  # a random moment, saves included
    assert proc.poll() is None, f"the sweep ended before the kill (seed {seed})"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (workdir / "metrics.json").exists()
    newest = max(int(p.name) for p in (workdir / "checkpoints").glob("*") if p.name.isdigit())
    trained_before = json.loads(
        (workdir / "checkpoints" / str(newest) / "progress" / "metadata").read_text())

    _run(workdir, moved, EVERY_2_EPOCHS)
    metrics = json.loads((workdir / "metrics.json").read_text())
    assert metrics["execution"]["resumed_from_step"] == newest, metrics["execution"]  # readable
    assert metrics["train_seconds"] > trained_before["train_seconds"] > 0
    assert _results(workdir) == _results(uninterrupted / "work"), f"kill seed {seed}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _two_processes(workdir, *args):
    """Start run.py as process 0 and 1 of a loopback jax.distributed run, 2 devices each."""
    address = f"127.0.0.1:{_free_port()}"
    procs = [subprocess.Popen(
        [*args, "--config.distributed=True", f"--config.coordinator_address={address}",
         "--config.num_processes=2", f"--config.process_id={i}", f"--workdir={workdir}"],
        cwd=REPO, env=_env(2), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(2)]
    return procs, [p.communicate(timeout=600) for p in procs]


def test_a_build_failure_on_one_process_stops_both(tmp_path):
    from tests import fixtures
    rows = list(fixtures.COMPOSITE_ROWS)
    rows[2] = rows[2][:3] + (7,) + rows[2][4:]  # an unknown label on the CSV's line 4
    manual = fixtures.write_htnet_composite(tmp_path / "htnet", rows=rows)
    procs, outputs = _two_processes(
        tmp_path / "w", sys.executable, "run.py", "--config=configs/loso_composite.py",
        f"--config.data.manual_dir={manual}", f"--config.data.data_dir={tmp_path / 'tfds'}")
    assert [p.returncode for p in procs] == [2, 2], outputs[1][1][-3000:]
    assert "line 4: unknown label '7'" in outputs[0][1]
    assert "failed on another process while being built by process 0" in outputs[1][1]
    assert not (tmp_path / "w").exists()


def test_two_processes_give_the_metrics_of_one(uninterrupted, tmp_path):
    """Two jax.distributed processes with 2 host devices each (a 2 fold x 2 data mesh
    over 4 devices: fold groups on both processes, each batch split over 2 devices)
    against the uninterrupted run of one process on one device."""
    workdir = tmp_path / "two"
    command = _command(workdir, uninterrupted / "tfds")
    procs, outputs = _two_processes(workdir, *[a for a in command if "--workdir" not in a],
                                    "--config.mesh.fold=2", "--config.mesh.data=2")
    for p, (_, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-4000:]
    assert "results:" in outputs[0][0] and "results:" not in outputs[1][0]  # process 0 reports
    execution = json.loads((workdir / "metrics.json").read_text())["execution"]
    assert execution["num_processes"] == 2 and execution["num_devices"] == 4
    assert (execution["fold_groups"], execution["data_parallel"]) == (2, 2)
    one, two = _results(uninterrupted / "work"), _results(workdir)
    assert two[0]["headline"] == one[0]["headline"]
    assert [r["prediction"] for r in two[1]] == [r["prediction"] for r in one[1]]
    p1 = np.array([[float(v) for k, v in r.items() if k.startswith("p_")] for r in one[1]])
    p2 = np.array([[float(v) for k, v in r.items() if k.startswith("p_")] for r in two[1]])
    np.testing.assert_allclose(p2, p1, atol=1e-4)


def test_hosts_decide_saves_by_one_clock_and_refuse_different_data(tmp_path):
    """Process 0's clock decides whether a save is due on both processes (the save is
    collective), and different samples on one host stop both with one line."""
    address = f"127.0.0.1:{_free_port()}"
    procs = [subprocess.Popen([sys.executable, "-m", "tests.hosts_worker", address, str(i),
                               str(tmp_path / "checkpoints")], cwd=REPO, env=_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs[1][1][-3000:]
    decided = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert [d["due"] for d in decided] == [[True, False], [True, False]]
    for d in decided:
        assert d["refusals"][0] is None
        assert d["refusals"][1].startswith("process 1 reads other samples than process 0 "
                                           "(441 against 442")
        assert d["refusals"][2].startswith("process 1 built its data from another source "
                                           "than process 0")
        assert not any("\n" in r for r in d["refusals"][1:])
