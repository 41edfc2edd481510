"""FDP: rank pooling and the dynamic image, the model's outputs and sown loss, the
``frames`` records (builders, preparation, augmentation) and the configs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
import tensorflow_datasets as tfds

from configs import fdp_casme2, fdp_synthetic
from faceslueth_jax.data import augment, records
from tfds_builders.synthetic_me import synthetic_faces
from faceslueth_jax.models.dynamic_image import dynamic_image, rank_pooling_weights
from faceslueth_jax.models import fdp
from faceslueth_jax.preprocess import face, frames as frames_lib
from tests import database_fixtures as fx
from tfds_builders.casme2 import Casme2
from tfds_builders.features import clip_frame_numbers
from tfds_builders.me_database import MEConfig
from tfds_builders.synthetic_me import SyntheticMe

# One local and one global block (XLA's CPU compile time grows with every block):
# 32x32 frames -> 8x8 after the stem and stage 0 -> 4x4 after the global stage.
TINY_ENCODER = dict(stem_widths=(4, 4, 8), depths=(1, 0, 0, 1), dims=(8, 8, 16, 16),
                    global_dims=(8, 8, 16, 16), global_every=(0, 0, 0, 1),
                    sr_ratios=(2, 2, 1, 2), head_dim=8, mlp_ratio=2.0)


def n_params(tree) -> int:
    return sum(int(np.prod(a.shape)) for a in jax.tree_util.tree_leaves(tree))


# ------------------------------------------------------------ dynamic image

def test_rank_pooling_weights_are_fdps():
    np.testing.assert_allclose(rank_pooling_weights(8),
                               [-8.46, -1.46, 1.04, 2.04, 2.29, 2.09, 1.59, 0.875], atol=0.006)
    t = 5  # fw[n] = sum_{i=n+1..T} (2i - T - 1) / i, n from 0
    want = [sum((2 * i - t - 1) / i for i in range(n + 1, t + 1)) for n in range(t)]
    np.testing.assert_allclose(rank_pooling_weights(t), want, rtol=1e-6)


def test_dynamic_image_of_a_linear_ramp_clip():
    """x_n(p) = a + n g(p): d = (sum_n n fw[n]) g + const, and sum_n n fw[n] > 0, so
    DI is g min-max normalised; the offset a and the frames' scale drop out."""
    assert float(np.dot(np.arange(8), rank_pooling_weights(8))) > 0
    g = np.tile(np.linspace(0.0, 3.0, 16, dtype=np.float32), (16, 1))[..., None]  # (16, 16, 1)
    clip = np.stack([10.0 + n * g for n in range(8)])[None]                     # (1, 8, 16, 16, 1)
    di = np.asarray(dynamic_image(jnp.asarray(clip)))
    np.testing.assert_allclose(di[0], g / 3.0, atol=1e-5)
    np.testing.assert_allclose(np.asarray(dynamic_image(jnp.asarray(2 * clip - 1))), di, atol=1e-5)
    still = np.asarray(dynamic_image(jnp.ones((2, 8, 4, 4, 1))))
    assert still.shape == (2, 4, 4, 1) and np.all(still == 0)


# -------------------------------------------------------------------- model

def tiny_model(num_classes=3, **kw) -> fdp.FDP:
    return fdp.FDP(num_classes=num_classes, encoder=TINY_ENCODER, rank_heads=2,
                   head_hidden=16, decoder_dims=(8, 8), **kw)


def quick_variables(model, views) -> dict:
    """Variables of ``model.init``'s shapes without running it (compiling the
    initialisers' random number generation takes XLA's CPU backend ~20 s): weights
    N(0, 0.1^2), BatchNorm means 0 and variances 1."""
    shapes = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), views, train=False))
    rng = np.random.default_rng(0)

    def fill(path, s):
        if getattr(path[-1], "key", None) == "var":
            return jnp.ones(s.shape, s.dtype)
        if getattr(path[-1], "key", None) == "mean":
            return jnp.zeros(s.shape, s.dtype)
        return jnp.asarray(0.1 * rng.normal(size=s.shape), s.dtype)
    return jax.tree_util.tree_map_with_path(fill, shapes)


