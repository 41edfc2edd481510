"""The field's baselines train through run.py, leave a model folder, and classify a new
clip through ``predict``'s library call (its command: tests/test_predict.py), like the project's own model: STSTNet, OFF-ApexNet, SSSNet,
RCN-A, ResNet-18, and the hand-crafted MDMO and LBP-TOP (whose runs also carry the
inner-CV logistic regression on their descriptor). Tiny synthetic data, one epoch: the
property is the wiring."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

import faceslueth_jax
from faceslueth_jax.inference import predict
from tests.conftest import REPO
from tfds_builders.synthetic_me import write_clip

TINY_DATA = ["--config.data.name=synthetic_me", "--config.data.manual_dir=",
             "--config.data.synthetic.num_subjects=3",
             "--config.data.synthetic.clips_per_subject=4", "--config.data.synthetic.size=64",
             "--config.train.epochs=1", "--config.train.batch_size=6"]
RUNS = {  # model: config, its own overrides
    "ststnet": ("ststnet_composite", []),
    "offapexnet": ("offapexnet_composite", ["--config.model.offapexnet.hidden=16"]),
    "sssnet": ("sssnet_composite", ["--config.data.flow_size=16",
                                    "--config.model.sssnet.hidden=16"]),
    "rcn_a": ("rcn_a_composite", ["--config.data.flow_size=24",
                                  "--config.model.rcn_a.features=8"]),
    "resnet18": ("resnet18_composite", ["--config.data.flow_size=16",
                                        "--config.model.resnet18.blocks=(1,1,1,1)",
                                        "--config.model.resnet18.widths=(4,8,8,8)"]),
    "mdmo": ("mdmo_composite", []),
    "lbp_top": ("lbp_top_synthetic", ["--config.data.face_size=16"]),
}


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clip") / "frames"
    folder.mkdir()
    frames, _ = write_clip.make_frames("surprise", seed=1000, size=64)
    for i, f in enumerate(frames):
        assert cv2.imwrite(str(folder / f"img{i}.png"), f)
    return folder


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("tfds")


@pytest.mark.parametrize("model", sorted(RUNS))
def test_the_baseline_trains_and_predicts(model, clip, data_dir, tmp_path):
    config, extra = RUNS[model]
    if model not in ("mdmo", "lbp_top"):  # the networks' runs: no linear model beside them
        extra = [*extra, "--config.baseline.logistic_regression=False"]
    workdir = tmp_path / "work"
    proc = subprocess.run(
        [sys.executable, "run.py", f"--config=configs/{config}.py", f"--workdir={workdir}",
         f"--config.data.data_dir={data_dir}", *TINY_DATA, *extra],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((workdir / "metrics.json").read_text())
    titles = {"rcn_a": "RCN-A", "resnet18": "ResNet-18", "mdmo": "MDMO", "lbp_top": "LBP-TOP",
              "offapexnet": "OFF-ApexNet", "ststnet": "STSTNet", "sssnet": "SSSNet"}
    assert metrics["model"] == titles[model]
    if model in ("mdmo", "lbp_top"):
        fit = metrics["logistic_regression_baseline"]["fit"]
        assert fit["features"] == model and fit["tuning"] in ("inner_cv", "fixed")
        assert f"logistic regression on {metrics['model']}" in (workdir / "summary.txt").read_text()
    # the model folder read back and a new clip classified through it, in this process
    # (its TV-L1 programs compiled once for every model of the file)
    model_folder = faceslueth_jax.restore(workdir / "model")
    results, _ = predict.predict(model_folder, [clip])
    assert [r["clip"] for r in results] == [str(clip)] and "error" not in results[0]
    assert results[0]["predicted"] in metrics["class_names"]
    np.testing.assert_allclose(sum(results[0]["probabilities"].values()), 1.0, rtol=1e-5)
