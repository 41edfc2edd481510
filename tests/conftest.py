"""Shared test fixtures: the ../shared folder that CI has and a user's clone lacks,
one compilation cache and one folder of runs built once (``built_once``) for the whole
session, and the order the workers take the test files in."""

from __future__ import annotations

import fcntl
import os
import pathlib
import shutil
import tempfile

# the tests run on the CPU; where libtpu is installed (CI, for the TPU compile test),
# plain jax would otherwise probe for a TPU and hold libtpu's lock file
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# XLA:CPU without its LLVM optimisation passes: the tests' programs are tiny and each is
# compiled once, so compiling is most of their time and this makes it a third shorter
# (the same operations, in another float order; every test compares programs compiled
# alike). Workers and subprocesses inherit it; ``with_xla_flags`` adds to it. Not also
# --xla_cpu_use_fusion_emitters=false: with this flag it compiles the tiny FaceSleuth-R
# in 8.7 s instead of 14.1 s, but computes TV-L1 wrongly (identical frames: flow 0.075
# px, not 0; tests/test_tvl1.py fails).
TEST_XLA_FLAGS = "--xla_backend_optimization_level=0"
if TEST_XLA_FLAGS not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {TEST_XLA_FLAGS}".strip()


def optimised_env() -> dict:
    """The environment without ``TEST_XLA_FLAGS``: for subprocesses whose time is running
    TV-L1 flows over hundreds of frames (analyze, spotting runs), not compiling."""
    flags = os.environ.get("XLA_FLAGS", "").replace(TEST_XLA_FLAGS, "").strip()
    return dict(os.environ, XLA_FLAGS=flags)


def with_xla_flags(env: dict, *flags: str) -> dict:
    """``env`` with ``flags`` added to its XLA_FLAGS (the tests' own kept)."""
    return dict(env, XLA_FLAGS=" ".join([env.get("XLA_FLAGS", ""), *flags]).strip())

import jax  # noqa: E402
import pytest  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = pathlib.Path(os.environ.get("FACESLUETH_SHARED", REPO.parent / "shared"))


# What CI cannot provide, and why; a test needing anything else fails under CI=true
# instead of skipping (``unavailable``).
NOT_IN_CI = {
    "torch": "PyTorch is not among the requirements (the JAX code never needs it); CI "
             "compares with the PyTorch reference through its recorded outputs in "
             "../shared/golden instead",
    "reference checkout": "the PyTorch reference's code is not the project's to copy into "
                          "CI; tests/test_reference_parity.py::test_golden_reference_logits "
                          "checks its recorded outputs there",
}


def unavailable(reason: str, missing: str = "") -> None:
    """Skip the test for ``reason``; under CI=true fail instead, unless ``missing`` is
    one of NOT_IN_CI (CI lacks it by design), whose note then joins the reason."""
    if missing in NOT_IN_CI:
        pytest.skip(f"{reason} ({NOT_IN_CI[missing]})", allow_module_level=True)
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason, allow_module_level=True)  # also for a whole module


def shared_path(*parts: str) -> pathlib.Path:
    """A path under ../shared, or skip the test saying what is missing (CI runs with
    ../shared beside the clone: there a missing folder fails)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        unavailable(f"{path} is absent: it holds licensed data / reference outputs "
                    "that only the project's CI machines carry")
    return path


CACHE_VARIABLE = "FACESLUETH_TEST_COMPILE_CACHE"  # set by the main pytest process
SHARED_VARIABLE = "FACESLUETH_TEST_SHARED"  # likewise: what built_once builds


def pytest_configure(config):
    """In the main pytest process (not an xdist worker): one folder for the whole test
    run, handed to the workers and every subprocess through the environment, holding
    the compilation cache (a program compiled by one of them is compiled once; a
    cache folder of your own in FACESLUETH_TEST_COMPILE_CACHE is kept) and what
    ``built_once`` builds (always the run's own)."""
    if os.environ.get("PYTEST_XDIST_WORKER") or SHARED_VARIABLE in os.environ:
        return
    config._test_run_folder = tempfile.mkdtemp(prefix="faceslueth-jax-tests-")
    os.environ.setdefault(CACHE_VARIABLE, os.path.join(config._test_run_folder, "compile-cache"))
    os.environ[SHARED_VARIABLE] = os.path.join(config._test_run_folder, "shared")


def pytest_unconfigure(config):
    path = getattr(config, "_test_run_folder", None)
    if path:
        if os.environ.get(CACHE_VARIABLE, "").startswith(path):
            os.environ.pop(CACHE_VARIABLE, None)
        os.environ.pop(SHARED_VARIABLE, None)
        shutil.rmtree(path, ignore_errors=True)


def built_once(name: str, build) -> pathlib.Path:
    """The folder ``name`` shared by every worker of the test run, made by
    ``build(folder)`` for the first test that asks (the others wait on a file lock)
    and read by all after it: one training run for the test files that only read its
    outputs. A failed build leaves nothing, so the next test that asks builds again.
    Tests must not change what it holds (copy it first)."""
    root = pathlib.Path(os.environ[SHARED_VARIABLE])
    root.mkdir(parents=True, exist_ok=True)
    folder, done = root / name, root / f"{name}.done"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            try:
                build(folder)
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
            done.touch()
    return folder


# The test files that take longest (``--durations``, 2 workers), in the order the
# workers start them: longest first, so that both workers end together instead of one
# waiting on the other's last long file; the rest follow in their own order
# (pytest.ini turns off xdist's ordering by number of tests). test_run.py trains the
# run test_predict.py reads (``built_once``): it starts first, test_predict.py later.
LONGEST_FIRST = ("test_run.py", "test_accelerators.py", "test_sweeps.py",
                 "test_baseline_models_run.py", "test_predict.py", "test_analyze.py",
                 "test_nested.py", "test_fold_trainer.py", "test_cli_errors.py",
                 "test_spotting_run.py", "test_checkpoints.py", "test_fold_step.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: files whole


@pytest.fixture(scope="session", autouse=True)
def compilation_cache():
    """JAX's persistent compilation cache, shared by the test run's workers and the
    many run.py subprocesses that train the same tiny model (``pytest_configure``).
    Only cached programs are reused, so results are unchanged."""
    path = os.environ[CACHE_VARIABLE]
    os.makedirs(path, exist_ok=True)
    previous = os.environ.get("JAX_COMPILATION_CACHE_DIR")
    previous_min = os.environ.get("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = path
    jax.config.update("jax_compilation_cache_dir", path)
    # in the subprocesses (run.py and the commands) every program, not only those over a
    # second to compile: each would compile its dozen small ones (resizes, PRNG,
    # predictions) again. Not in the workers: their eager operations would each be
    # written to the cache, which costs more than it saves.
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    yield path
    jax.config.update("jax_compilation_cache_dir", previous)
    for name, value in (("JAX_COMPILATION_CACHE_DIR", previous),
                        ("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", previous_min)):
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
