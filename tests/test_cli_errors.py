"""What a new user mistypes reaches them as one line ``error: ...`` with exit 2, before
any data is built or anything is written."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO

CASES = {
    "missing config file": (["--config=configs/no_such_config.py"],
                            "cannot load --config=configs/no_such_config.py"),
    "typo in an override key": (["--config=configs/loso_synthetic.py", "--config.train.epoch=3"],
                                'no config field epoch; Did you mean "epochs"'),
    "unknown section": (["--config=configs/loso_synthetic.py", "--config.nope.x=3"],
                        "no config field nope"),
    "bad value of a choice": (["--config=configs/loso_synthetic.py",
                               "--config.protocol.selection=best"],
                              "protocol.selection must be one of"),
    "value of the wrong type": (["--config=configs/loso_synthetic.py",
                                 "--config.train.epochs=abc"], "--config.train.epochs=abc"),
    "unknown preset": (["--config=configs/loso_synthetic.py:bogus"],
                       "unknown model preset 'bogus'"),
    "model field of another model": (["--config=configs/loso_synthetic.py",
                                      "--config.model.faceslueth_r.motion_input=optical"],
                                     "model.faceslueth_r.motion_input must be one of"),
    "no config": ([], "--config is required"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_one_line_error_and_exit_2(case, tmp_path):
    args, expected = CASES[case]
    workdir = tmp_path / "run"
    proc = subprocess.run([sys.executable, "run.py", *args, f"--workdir={workdir}"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and expected in errors[0], proc.stderr[-3000:]
    assert not workdir.exists()
