import jax
import jax.numpy as jnp
import numpy as np
import pytest

from faceslueth_jax.data import augment, records


@pytest.mark.parametrize("flow_norm", ["minmax", "none"])
def test_mirror_matches_mirroring_the_raw_flow_then_normalising(flow_norm):
    """Augmenting prepared flow = preparing the mirrored raw flow (u -> -u, x -> W-1-x)."""
    rng = np.random.default_rng(0)
    raw = rng.normal(size=(1, 8, 8, 3)).astype(np.float32)
    raw_mirror = raw[:, :, ::-1].copy()
    raw_mirror[..., 0] *= -1

    def prepare(flow):
        data = records.MEData(views={"flow": flow}, label=np.zeros(1, np.int32),
                              subject=np.array(["s"]), dataset=np.array(["d"]),
                              sample_id=np.array(["x"]), class_names=("a",))
        return records.prepare(data, 8, 8, flow_norm).views["flow"][0]

    offset = records.u_mirror_offset(flow_norm)
    face = jnp.asarray(rng.normal(size=(16, 16, 1)), jnp.float32)
    seen = set()
    for seed in range(20):
        out = augment.augment_sample(jax.random.PRNGKey(seed),
                                     {"flow": jnp.asarray(prepare(raw)), "apex": face}, 0.0,
                                     offset)
        flipped = not np.allclose(out["flow"], prepare(raw), atol=1e-6)
        seen.add(flipped)
        want = prepare(raw_mirror) if flipped else prepare(raw)
        np.testing.assert_allclose(out["flow"], want, atol=1e-5)
        np.testing.assert_allclose(out["apex"], np.asarray(face)[:, ::-1] if flipped else face)
    assert seen == {True, False}


def test_translation_replicates_the_border():
    img = jnp.arange(16.0).reshape(4, 4, 1)
    shifted = augment._translate(img, jnp.array([1, -1]), max_shift=2)
    np.testing.assert_allclose(shifted[1:, :-1, 0], img[:-1, 1:, 0])
    np.testing.assert_allclose(shifted[0, :-1, 0], img[0, 1:, 0])  # top row repeated
    np.testing.assert_allclose(shifted[1:, -1, 0], img[:-1, -1, 0])  # right column repeated


def test_batch_augmentation_differs_per_sample():
    views = {"flow": jnp.ones((6, 10, 10, 3)) * jnp.arange(10.0)[None, None, :, None]}
    out = augment.augment_batch(
        jax.random.split(jax.random.PRNGKey(0), len(views["flow"])), views, 0.2, 1.0)
    assert len({np.asarray(x).tobytes() for x in out["flow"]}) > 1
