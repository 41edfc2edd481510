import jax
import jax.numpy as jnp
import numpy as np
import pytest

from faceslueth_jax.data import augment, records
from tests.conftest import unavailable


def _minmax(flow):
    lo, hi = flow.min(axis=(1, 2), keepdims=True), flow.max(axis=(1, 2), keepdims=True)
    return (flow - lo) / (hi - lo)


@pytest.mark.parametrize("flow_norm, stored", [("minmax", "raw"), ("none", "raw"),
                                               ("none", "minmax")])
def test_mirror_matches_mirroring_the_raw_flow_then_normalising(flow_norm, stored):
    """Augmenting prepared flow = preparing the mirrored raw flow (u -> -u, x -> W-1-x),
    also when the records store it min-maxed and the config reads it as it is."""
    rng = np.random.default_rng(0)
    raw = rng.normal(size=(1, 8, 8, 3)).astype(np.float32)
    raw_mirror = raw[:, :, ::-1].copy()
    raw_mirror[..., 0] *= -1

    def prepare(flow):
        flow = _minmax(flow) if stored == "minmax" else flow
        data = records.MEData(views={"flow": flow}, label=np.zeros(1, np.int32),
                              subject=np.array(["s"]), dataset=np.array(["d"]),
                              sample_id=np.array(["x"]), class_names=("a",))
        return records.prepare(data, 8, 8, flow_norm).views["flow"][0]

    offset = records.u_mirror_offset(flow_norm, stored)
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


# ------------------------------------------------------------ 'reference' recipe

def _train_cfg(**overrides):
    from configs.common import base_config
    cfg = base_config("t").train
    cfg.update(overrides)
    return cfg


def test_reference_recipe_gives_onset_and_apex_the_same_flip_rotation_and_crop():
    """apex = onset + 1 inside the image stays so after augmentation wherever the
    image lands (a view of ones marks where), and both are 0 outside; non-image
    views and the flow pass through."""
    rng = np.random.default_rng(0)
    onset = jnp.asarray(rng.normal(size=(24, 24, 3)), jnp.float32)
    views = {"onset": onset, "apex": onset + 1.0, "ones": jnp.ones((24, 24, 1)),
             "flow": jnp.asarray(rng.normal(size=(12, 12, 3)), jnp.float32),
             "au": jnp.arange(21.0), "jitter_span": jnp.float32(2)}
    seen_shift = set()
    for seed in range(12):
        out = augment.reference_sample(jax.random.PRNGKey(seed), views, 3.0, 4)
        inside = np.asarray(out["ones"][..., 0]) == 1.0
        assert set(np.unique(np.asarray(out["ones"]))) <= {0.0, 1.0}
        np.testing.assert_allclose(np.asarray(out["apex"])[inside],
                                   np.asarray(out["onset"])[inside] + 1.0, atol=1e-6)
        assert not np.asarray(out["apex"])[~inside].any() and not np.asarray(out["onset"])[~inside].any()
        for name in ("flow", "au", "jitter_span"):
            np.testing.assert_array_equal(out[name], views[name])
        seen_shift.add(int(inside.sum()))
    assert len(seen_shift) > 3  # the crop (and rotation) vary with the key
    flips = set()  # without rotation and crop: the image or its mirror, both drawn
    for seed in range(12):
        out = np.asarray(augment.reference_sample(jax.random.PRNGKey(seed), views, 0.0, 0)["apex"])
        flipped = np.array_equal(out, np.asarray(views["apex"])[:, ::-1])
        assert flipped or np.array_equal(out, views["apex"])
        flips.add(flipped)
    assert flips == {True, False}


def _centroid(image):
    ys, xs = np.nonzero(np.asarray(image)[..., 0] > 0.5)
    return ys.mean(), xs.mean()