def test_model_shapes_and_the_sown_loss_is_per_sample_100_mse():
    model = tiny_model(dropout=0.5)
    # 32x32 frames keep the test fast (the decoder still goes 8 -> 32)
    frames = jax.random.uniform(jax.random.PRNGKey(1), (3, 8, 32, 32, 1), minval=-1, maxval=1)
    views = {"frames": frames, "flow": jnp.zeros((3, 28, 28, 3))}  # other views are ignored
    variables = quick_variables(model, views)
    assert "decoder" in variables["params"]  # created at init although eval skips it

    logits, state = jax.jit(lambda v, x: model.apply(
        v, x, train=True, rngs={"dropout": jax.random.PRNGKey(2)},
        mutable=["batch_stats", "losses", "intermediates"],
        capture_intermediates=lambda m, _: isinstance(m, fdp.DynamicImageDecoder)))(
            variables, views)
    assert logits.shape == (3, 3)
    (loss,) = state["losses"][fdp.AUX_LOSS_NAME]
    assert loss.shape == (3,)
    (decoded,) = state["intermediates"]["decoder"]["__call__"]
    assert decoded.shape == (3, 32, 32, 1) and 0 <= decoded.min() and decoded.max() <= 1
    want = 100.0 * jnp.mean((decoded - dynamic_image(frames)) ** 2, axis=(1, 2, 3))
    np.testing.assert_allclose(loss, want, rtol=1e-5)

    eval_logits, eval_state = jax.jit(lambda v, x: model.apply(
        v, x, train=False, mutable=["batch_stats", "losses"]))(variables, views)
    assert eval_logits.shape == (3, 3) and not eval_state.get("losses")
    with pytest.raises(ValueError, match="clip_frames"):
        model.apply(variables, {"flow": views["flow"]}, train=False)


def test_rank_scorer_starts_as_rank_pooling_and_scores_each_frame():
    x = jnp.zeros((2, 8, 2, 2, 4))  # zero features: the scores are the per-frame offsets
    scorer = fdp.RankScorer(rank_heads=3)
    variables = scorer.init(jax.random.PRNGKey(0), x)
    scores = scorer.apply(variables, x)
    fw = rank_pooling_weights(8)
    np.testing.assert_allclose(scores[0, :, 0, 0, 0], fw / np.abs(fw).max(), rtol=1e-6)
    # the 3D kernel runs over frames: (frames 3) x 3 x 3 x C -> R
    assert variables["params"]["conv3d"]["kernel"].shape == (3, 3, 3, 4, 3)
    feats = jax.random.normal(jax.random.PRNGKey(3), (2, 8, 2, 2, 4))
    pooled = fdp.temporal_pool(scores, feats)
    want = np.einsum("t,btc->bc", fw / np.abs(fw).max(), np.asarray(feats[:, :, 1, 0])) / 8
    np.testing.assert_allclose(pooled[:, 1, 0, 0], want, rtol=1e-5)


def test_rank_init_pools_a_still_clip_to_zero_where_random_init_keeps_its_appearance():
    """fw sums to zero over the frames, so rank pooling removes what all frames share; the
    randomly drawn 3D kernel adds scores that do not, and lets the appearance through."""
    feats = jax.random.normal(jax.random.PRNGKey(4), (2, 8, 2, 2, 4))
    still = jnp.broadcast_to(feats[:, :1], feats.shape)
    fw = rank_pooling_weights(8)
    rank = fdp.RankScorer(rank_heads=3, score_init="rank")
    v = rank.init(jax.random.PRNGKey(0), feats)
    np.testing.assert_allclose(rank.apply(v, feats)[1, :, 1, 0, 2], fw / np.abs(fw).max(),
                               rtol=1e-6)
    assert np.abs(fdp.temporal_pool(rank.apply(v, still), still)).max() < 1e-6
    drawn = fdp.RankScorer(rank_heads=3)
    v = drawn.init(jax.random.PRNGKey(0), feats)
    assert np.abs(fdp.temporal_pool(drawn.apply(v, still), still)).max() > 0.1
    with pytest.raises(ValueError, match="score_init"):
        fdp.RankScorer(rank_heads=3, score_init="zeros").init(jax.random.PRNGKey(0), feats)


