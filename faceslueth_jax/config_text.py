"""A config as text for a reader (``run.py --print_config``): YAML without Python tags.

``config_text(config)`` renders a ``ConfigDict`` (or a plain dict) as block YAML, one
field a line, keys sorted, every tuple as a flow list ``[a, b]`` (never
``!!python/tuple``) and any other value YAML cannot name as its text, so
``yaml.safe_load`` reads the result back. Fields that are easily confused carry a
comment: a config has two pairs of image sides, ``data.flow_size``/``face_size`` (what
the model takes) and ``data.build.flow_size``/``face_size`` (what a licensed
database's builder stores in its records; ``configs/common.py``).
"""

from __future__ import annotations

from collections.abc import Mapping

import yaml

# comment lines above the fields, when the config has both pairs of sides
SIDES_NOTE = (
    "# image sides (px): data.flow_size, data.face_size are the model's inputs, resized from",
    "# the records; data.build.flow_size, data.build.face_size are the sides stored in the",
    "# records by a licensed database's builder (synthetic records: data.synthetic.size)")
# a comment at the end of a field's line
NOTES = {
    "data.flow_size": "the model's input, resized from the records",
    "data.face_size": "the model's input, resized from the records",
    "data.build.flow_size": "the side a licensed database's builder stores",
    "data.build.face_size": "the side a licensed database's builder stores",
}


def _plain(value):
    """``value`` as YAML's safe types: mappings, lists, str, int, float, bool, None."""
    if value is None:
        return None
    for kind in (bool, int, float, str):  # subclasses (an IntEnum, a str enum) as the base
        if isinstance(value, kind):
            return kind(value) if kind is not str else str.__str__(value)
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [_plain(v) for v in items]
    if hasattr(value, "item") and callable(value.item):  # a numpy scalar
        try:
            return _plain(value.item())
        except (TypeError, ValueError):
            pass
    return str(value)


def _flow(value) -> str:
    """One value on one line (a flow-style YAML node)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=float("inf"),
                          allow_unicode=True, sort_keys=True)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def _lines(tree: dict, depth: int, prefix: str) -> list:
    lines = []
    for key in sorted(tree):
        value, path, pad = tree[key], f"{prefix}{key}", "  " * depth
        if isinstance(value, dict) and value:
            lines.append(f"{pad}{_flow(key)}:")
            lines += _lines(value, depth + 1, f"{path}.")
            continue
        line = f"{pad}{_flow(key)}: {_flow(value)}"
        if path in NOTES:
            line += f"  # {NOTES[path]}"
        lines.append(line)
    return lines


def _has(tree: dict, dotted: str) -> bool:
    for key in dotted.split("."):
        if not isinstance(tree, dict) or key not in tree:
            return False
        tree = tree[key]
    return True


def config_text(config) -> str:
    """``config`` as readable YAML text, ending in a newline (module docstring)."""
    tree = _plain(config)
    if not isinstance(tree, dict):
        raise TypeError(f"a config is a ConfigDict or a mapping, not {type(config).__name__}")
    both = _has(tree, "data.flow_size") and _has(tree, "data.build.flow_size")
    head = list(SIDES_NOTE) if both else []
    return "\n".join(head + _lines(tree, 0, "")) + "\n"
