import jax
import jax.numpy as jnp
import numpy as np

from faceslueth_jax.data import augment


def test_mirror_negates_u_and_all_views_move_together():
    flow = jnp.asarray(np.random.default_rng(0).normal(size=(8, 8, 3)), jnp.float32)
    face = jnp.asarray(np.random.default_rng(1).normal(size=(16, 16, 1)), jnp.float32)
    seen_flip = seen_plain = False
    for seed in range(20):
        out = augment.augment_sample(jax.random.PRNGKey(seed), {"flow": flow, "apex": face}, 0.0)
        if np.allclose(out["flow"], flow):
            seen_plain = True
            np.testing.assert_allclose(out["apex"], face)
        else:
            seen_flip = True
            want = np.asarray(flow)[:, ::-1].copy()
            want[..., 0] *= -1
            np.testing.assert_allclose(out["flow"], want)
            np.testing.assert_allclose(out["apex"], np.asarray(face)[:, ::-1])
    assert seen_flip and seen_plain


def test_translation_is_a_zero_filled_shift():
    img = jnp.arange(16.0).reshape(4, 4, 1)
    shifted = augment._translate(img, jnp.array([1, -1]))
    np.testing.assert_allclose(shifted[1:, :-1, 0], img[:-1, 1:, 0])
    assert float(shifted[0].sum()) == 0.0 and float(shifted[:, -1].sum()) == 0.0


def test_batch_augmentation_differs_per_sample():
    views = {"flow": jnp.ones((6, 10, 10, 3)) * jnp.arange(10.0)[None, None, :, None]}
    out = augment.augment_batch(jax.random.PRNGKey(0), views, 0.2)
    assert len({np.asarray(x).tobytes() for x in out["flow"]}) > 1
