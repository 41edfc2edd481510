"""FaceSleuth-R presets: they build, fuse at matching shapes, and expose one theta per stage."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs.common import base_config
from faceslueth_jax.models.motion_stream import soa_angles_deg
from faceslueth_jax.models.registry import from_config as build_model


def _views(c, batch=2, onset=True):
    views = {"flow": jnp.zeros((batch, c.data.flow_size, c.data.flow_size, 3)),
             "apex": jnp.zeros((batch, c.data.face_size, c.data.face_size, 1))}
    if onset:
        views["onset"] = views["apex"]
    return views


@pytest.mark.parametrize("preset, fused", [("compact", (7, 7, 48)), ("paper", (14, 14, 512))])
def test_presets_build_with_matching_stream_shapes(preset, fused):
    c = base_config("t", preset)
    model = build_model(c.model, num_classes=3)
    views = _views(c, batch=1)
    variables = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), views, train=False))
    logits = jax.eval_shape(lambda v: model.apply(v, views, train=False), variables)
    assert logits.shape == (1, 3)
    # the head's first layer sees the flattened fused map
    assert variables["params"]["fc1"]["kernel"].shape == (int(np.prod(fused)), c.model.faceslueth_r.head_widths[0])
    stages = [k for k in variables["params"]["motion"] if k.startswith("stage")]
    assert len(stages) == 4


def test_forward_training_mode_and_theta_readout():
    c = base_config("t")
    model = build_model(c.model, num_classes=3)
    views = _views(c)
    variables = jax.jit(lambda: model.init(jax.random.PRNGKey(0), views, train=False))()
    logits, _ = jax.jit(lambda v: model.apply(v, views, train=True, mutable=["batch_stats"]))(
        variables)
    assert logits.shape == (2, 3) and np.isfinite(np.asarray(logits)).all()
    np.testing.assert_allclose(soa_angles_deg(variables["params"]), [72.0] * 4, atol=1e-4)


def test_apex_only_data_and_frame_difference_input():
    """(Traced, not run: the shapes and the refusals are the trace's.)"""
    c = base_config("t")
    model = build_model(c.model, num_classes=3)
    views = _views(c, onset=False)
    variables = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), views, train=False))
    assert jax.eval_shape(lambda v: model.apply(v, views, train=False), variables).shape == (2, 3)
    c.model.faceslueth_r.motion_input = "frame_difference"
    with pytest.raises(ValueError, match="needs onset frames"):
        jax.eval_shape(lambda: build_model(c.model, 3).init(jax.random.PRNGKey(0), views,
                                                             train=False))
    c.model.faceslueth_r.motion_input = "optical_flow"
    with pytest.raises(ValueError, match="motion_input"):
        jax.eval_shape(lambda: build_model(c.model, 3).init(jax.random.PRNGKey(0), _views(c),
                                                             train=False))


def test_mismatched_streams_are_reported():
    c = base_config("t")
    c.model.faceslueth_r.motion.strides = (2, 1, 1, 1)  # motion ends at 14x14, appearance at 7x7
    with pytest.raises(ValueError, match="must match for additive fusion"):
        jax.eval_shape(lambda: build_model(c.model, 3).init(jax.random.PRNGKey(0), _views(c),
                                                             train=False))


def _params(c):
    views = _views(c)
    model = build_model(c.model, 3)
    return jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), views, train=False))["params"]


def _leaves(tree, prefix=""):
    return {prefix + "/".join(str(getattr(k, "key", k)) for k in path)
            for path, _ in jax.tree_util.tree_leaves_with_path(tree)}


def test_ablation_switches_change_exactly_their_part_of_the_parameter_tree():
    full = _leaves(_params(base_config("t")))
    c = base_config("t")
    c.model.faceslueth_r.motion.soa_mode = "none"
    no_soa = _leaves(_params(c))
    # SOA's angle, squeeze/excite and the carried attention's projections are gone; the
    # residual body of every stage stays, with the same widths
    removed = full - no_soa
    assert no_soa < full
    assert all(("orientation" in p or "/squeeze/" in p or "/excite/" in p or "carry_proj" in p)
               for p in removed)
    assert sum(p.endswith("orientation") for p in removed) == 4
    assert {p for p in full if "conv3x3" in p} <= no_soa

    c = base_config("t")
    c.model.faceslueth_r.use_appearance = False
    no_fpf = _params(c)
    assert "appearance" not in no_fpf and "motion" in no_fpf
    assert _leaves(no_fpf) == {p for p in full if not p.startswith("appearance/")}

    c = base_config("t")
    c.model.faceslueth_r.use_motion = False
    no_motion = _params(c)
    assert "motion" not in no_motion and "appearance" in no_motion
    assert _leaves(no_motion) == {p for p in full if not p.startswith("motion/")}
    assert soa_angles_deg(no_motion).shape == (0,)

    c.model.faceslueth_r.use_appearance = False
    with pytest.raises(ValueError, match="both False"):
        _params(c)
