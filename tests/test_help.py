"""Every command's help: printed on stdout, exit status 0 (absl's own help flags exit 1,
which would stop a user's ``cmd --help && ...``), for --help, -h, --helpshort and
--helpfull, through ``python ...`` and the ``faceslueth-jax`` console script."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO, unavailable

# (how the command is started, a line its help prints, a flag its help lists)
COMMANDS = {
    "run.py": (["run.py"], "Train and evaluate a model", "--workdir"),
    "predict": (["-m", "faceslueth_jax.predict"], "classify clips", "--clip"),
    "analyze": (["-m", "faceslueth_jax.analyze"], "spot and recognise", "--spotter"),
    "plan": (["-m", "faceslueth_jax.plan"], "What a sweep will do on a target", "--target"),
    "report": (["-m", "faceslueth_jax.evaluation.report"], "The results table", "--compare"),
    "convert": (["-m", "faceslueth_jax.reference.convert"], "Convert a PyTorch reference",
                "--from_torch"),
    "descriptions": (["-m", "faceslueth_jax.data.descriptions"], "Record a data set's",
                     "--config"),
    "write_clip": (["-m", "tfds_builders.synthetic_me.write_clip"],
                   "Write one synthetic micro-expression clip", "--frames"),
    "write_long_video": (["-m", "tfds_builders.synthetic_me.write_long_video"],
                         "Write one synthetic long video", "--seconds"),
    "write_photo_videos": (["-m", "tfds_builders.photo_me.write_photo_videos"],
                           "Write the real-photograph spotting set", "--first_seed"),
    "tfds_builders": (["-m", "tfds_builders"], "usage: python -m tfds_builders", "build"),
    "tfds_builders build": (["-m", "tfds_builders", "build"], "--manual_dir", "--on_error"),
}
# the console script's commands: the same help as the module each runs
CONSOLE = {"run": "run.py", "predict": "predict", "analyze": "analyze", "plan": "plan",
           "report": "report", "convert": "convert", "build": "tfds_builders build"}


def _help(args, flag="--help"):
    env = dict(os.environ)
    env.pop("JAX_PLATFORMS", None)  # as a user's shell has it: help must not need it
    return subprocess.run([sys.executable, *args, flag], cwd=REPO, capture_output=True,
                          text=True, timeout=300, env=env)


def _check(proc, line, flag_name):
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-3000:])
    assert line in proc.stdout and flag_name in proc.stdout, proc.stdout[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_exits_0(name):
    args, line, flag_name = COMMANDS[name]
    _check(_help(args), line, flag_name)


@pytest.mark.parametrize("flag", ["-h", "--helpshort", "--helpfull"])
def test_every_help_flag_exits_0(flag):
    """--helpfull lists every flag (no usage text), the others the usage and own flags."""
    for name in ("run.py", "predict"):
        args, line, flag_name = COMMANDS[name]
        _check(_help(args, flag), line if flag != "--helpfull" else "--helpfull", flag_name)


@pytest.mark.parametrize("command", sorted(CONSOLE))
def test_console_commands_help_exits_0(command):
    _, line, flag_name = COMMANDS[CONSOLE[command]]
    _check(_help(["-m", "faceslueth_jax", command]), line, flag_name)


def test_console_help_lists_the_commands_and_a_wrong_one_is_one_line():
    proc = _help(["-m", "faceslueth_jax"])
    assert proc.returncode == 0, proc.stderr
    for command in CONSOLE:
        assert f"  {command} " in proc.stdout, proc.stdout
    wrong = subprocess.run([sys.executable, "-m", "faceslueth_jax", "train"], cwd=REPO,
                           capture_output=True, text=True, timeout=300)
    assert wrong.returncode == 2 and wrong.stderr.startswith("error: "), wrong.stderr
    bare = subprocess.run([sys.executable, "-m", "faceslueth_jax"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert bare.returncode == 2 and "usage: faceslueth-jax" in bare.stderr


def test_console_errors_name_the_console_command():
    """A flag of another command, through the console: the error names the command as
    the user typed it."""
    proc = subprocess.run([sys.executable, "-m", "faceslueth_jax", "run",
                           "--config=configs/loso_synthetic.py", "--seed=3", "--print_config"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "error: faceslueth-jax run does not take --seed=3" in proc.stderr, proc.stderr


def test_the_installed_script():
    if shutil.which("faceslueth-jax") is None:
        unavailable("the faceslueth-jax script is not installed (pip install -e ., as "
                    "requirements.txt does)")
    proc = subprocess.run(["faceslueth-jax", "plan", "--help"], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    _check(proc, *COMMANDS["plan"][1:])


def test_predict_and_analyze_answer_help_without_loading_jax():
    """Their help, and a flag they refuse, come before jax is imported (seconds saved
    on every --help); the work itself imports it."""
    proc = subprocess.run([sys.executable, "-c", "import sys, faceslueth_jax.predict, "
                           "faceslueth_jax.analyze; print(sorted({'jax', 'flax', 'cv2'} & "
                           "set(sys.modules)))"], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", (proc.stdout, proc.stderr)
