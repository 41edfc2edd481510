"""Shared test fixtures: the ../shared folder that CI has and a user's clone lacks."""

from __future__ import annotations

import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED = pathlib.Path(os.environ.get("FACESLUETH_SHARED", REPO.parent / "shared"))


def shared_path(*parts: str) -> pathlib.Path:
    """A path under ../shared, or skip the test saying what is missing.

    CI runs with ../shared beside the clone; there these tests must run, so
    under CI=true a missing folder is a failure, not a skip.
    """
    path = SHARED.joinpath(*parts)
    if not path.exists():
        reason = (f"{path} is absent: it holds licensed data / reference outputs "
                  "that only the project's CI machines carry")
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path
