"""Whole sweeps through run.py: killed with SIGKILL and resumed, and split over two
``jax.distributed`` processes, each compared with an uninterrupted one-process run."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.conftest import REPO
from tests.test_run import TINY_RUN

# Adam with eps = 1 keeps placements comparable (see tests/tiny_problem.placement_config)
SWEEP = TINY_RUN[:3] + ["--config.train.epochs=8", "--config.checkpoint.every_epochs=1",
                        "--config.checkpoint.min_seconds=0", "--config.train.scan_unroll=1",
                        "--config.train.optimizer.eps=1.0",
                        "--config.train.optimizer.lr=0.05"] + TINY_RUN[4:]


def _command(workdir, data_dir, *extra):
    return [sys.executable, "run.py", "--config=configs/loso_synthetic.py",
            f"--workdir={workdir}", f"--config.data.data_dir={data_dir}", *SWEEP, *extra]


def _env(devices: int = 1):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    if devices > 1:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
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


def test_sigkilled_sweep_resumes_to_the_same_numbers(uninterrupted, tmp_path):
    data_dir, workdir = uninterrupted / "tfds", tmp_path / "work"
    proc = subprocess.Popen(_command(workdir, data_dir), cwd=REPO, env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (workdir / "checkpoints" / "1").is_dir():  # the first epoch is saved
        assert proc.poll() is None and time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.05)
    seed = random.randrange(1 << 30)
    time.sleep(random.Random(seed).uniform(0.0, 3.0))  # a random moment, saves included
    assert proc.poll() is None, f"the sweep ended before the kill (seed {seed})"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (workdir / "metrics.json").exists()

    _run(workdir, data_dir)
    resumed = json.loads((workdir / "metrics.json").read_text())["execution"]
    assert resumed["resumed_from_step"] >= 1, resumed
    assert _results(workdir) == _results(uninterrupted / "work"), f"kill seed {seed}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _two_processes(workdir, *args):
    """Start run.py as process 0 and 1 of a loopback jax.distributed run, 4 devices each."""
    address = f"127.0.0.1:{_free_port()}"
    procs = [subprocess.Popen(
        [*args, "--config.distributed=True", f"--config.coordinator_address={address}",
         "--config.num_processes=2", f"--config.process_id={i}", f"--workdir={workdir}"],
        cwd=REPO, env=_env(4), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
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
    """Two jax.distributed processes with 4 host devices each (a 4 fold x 2 data mesh
    over 8 devices) against the uninterrupted run of one process on one device."""
    workdir = tmp_path / "two"
    command = _command(workdir, uninterrupted / "tfds")
    procs, outputs = _two_processes(workdir, *[a for a in command if "--workdir" not in a])
    for p, (_, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-4000:]
    assert "results:" in outputs[0][0] and "results:" not in outputs[1][0]  # process 0 reports
    execution = json.loads((workdir / "metrics.json").read_text())["execution"]
    assert execution["num_processes"] == 2 and execution["num_devices"] == 8
    assert (execution["fold_groups"], execution["data_parallel"]) == (4, 2)
    one, two = _results(uninterrupted / "work"), _results(workdir)
    assert two[0]["headline"] == one[0]["headline"]
    assert [r["prediction"] for r in two[1]] == [r["prediction"] for r in one[1]]
    p1 = np.array([[float(v) for k, v in r.items() if k.startswith("p_")] for r in one[1]])
    p2 = np.array([[float(v) for k, v in r.items() if k.startswith("p_")] for r in two[1]])
    np.testing.assert_allclose(p2, p1, atol=1e-4)
