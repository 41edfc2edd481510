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
    "negative epochs": (["--config=configs/loso_synthetic.py", "--config.train.epochs=-3"],
                        "train.epochs must be an integer >= 1, got -3"),
    "batch of none": (["--config=configs/loso_synthetic.py", "--config.train.batch_size=0"],
                      "train.batch_size must be an integer >= 1, got 0"),
    "record side of zero": (["--config=configs/loso_casme2.py", "--config.data.build.face_size=0"],
                            "data.build: face_size must be an integer >= 8 (pixels), got 0"),
}


def test_every_numeric_field_is_checked_against_its_range():
    from configs import loso_synthetic, spot_synthetic
    from faceslueth_jax.pipeline import checks
    for field, least in checks.AT_LEAST.items():
        config = loso_synthetic.get_config()
        if checks._field(config, field) is None:  # a spotting run's field
            config = spot_synthetic.get_config()
        *parents, leaf = field.split(".")
        node = config
        for key in parents:
            node = node[key]
        assert leaf in node, f"{field} is not a config field"
        with config.unlocked():
            node[leaf] = least - 1
        with pytest.raises(checks.ConfigError, match=f"^{field} must be"):
            checks.check_config(config)
    config = loso_synthetic.get_config()
    config.train.optimizer.lr = 0.0
    with pytest.raises(checks.ConfigError, match="train.optimizer.lr must be a number > 0"):
        checks.check_config(config)


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


