"""Every experiment config loads, passes the run's checks, and its docstring says the
command that runs it and how long that took (big_vision style)."""

from __future__ import annotations

import importlib

import pytest

from faceslueth_jax.pipeline import checks
from tests.conftest import REPO

HELPERS = {"common", "reference_recipe", "fdp_recipe", "__init__"}  # shared, not experiments
CONFIGS = sorted(p.stem for p in (REPO / "configs").glob("*.py") if p.stem not in HELPERS)


def test_there_are_configs():
    assert {"loso_synthetic", "loso_composite", "htnet_composite", "fdp_synthetic",
            "fdp_casme2"} <= set(CONFIGS)


@pytest.mark.parametrize("name", CONFIGS)
def test_config_loads_and_says_how_to_run_it(name):
    module = importlib.import_module(f"configs.{name}")
    config = module.get_config()
    checks.check_config(config)
    doc = module.__doc__ or ""
    assert f"python run.py --config=configs/{name}.py" in " ".join(doc.replace("\\\n", " ").split())
    assert "to be measured" not in doc
    # a measured time, or why there is none (licensed data not on this project's machines)
    assert any(unit in doc for unit in ("minute", "hour", " min ", " h ", "Not timed here")), \
        f"configs/{name}.py: its docstring gives no run time"
