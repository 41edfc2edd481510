"""The usage text of the commands says what their flags do: defaults as defined."""

from __future__ import annotations

import re


def test_analyze_usage_line_shows_the_default_threshold():
    from faceslueth_jax import analyze
    from faceslueth_jax.inference import analyze as analysis
    usage = analyze.__doc__.split("\n\n")[1]
    assert f"[--z={analysis.DEFAULT_Z:g}]" in usage, usage
    assert analyze.FLAGS["z"].default == analysis.DEFAULT_Z
    assert "DEFAULT_Z" not in analyze.__doc__


def test_plan_docstring_and_target_help_name_the_same_target_forms():
    from faceslueth_jax import plan
    forms = [f.strip() for f in plan.FLAGS["target"].help.split("|")]
    assert "gpu:KIND:N[xHOSTS]" in forms
    doc = " ".join(plan.__doc__.split())
    for form in forms:
        assert f"``{form}``" in doc, form
    assert not re.search(r"N\[x(?!HOSTS\])", doc)  # one spelling of the hosts' count