@pytest.mark.parametrize("angle", [90.0, 30.0, 3.0, -3.0, -120.0])
def test_rotation_moves_a_point_where_the_rotation_matrix_says(angle):
    """Counter-clockwise as displayed (rows down) about ((H-1)/2, (W-1)/2):
    (dx, dy) -> (cos a dx + sin a dy, -sin a dx + cos a dy)."""
    image = np.zeros((41, 41, 1), np.float32)
    y, x = 20, 33                       # 13 px right of the centre (20, 20)
    image[y - 1:y + 2, x - 1:x + 2] = 1.0
    out = augment.rotate_translate(jnp.asarray(image), angle, jnp.array([0, 0]))
    a = np.deg2rad(angle)
    dx, dy = x - 20, y - 20
    want = (20 - np.sin(a) * dx + np.cos(a) * dy, 20 + np.cos(a) * dx + np.sin(a) * dy)
    np.testing.assert_allclose(_centroid(out), want, atol=0.5)
    if angle == 90.0:                   # a quarter turn: right of centre -> above it
        np.testing.assert_array_equal(np.asarray(out)[6:9, 19:22, 0], 1.0)


def test_crop_padding_is_a_zero_filled_translation():
    """RandomCrop(S, padding=P) at offset (i, j) = pad P zeros, take rows i..i+S:
    content moves by t = P - (i, j), the margin it uncovers is 0."""
    rng = np.random.default_rng(1)
    image = rng.uniform(1.0, 2.0, size=(10, 12, 2)).astype(np.float32)
    pad = 4
    padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)))
    for ty, tx in [(0, 0), (4, -4), (-3, 2), (1, 0)]:
        out = augment.rotate_translate(jnp.asarray(image), 0.0, jnp.array([ty, tx]))
        i, j = pad - ty, pad - tx
        np.testing.assert_array_equal(out, padded[i:i + 10, j:j + 12])


def test_rotation_matches_torchvisions_grid():
    """The same pixels as torchvision's tensor rotate (inverse affine matrix of
    -angle about the centre, pixel-centre grid, nearest, zeros), rebuilt with torch."""
    try:
        import torch
    except ImportError:
        unavailable("torch is not installed", missing="torch")
    rng = np.random.default_rng(2)
    h, w = 30, 26
    image = rng.normal(size=(h, w, 3)).astype(np.float32)
    for angle in (3.0, -2.5, 17.0):
        rot = np.deg2rad(-angle)        # torchvision rotates by -angle in its inverse map
        theta = torch.tensor([[np.cos(rot), np.sin(rot), 0.0],
                              [-np.sin(rot), np.cos(rot), 0.0]], dtype=torch.float32)
        xs = torch.linspace(-w * 0.5 + 0.5, w * 0.5 - 0.5, w)
        ys = torch.linspace(-h * 0.5 + 0.5, h * 0.5 - 0.5, h)
        base = torch.stack([xs[None, :].expand(h, w), ys[:, None].expand(h, w),
                            torch.ones(h, w)], dim=-1)
        grid = (base @ theta.T) / torch.tensor([0.5 * w, 0.5 * h])
        want = torch.nn.functional.grid_sample(
            torch.from_numpy(image).permute(2, 0, 1)[None], grid[None], mode="nearest",
            padding_mode="zeros", align_corners=False)[0].permute(1, 2, 0).numpy()
        got = np.asarray(augment.rotate_translate(jnp.asarray(image), angle, jnp.array([0, 0])))
        differ = np.any(np.abs(got - want) > 1e-6, axis=-1)
        assert differ.mean() < 0.005, (angle, differ.sum())  # rounding ties at most


# ------------------------------------------------------------ temporal jitter

def _jitter_views(span: int, k: int = 4):
    window = jnp.arange(k, dtype=jnp.float32)[:, None, None, None] * jnp.ones((k, 3, 3, 1))
    return {"onset_window": window, "apex_window": 10.0 + window, "jitter_span": jnp.float32(span),
            "onset": window[0], "apex": 10.0 + window[-1], "au": jnp.ones(21)}


@pytest.mark.parametrize("span", [0, 1, 3])
def test_temporal_jitter_draws_within_the_span(span):
    """onset <- onset_window[i], apex <- apex_window[K-1-j], i, j uniform in 0..span;
    span 0 gives exactly onset and apex; the windows and span are dropped."""
    onsets, apexes = set(), set()
    for seed in range(40):
        out = augment.jitter_sample(jax.random.PRNGKey(seed), _jitter_views(span))
        assert set(out) == {"onset", "apex", "au"}
        np.testing.assert_array_equal(out["au"], jnp.ones(21))
        onsets.add(float(out["onset"][0, 0, 0]))
        apexes.add(float(out["apex"][0, 0, 0]))
    assert onsets == set(range(span + 1))                  # frames onset .. onset + span
    assert apexes == {10.0 + 3 - j for j in range(span + 1)}  # frames apex - span .. apex


