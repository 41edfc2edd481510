"""The config as ``run.py --print_config`` shows it (``faceslueth_jax.config_text``):
YAML a reader (and ``yaml.safe_load``) can read, without Python tags, and the two
pairs of image sides told apart."""

from __future__ import annotations

import importlib

import ml_collections
import pytest
import yaml

from faceslueth_jax.config_text import config_text
from tests.conftest import REPO

CONFIGS = sorted(p.stem for p in (REPO / "configs").glob("*.py")
                 if hasattr(importlib.import_module(f"configs.{p.stem}"), "get_config"))


def _lists(value):
    """``value`` with every tuple a list, as YAML reads a flow sequence back."""
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_lists(v) for v in value]
    return value


def test_every_experiment_config_is_listed():
    assert {"loso_synthetic", "spot_synthetic", "htnet_composite"} <= set(CONFIGS)


@pytest.mark.parametrize("name", CONFIGS)
def test_config_text_has_no_python_tags_and_reads_back(name):
    config = importlib.import_module(f"configs.{name}").get_config()
    text = config_text(config)
    assert "!!python" not in text and "!!" not in text
    assert yaml.safe_load(text) == _lists(config.to_dict())
    data = config.get("data", {})
    if "flow_size" in data and "flow_size" in data.get("build", {}):
        assert "data.build.flow_size, data.build.face_size are the sides" in text
    for side in ("flow_size", "face_size"):
        if side in data.get("build", {}):
            assert f"  {side}: {data.build[side]}  # the side a licensed database's builder " \
                   "stores" in text


def test_the_two_pairs_of_sides_are_told_apart():
    config = importlib.import_module("configs.loso_synthetic").get_config()
    lines = config_text(config).splitlines()
    assert lines[0].startswith("# image sides (px): data.flow_size, data.face_size are the "
                               "model's inputs")
    data = lines.index("data:")
    build = lines.index("  build:", data)
    stored = [line for line in lines[build:] if line.startswith("    flow_size: ")][0]
    model = [line for line in lines[data:] if line.startswith("  flow_size: ")][0]
    assert stored.endswith("# the side a licensed database's builder stores")
    assert model.endswith("# the model's input, resized from the records")
    assert f"  flow_size: {config.data.flow_size}  #" in model


def test_tuples_are_flow_lists_and_odd_values_are_text():
    import enum

    class Colour(enum.IntEnum):
        RED = 1

    config = ml_collections.ConfigDict(dict(
        names=("casme2", "samm"), empty=(), nested=dict(widths=(4, (8, 16))), colour=Colour.RED,
        note="a: b", nothing=None, flag=True))
    text = config_text(config)
    assert "names: [casme2, samm]" in text and "empty: []" in text
    assert "  widths: [4, [8, 16]]" in text and "colour: 1" in text
    assert yaml.safe_load(text) == {"names": ["casme2", "samm"], "empty": [], "colour": 1,
                                    "nested": {"widths": [4, [8, 16]]}, "note": "a: b",
                                    "nothing": None, "flag": True}
    assert not text.startswith("#")  # no sides, no note on them
