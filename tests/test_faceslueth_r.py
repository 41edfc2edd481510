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
    c = base_config("t")
    model = build_model(c.model, num_classes=3)
    variables = model.init(jax.random.PRNGKey(0), _views(c, onset=False), train=False)
    assert model.apply(variables, _views(c, onset=False), train=False).shape == (2, 3)
    c.model.faceslueth_r.motion_input = "frame_difference"
    with pytest.raises(ValueError, match="needs onset frames"):
        build_model(c.model, 3).init(jax.random.PRNGKey(0), _views(c, onset=False), train=False)
    c.model.faceslueth_r.motion_input = "optical_flow"
    with pytest.raises(ValueError, match="motion_input"):
        build_model(c.model, 3).init(jax.random.PRNGKey(0), _views(c), train=False)


def test_mismatched_streams_are_reported():
    c = base_config("t")
    c.model.faceslueth_r.motion.strides = (2, 1, 1, 1)  # motion ends at 14x14, appearance at 7x7
    with pytest.raises(ValueError, match="must match for additive fusion"):
        build_model(c.model, 3).init(jax.random.PRNGKey(0), _views(c), train=False)