def test_unpooling_returns_each_max_to_its_place():
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 4, 6, 3))
    y, switches = fdp.max_pool_with_switches(x)
    np.testing.assert_allclose(y, jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1),
                                                        (1, 2, 2, 1), "VALID"))
    back = fdp.max_unpool(y, switches)
    kept = back != 0
    assert int(kept.sum()) == y.size
    np.testing.assert_allclose(back[kept], x[kept])


def test_config_presets_and_parameter_counts():
    counts = {}
    for preset in ("compact", "paper"):
        c = fdp_casme2.get_config(preset)
        assert c.model.name == "fdp" and c.data.build.clip_frames == 8
        assert c.data.face_size == 64 and c.data.build.classes == "five"
        model = fdp.from_config(c.model.fdp, 5)
        shapes = jax.eval_shape(lambda m=model: m.init(
            jax.random.PRNGKey(0), {"frames": jnp.zeros((1, 8, 64, 64, 1))}, train=False))
        counts[preset] = n_params(shapes["params"])
    assert 0.1e6 < counts["compact"] < 0.5e6, counts
    assert 30e6 < counts["paper"] < 60e6, counts
    s = fdp_synthetic.get_config()
    assert s.data.synthetic.clip_frames == 8 and s.model.fdp.mse_weight == 100.0
    assert fdp_synthetic.get_config("paper").model.fdp.rank_heads == 8
    assert s.model.fdp.score_init == "random"
    s.model.fdp.score_init = "zeros"
    with pytest.raises(ValueError, match="model.fdp.score_init is 'zeros'"):
        fdp.check_config(s.model.fdp)


# ----------------------------------------------------------- records, views

def test_prepare_resizes_and_normalises_frames_fdp_style():
    rng = np.random.default_rng(0)
    clip = rng.integers(0, 256, (2, 8, 32, 32, 1)).astype(np.float32)
    data = records.MEData(views={"flow": np.zeros((2, 28, 28, 3), np.float32),
                                 "apex": clip[:, 0], "frames": clip},
                          label=np.zeros(2, np.int32), subject=np.array(["a", "b"]),
                          dataset=np.array(["x", "x"]), sample_id=np.array(["1", "2"]),
                          class_names=("n", "p", "s"))
    v = records.prepare(data, 28, 16).views
    assert v["frames"].shape == (2, 8, 16, 16, 1) and v["frames"].dtype == np.float32
    want = (records.resize(clip[:, 3], 16) / 255.0 - 0.5) / 0.5
    np.testing.assert_allclose(v["frames"][:, 3], want, atol=1e-5)
    assert -1.0 <= v["frames"].min() and v["frames"].max() <= 1.0
    same = records.prepare(data, 28, 32).views["frames"]
    np.testing.assert_allclose(same, clip / 127.5 - 1.0, atol=1e-6)
    assert "frames" in records.VIEWS


