"""Shared test fixtures: the ../shared folder that CI has and a user's clone lacks,
and one compilation cache for the whole session."""

from __future__ import annotations

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
# alike). Workers and subprocesses inherit it; ``with_xla_flags`` adds to it.
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


def pytest_configure(config):
    """In the main pytest process (not an xdist worker): one compilation cache folder
    for the whole test run, handed to the workers and every subprocess through the
    environment, so a program compiled by one of them is compiled once."""
    if os.environ.get("PYTEST_XDIST_WORKER") or CACHE_VARIABLE in os.environ:
        return
    config._compile_cache = tempfile.mkdtemp(prefix="faceslueth-jax-compile-cache-")
    os.environ[CACHE_VARIABLE] = config._compile_cache


def pytest_unconfigure(config):
    path = getattr(config, "_compile_cache", None)
    if path:
        os.environ.pop(CACHE_VARIABLE, None)
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def compilation_cache():
    """JAX's persistent compilation cache, shared by the test run's workers and the
    many run.py subprocesses that train the same tiny model (``pytest_configure``).
    Only cached programs are reused, so results are unchanged."""
    path = os.environ[CACHE_VARIABLE]
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