def test_every_command_module_imports_into_one_process():
    """absl keeps one flag registry per process: two commands defining the same flag
    (a second --config, a second --out) cannot be imported together, as a test run or
    a notebook does. The shared flags live in ``faceslueth_jax.cli``."""
    modules = ["faceslueth_jax.plan", "faceslueth_jax.predict", "faceslueth_jax.reference.convert",
               "faceslueth_jax.evaluation.report", "faceslueth_jax.data.descriptions.__main__",
               "tfds_builders.synthetic_me.write_clip", "faceslueth_jax.analyze",
               "tfds_builders.synthetic_me.write_long_video"]
    code = "import importlib, runpy\n" + "".join(
        f"importlib.import_module({m!r})\n" for m in modules) + (
        "runpy.run_path('run.py', run_name='not_main')\nprint('ok')\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


def test_print_config_shows_the_overrides_applied_and_helpfull_lists_the_fields():
    def run(*args):
        return subprocess.run([sys.executable, "run.py", "--config=configs/loso_synthetic.py",
                               *args], cwd=REPO, capture_output=True, text=True, timeout=300)
    printed = run("--config.train.epochs=7", "--print_config")
    assert printed.returncode == 0, printed.stderr[-2000:]
    assert "epochs: 7" in printed.stdout and "name: loso_synthetic" in printed.stdout
    bad = run("--config.train.epochs=0", "--print_config")
    assert bad.returncode == 2 and "train.epochs must be an integer >= 1" in bad.stderr
    helped = run("--helpfull")
    assert helped.returncode == 0, helped.stderr[-2000:]
    assert "--workdir" in helped.stdout and "print_config" in helped.stdout
    assert "  --config.train.epochs=30  (int)" in helped.stdout
    assert "  --config.model.faceslueth_r.soa.mode=" in helped.stdout or (
        "--config.model.name='faceslueth_r'" in helped.stdout)


# values a config field can hold but that mean nothing: each refused before any data
MEANINGLESS = {
    "train.optimizer.lr": [float("inf"), float("nan"), -1e-3],
    "train.optimizer.theta_lr": [float("nan"), -5.0],
    "train.optimizer.gamma": [float("nan"), -3.0, 1.5],
    "train.optimizer.weight_decay": [float("nan")],
    "train.optimizer.decay_epochs": [0, -1],
    "train.label_smoothing": [float("nan"), 1.0],
    "train.mixup_alpha": [float("nan"), -1.0],
    "train.max_shift_fraction": [50.0, float("nan")],
    "train.max_diverged_share": [1.5, float("nan")],
    "checkpoint.min_seconds": [float("nan"), float("inf")],
    "protocol.seeds": [0],
    "seed": [-1],
    "data.synthetic.num_subjects": [-3, 0],
    "data.face_size": [100000],
    "data.flow_size": [5000],
    "model.faceslueth_r.appearance.drop_path_rate": [1.0, float("nan")],
    "model.faceslueth_r.motion.theta_init_deg": [float("inf")],
}


@pytest.mark.parametrize("field", sorted(MEANINGLESS))
def test_a_meaningless_number_is_refused_naming_its_field(field):
    from configs.loso_synthetic import get_config
    from faceslueth_jax.pipeline import checks
    for value in MEANINGLESS[field]:
        config = get_config()
        *parents, leaf = field.split(".")
        node = config
        for key in parents:
            node = node[key]
        assert leaf in node, f"{field} is not a config field"
        with config.unlocked():
            node[leaf] = value
        with pytest.raises(checks.ConfigError, match=f"^{field}"):
            checks.check_config(config)


def test_every_shipped_config_passes_the_checks():
    """The ranges refuse nothing a shipped config sets (e.g. decay_epochs=0 with gamma=1)."""
    import importlib
    from faceslueth_jax.pipeline import checks
    for path in sorted((REPO / "configs").glob("*.py")):
        module = importlib.import_module(f"configs.{path.stem}")
        if path.stem in ("common", "__init__") or not hasattr(module, "get_config"):
            continue
        checks.check_config(module.get_config())


def _run(*args):
    return subprocess.run([sys.executable, "run.py", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


def _one_error(proc) -> str:
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, proc.stderr[-3000:]
    return errors[0]


def test_an_infinite_learning_rate_is_refused_before_a_workdir(tmp_path):
    error = _one_error(_run("--config=configs/loso_synthetic.py", f"--workdir={tmp_path / 'w'}",
                            "--config.train.optimizer.lr=inf"))
    assert "train.optimizer.lr must be a finite number" in error
    assert not (tmp_path / "w").exists()


@pytest.mark.parametrize("flag,field", [("--seed=3", "--config.seed=3"),
                                        ("--size=64", "--config.data.synthetic.size=64")])
def test_another_commands_flag_is_an_error_naming_the_config_field(flag, field):
    error = _one_error(_run("--config=configs/loso_synthetic.py", flag, "--print_config"))
    assert f"run.py does not take {flag}" in error and field in error
    helped = subprocess.run([sys.executable, "run.py", "--helpfull"], cwd=REPO,
                            capture_output=True, text=True, timeout=300).stdout
    for other in ("--crop", "--fps", "--model", "--out", "--seed", "--size", "--video"):
        assert f"  {other}:" not in helped, other


def test_a_workdir_that_is_a_file_is_refused_untouched(tmp_path):
    workdir = tmp_path / "file"
    workdir.write_text("mine")
    error = _one_error(_run("--config=configs/loso_synthetic.py", f"--workdir={workdir}"))
    assert "is a file, not a folder" in error and workdir.read_text() == "mine"
    error = _one_error(_run("--config=configs/loso_synthetic.py", f"--workdir={workdir}/run"))
    assert "is a file, not a folder" in error


def test_a_folder_that_cannot_be_written_is_refused(tmp_path, monkeypatch):
    """As root every folder is writable, so the write probe is made to fail as it does
    for a user on a read-only folder."""
    from configs.loso_synthetic import get_config
    from faceslueth_jax.pipeline import workdir as workdir_lib

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(workdir_lib.tempfile, "mkstemp", denied)
    with pytest.raises(workdir_lib.WorkdirError, match="cannot be written .Permission denied"):
        workdir_lib.claim(tmp_path, get_config())


def test_a_non_empty_folder_holding_no_run_is_refused(tmp_path):
    from configs.loso_synthetic import get_config
    from faceslueth_jax.pipeline import workdir as workdir_lib
    (tmp_path / "thesis.tex").write_text("")
    with pytest.raises(workdir_lib.WorkdirError, match="holding other files and no run"):
        workdir_lib.claim(tmp_path, get_config())
    workdir_lib.claim(tmp_path / "new", get_config())  # a new folder is fine