def test_train_views_jitter_then_augment_and_drop_the_windows():
    views = {k: jnp.stack([v] * 5) for k, v in _jitter_views(2).items()}
    keys = jax.random.split(jax.random.PRNGKey(0), 5)
    off = augment.train_views(keys, views, _train_cfg(augment=False), 1.0)
    assert set(off) == {"onset", "apex", "au"}
    np.testing.assert_array_equal(off["onset"], views["onset"])  # test time: exact frames
    for recipe in augment.RECIPES:
        out = augment.train_views(keys, views, _train_cfg(augment_recipe=recipe), 1.0)
        assert set(out) == {"onset", "apex", "au"} and out["onset"].shape == (5, 3, 3, 1)
        np.testing.assert_array_equal(out["au"], views["au"])
    with pytest.raises(ValueError, match="augment_recipe"):
        augment.train_views(keys, views, _train_cfg(augment_recipe="mixup"), 1.0)


def test_shift_recipe_without_windows_keeps_its_random_stream_and_skips_non_images():
    """train_views with the default recipe and no windows is augment_batch exactly;
    views that are not (H, W, C) images pass through it untouched."""
    rng = np.random.default_rng(3)
    views = {"flow": jnp.asarray(rng.normal(size=(4, 8, 8, 3)), jnp.float32),
             "apex": jnp.asarray(rng.normal(size=(4, 16, 16, 1)), jnp.float32),
             "au": jnp.asarray(rng.integers(0, 2, size=(4, 21)), jnp.float32)}
    keys = jax.random.split(jax.random.PRNGKey(7), 4)
    got = augment.train_views(keys, views, _train_cfg(), 1.0)
    want = augment.augment_batch(keys, views, 0.06, 1.0)
    for name in views:
        np.testing.assert_array_equal(got[name], want[name])
    np.testing.assert_array_equal(got["au"], views["au"])
    assert not np.array_equal(got["apex"], views["apex"])


def test_the_mirror_follows_how_the_records_store_flow():
    """htnet_composite stores min-max flow and reads it as it is: u mirrors to 1 - u."""
    import importlib

    from faceslueth_jax.data import sources
    data = importlib.import_module("configs.htnet_composite").get_config().data
    assert data.flow_norm == "none" and sources.stored_flow_norm(data) == "minmax"
    assert records.u_mirror_offset(data.flow_norm, sources.stored_flow_norm(data)) == 1.0
    casme2 = importlib.import_module("configs.loso_casme2").get_config().data
    assert sources.stored_flow_norm(casme2) == "raw"


def test_mirroring_turns_left_right_and_negates_u_about_its_offset():
    from faceslueth_jax.data.augment import mirror_sample
    rng = np.random.default_rng(0)
    views = {"flow": jnp.asarray(rng.uniform(size=(4, 5, 3)), jnp.float32),
             "apex": jnp.asarray(rng.uniform(size=(4, 5, 1)), jnp.float32),
             "frames": jnp.asarray(rng.uniform(size=(2, 4, 5, 1)), jnp.float32),
             "jitter_span": jnp.asarray([1.0, 2.0])}
    m = mirror_sample(views, 1.0)  # min-max flow: u -> 1 - u
    np.testing.assert_allclose(m["flow"][:, ::-1, 0], 1.0 - views["flow"][..., 0], atol=1e-6)
    np.testing.assert_allclose(m["flow"][:, ::-1, 1:], views["flow"][..., 1:])
    np.testing.assert_allclose(m["apex"][:, ::-1], views["apex"])
    np.testing.assert_allclose(m["frames"][:, :, ::-1], views["frames"])
    np.testing.assert_allclose(m["jitter_span"], views["jitter_span"])
    twice = mirror_sample(m, 1.0)
    for k in views:
        np.testing.assert_allclose(twice[k], views[k], atol=1e-6)