@pytest.mark.parametrize("recipe", ["shift", "reference"])
def test_augmentation_moves_all_frames_of_a_clip_with_the_faces(recipe):
    rng = np.random.default_rng(1)
    apex = rng.normal(size=(4, 16, 16, 1)).astype(np.float32)
    views = {"apex": jnp.asarray(apex),
             "frames": jnp.asarray(np.repeat(apex[:, None], 8, axis=1))}  # every frame = apex
    cfg = ml_collections.ConfigDict(dict(augment=True, augment_recipe=recipe,
                                         max_shift_fraction=0.1, rotation_deg=10.0,
                                         crop_padding=2))
    keys = jax.random.split(jax.random.PRNGKey(0), 4)
    out = augment.train_views(keys, views, cfg, 1.0)
    assert out["frames"].shape == (4, 8, 16, 16, 1)
    for t in range(8):
        np.testing.assert_allclose(out["frames"][:, t], out["apex"], atol=1e-6)
    assert not np.allclose(out["apex"], apex)
    np.testing.assert_array_equal(augment.model_views(views)["frames"], views["frames"])


# ------------------------------------------------------------------ builders

def test_clip_frame_numbers_are_uniform_over_the_clip():
    assert clip_frame_numbers(0, 8, 8) == [0, 1, 2, 3, 5, 6, 7, 8]
    assert clip_frame_numbers(100, 114, 8) == [100, 102, 104, 106, 108, 110, 112, 114]
    assert clip_frame_numbers(46, 52, 8) == [46, 47, 48, 49, 49, 50, 51, 52]  # 7 frames
    assert clip_frame_numbers(0, 6, 3) == [0, 3, 6]
    assert MEConfig.named(clip_frames=8).name.endswith("_frames8")
    with pytest.raises(ValueError, match="clip_frames"):
        MEConfig.named(clip_frames=1)


def test_synthetic_builder_writes_frames(tmp_path):
    fields = dict(num_subjects=2, clips_per_subject=2, size=32, clip_frames=8)
    builder = SyntheticMe.from_fields(str(tmp_path), **fields)
    assert builder.builder_config.name.endswith("_frames8")
    builder.download_and_prepare()
    data = records.read_builder(builder)
    assert data.views["frames"].shape == (len(data), 8, 32, 32, 1)
    samples = {s.sample_id: s for s in synthetic_faces.make_dataset(
        seed=0, num_subjects=2, clips_per_subject=2, size=32)}
    for i, sample_id in enumerate(data.sample_id):
        clip = samples[sample_id].clip
        numbers = clip_frame_numbers(clip.onset, clip.offset, 8)
        want = np.clip(np.rint(clip.frames[numbers]), 0, 255)
        np.testing.assert_array_equal(data.views["frames"][i, ..., 0], want)
        np.testing.assert_array_equal(data.views["frames"][i, 0], data.views["onset"][i])


LONG = fx.FixtureClip("sub05", "EP07_01", "surprise", 300, 6, "1+2", num_frames=15)


def test_casme2_builder_writes_frames_at_uniform_positions(tmp_path):
    manual = fx.write_casme2(tmp_path / "casme2", [fx.CASME2_CLIPS[0], LONG])
    builder = Casme2.from_fields(str(tmp_path / "tfds"), classes="native", flow_size=28,
                                 face_size=48, clip_frames=8)
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(manual)))
    data = records.read_builder(builder)
    assert data.views["frames"].shape == (2, 8, 48, 48, 1)
    for clip in (fx.CASME2_CLIPS[0], LONG):
        i = list(data.sample_id).index(f"{clip.subject}_{clip.filename}")
        folder = manual / "Cropped" / clip.subject / clip.filename
        numbers = clip_frame_numbers(clip.onset, clip.offset, 8)
        for t, number in enumerate(numbers):
            grey = frames_lib.read_grey(folder / f"reg_img{number}.jpg")
            want = face.crop(grey, face.whole_frame(grey), 48)
            np.testing.assert_array_equal(data.views["frames"][i, t, ..., 0], want)
        np.testing.assert_array_equal(data.views["frames"][i, 0], data.views["onset"][i])
    assert clip_frame_numbers(LONG.onset, LONG.offset, 8) == list(range(300, 315, 2))
