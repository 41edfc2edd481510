"""Checks a model's own config fields share (``registry.check_config``): each raises a
ValueError naming the field."""

from __future__ import annotations


def positive_ints(prefix: str, **values) -> None:
    """Every value an integer >= 1 (a sequence: every item), named ``prefix.<name>``."""
    for name, value in values.items():
        items = value if isinstance(value, (tuple, list)) else (value,)
        if not items or any(isinstance(v, bool) or not isinstance(v, int) or v < 1
                            for v in items):
            what = "integers" if items is value else "an integer"
            raise ValueError(f"{prefix}.{name} must be {what} >= 1, got {value!r}")
