"""Tests for faceslueth_jax.models.swin (Swin Transformer feature extractor)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from faceslueth_jax.models.swin import (
    MASK_VALUE,
    SwinBlock,
    SwinTransformer,
    compute_attention_mask,
    relative_position_index,
    window_partition,
    window_reverse,
)

COMPACT = dict(patch_size=4, embed_dim=32, depths=(2, 2), num_heads=(2, 4), window_size=7)
PAPER = dict(patch_size=4, embed_dim=128, depths=(2, 2, 6), num_heads=(4, 8, 16), window_size=7)


def n_params(tree):
    return sum(int(np.prod(a.shape)) for a in jax.tree_util.tree_leaves(tree))


def swin_param_count(in_chans, patch, embed, depths, heads, window, mlp_ratio=4):
    """Analytic parameter count of the headless Swin (with final norm).

    patch embed: conv p*p*Cin*C + C, LayerNorm 2C
    block(C, h): norm1 2C + qkv (C*3C + 3C) + bias table (2w-1)^2*h + proj (C*C + C)
                 + norm2 2C + fc1 (C*rC + rC) + fc2 (rC*C + C)
                 = (4 + 2r) C^2 + (9 + r) C + (2w-1)^2 h     [r=4: 12C^2 + 13C + 169h]
    merge(C):    norm over 4C: 8C, reduction 4C*2C (no bias): 8C^2
    final norm:  2 * C_last
    """
    r = mlp_ratio
    total = patch * patch * in_chans * embed + embed + 2 * embed
    for i, (d, h) in enumerate(zip(depths, heads)):
        c = embed * 2 ** i
        total += d * ((4 + 2 * r) * c * c + (9 + r) * c + (2 * window - 1) ** 2 * h)
        if i < len(depths) - 1:
            total += 8 * c + 8 * c * c
    return total + 2 * embed * 2 ** (len(depths) - 1)


@pytest.fixture(scope="module")
def compact():
    model = SwinTransformer(**COMPACT)
    x = jnp.asarray(np.random.RandomState(0).randn(2, 56, 56, 1), jnp.float32)
    init = jax.jit(lambda k, x: model.init(k, x, train=False))
    apply = jax.jit(lambda p, x: model.apply(p, x, train=False))
    return model, init, apply, x, init(jax.random.key(0), x)


# ----------------------------------------------------------------- shapes / counts

def test_compact_shape_and_param_count(compact):
    model, _, apply, x, params = compact
    out = apply(params, x)
    assert out.shape == (2, 7, 7, 64)
    assert out.dtype == jnp.float32
    assert np.all(np.isfinite(np.asarray(out)))
    # 608 (embed) + 2*13042 (C=32,h=2) + 8448 (merge) + 2*50660 (C=64,h=4) + 128 (norm)
    assert swin_param_count(1, 4, 32, (2, 2), (2, 4), 7) == 136_588
    assert n_params(params) == 136_588


def test_paper_shape_and_param_count():
    model = SwinTransformer(**PAPER)
    x = jax.ShapeDtypeStruct((1, 224, 224, 3), jnp.float32)
    params = jax.eval_shape(lambda x: model.init(jax.random.key(0), x, train=False), x)
    out = jax.eval_shape(lambda p, x: model.apply(p, x, train=False), params, x)
    assert out.shape == (1, 14, 14, 512)
    # Swin-B's first three stages, no head:
    #   patch embed 4*4*3*128 + 128 + 256                        =      6,528
    #   stage 0: 2 * (12*128^2 + 13*128 + 169*4)  = 2 * 198,948   =    397,896
    #   merge 0: 8*128 + 8*128^2                                 =    132,096
    #   stage 1: 2 * (12*256^2 + 13*256 + 169*8)  = 2 * 791,112   =  1,582,224
    #   merge 1: 8*256 + 8*256^2                                 =    526,336
    #   stage 2: 6 * (12*512^2 + 13*512 + 169*16) = 6 * 3,155,088 = 18,930,528
    #   final norm 2*512                                         =      1,024
    #                                                     total = 21,576,632
    expected = 21_576_632
    assert swin_param_count(3, 4, 128, (2, 2, 6), (4, 8, 16), 7) == expected
    assert n_params(params) == expected


def test_param_names_follow_pytorch_layout(compact):
    params = compact[-1]
    p = params["params"]
    assert set(p) == {"patch_embed", "layers_0", "layers_1", "norm"}
    assert set(p["patch_embed"]) == {"proj", "norm"}
    blk = p["layers_0"]["blocks_1"]
    assert set(blk) == {"norm1", "attn", "norm2", "mlp"}
    assert set(blk["attn"]) == {"qkv", "proj", "relative_position_bias_table"}
    assert blk["attn"]["relative_position_bias_table"].shape == (13 * 13, 2)
    assert set(blk["mlp"]) == {"fc1", "fc2"}
    assert set(p["layers_0"]["downsample"]) == {"reduction", "norm"}
    assert set(p["layers_0"]["downsample"]["reduction"]) == {"kernel"}  # no bias
    assert "downsample" not in p["layers_1"]
    # Swin init: zero Linear biases, LayerNorm ones/zeros, small table.
    assert np.all(np.asarray(blk["attn"]["qkv"]["bias"]) == 0)
    assert np.all(np.asarray(blk["norm1"]["scale"]) == 1)
    assert np.abs(np.asarray(blk["attn"]["relative_position_bias_table"])).max() <= 0.04 + 1e-6


def test_non_multiple_of_window_input():
    # 40x40 -> 10x10 tokens (padded to 14 for window 7) -> 5x5 (window shrinks to 5).
    model = SwinTransformer(**COMPACT)
    x = jnp.asarray(np.random.RandomState(1).randn(1, 40, 40, 1), jnp.float32)
    out, params = jax.jit(
        lambda x: model.init_with_output(jax.random.key(0), x, train=False))(x)
    assert out.shape == (1, 5, 5, 64)
    # stage 1 runs on a 5x5 map: window shrinks to 5 (table (2*5-1)^2), no shift
    assert params["params"]["layers_1"]["blocks_1"]["attn"][
        "relative_position_bias_table"].shape == (81, 4)
    assert np.all(np.isfinite(np.asarray(out)))


# ----------------------------------------------------------------- static helpers

def test_window_partition_reverse_are_inverses():
    x = np.random.RandomState(0).randn(2, 8, 12, 3).astype(np.float32)
    win = window_partition(jnp.asarray(x), 4)
    assert win.shape == (2 * 2 * 3, 16, 3)
    # window 1 of image 0 is rows 0:4, cols 4:8 in row-major token order
    np.testing.assert_array_equal(np.asarray(win[1]), x[0, 0:4, 4:8].reshape(16, 3))
    np.testing.assert_array_equal(np.asarray(window_reverse(win, 4, 8, 12)), x)
    w2 = np.random.RandomState(1).randn(12, 16, 3)
    np.testing.assert_array_equal(window_partition(window_reverse(w2, 4, 8, 12), 4), w2)


def test_relative_position_index_range_and_symmetry():
    w = 7
    idx = relative_position_index(w)
    assert idx.shape == (w * w, w * w)
    assert idx.min() == 0 and idx.max() == (2 * w - 1) ** 2 - 1
    assert len(np.unique(idx)) == (2 * w - 1) ** 2
    centre = (w - 1) * (2 * w - 1) + (w - 1)
    assert np.all(np.diag(idx) == centre)
    # offset (i - j) and (j - i) are mirrored around the table centre
    np.testing.assert_array_equal(idx + idx.T, 2 * centre)
    # depends only on the coordinate difference
    r, c = np.divmod(np.arange(w * w), w)
    expect = (r[:, None] - r[None] + w - 1) * (2 * w - 1) + (c[:, None] - c[None] + w - 1)
    np.testing.assert_array_equal(idx, expect)


def test_shifted_window_mask_pattern():
    H = W = 8
    w, s = 4, 2
    assert compute_attention_mask(H, W, w, 0) is None
    mask = compute_attention_mask(H, W, w, s)
    assert mask.shape == (4, 16, 16)
    assert set(np.unique(mask)) <= {0.0, MASK_VALUE} and MASK_VALUE <= -100
    np.testing.assert_array_equal(mask, mask.transpose(0, 2, 1))
    assert np.all(np.diagonal(mask, axis1=1, axis2=2) == 0)
    # Independent derivation: shifted-frame position (r', c') holds original
    # pixel ((r'+s) % H, (c'+s) % W); two tokens of a window may attend iff
    # neither or both were wrapped around in each axis.
    for k in range(4):
        kr, kc = divmod(k, 2)
        rr, cc = np.divmod(np.arange(16), 4)
        rr, cc = rr + kr * w, cc + kc * w
        wrap_r, wrap_c = rr + s >= H, cc + s >= W
        ok = (wrap_r[:, None] == wrap_r[None]) & (wrap_c[:, None] == wrap_c[None])
        np.testing.assert_array_equal(mask[k] == 0, ok)
    # windows: 0 untouched, 1/2 split in two halves of 8, 3 split in 4 quarters of 4
    forbidden = (mask != 0).sum(axis=(1, 2))
    np.testing.assert_array_equal(forbidden, [0, 256 - 2 * 64, 256 - 2 * 64, 256 - 4 * 16])


def test_padding_mask_masks_padded_keys():
    # 6x6 map padded to 8x8 (window 4), no shift: padded tokens never are keys.
    mask = compute_attention_mask(8, 8, 4, 0, pad_h=2, pad_w=2)
    valid = np.zeros((8, 8), bool)
    valid[:6, :6] = True
    valid_w = window_partition(valid[None, :, :, None], 4)[..., 0]
    np.testing.assert_array_equal(mask == 0, np.broadcast_to(valid_w[:, None, :], mask.shape))


# ----------------------------------------------------------------- block semantics

def _random_block_params(block, x, seed):
    """Random (not Swin-initialised) parameters, so biases/norms matter too."""
    shapes = jax.eval_shape(lambda x: block.init(jax.random.key(0), x, train=False), x)
    rng = np.random.RandomState(seed)
    return jax.tree_util.tree_map(
        lambda a: jnp.asarray(0.3 * rng.randn(*a.shape), a.dtype), shapes)


def _reference_block(p, x, w, s, heads):
    """Dense (non-windowed) reference: each real token attends to the real
    tokens sharing its shifted window and wrap-around region."""
    p = p["params"]
    B, H, W, C = x.shape
    Hp, Wp = -(-H // w) * w, -(-W // w) * w
    hd = C // heads

    def ln(v, q):
        mu = v.mean(-1, keepdims=True)
        var = ((v - mu) ** 2).mean(-1, keepdims=True)
        return (v - mu) / jnp.sqrt(var + 1e-5) * q["scale"] + q["bias"]

    t = ln(x, p["norm1"]).reshape(B, H * W, C)
    qkv = (t @ p["attn"]["qkv"]["kernel"] + p["attn"]["qkv"]["bias"]).reshape(B, H * W, 3, heads, hd)
    q, k, v = qkv[:, :, 0] * hd ** -0.5, qkv[:, :, 1], qkv[:, :, 2]
    r, c = np.divmod(np.arange(H * W), W)
    rs, cs = (r - s) % Hp, (c - s) % Wp
    allowed = (rs[:, None] // w == rs[None] // w) & (cs[:, None] // w == cs[None] // w)
    allowed &= ((r < s)[:, None] == (r < s)[None]) & ((c < s)[:, None] == (c < s)[None])
    dr, dc = rs[:, None] - rs[None], cs[:, None] - cs[None]
    idx = np.where(allowed, (dr + w - 1) * (2 * w - 1) + (dc + w - 1), 0)
    bias = p["attn"]["relative_position_bias_table"][idx].transpose(2, 0, 1)
    logits = jnp.einsum("bnhd,bmhd->bhnm", q, k) + bias
    logits = jnp.where(allowed, logits, -jnp.inf)
    o = jnp.einsum("bhnm,bmhd->bnhd", jax.nn.softmax(logits, -1), v).reshape(B, H * W, C)
    o = o @ p["attn"]["proj"]["kernel"] + p["attn"]["proj"]["bias"]
    x = x + o.reshape(B, H, W, C)
    m = p["mlp"]
    y = ln(x, p["norm2"]) @ m["fc1"]["kernel"] + m["fc1"]["bias"]
    y = jax.nn.gelu(y, approximate=False) @ m["fc2"]["kernel"] + m["fc2"]["bias"]
    return x + y


@pytest.mark.parametrize("H,W,shift", [(8, 8, True), (10, 10, True), (10, 10, False), (9, 11, True)])
def test_block_matches_dense_reference(H, W, shift):
    """Windowing, shift, region mask, padding mask and bias indexing together."""
    w, heads, C = 4, 2, 8
    block = SwinBlock(dim=C, num_heads=heads, window_size=w, shift=shift)
    x = jnp.asarray(np.random.RandomState(H * W).randn(2, H, W, C), jnp.float32)
    params = _random_block_params(block, x, seed=H)
    assert block.effective_window(H, W) == (w, w // 2 if shift else 0)
    out, ref = jax.jit(lambda p, x: (
        block.apply(p, x, train=False),
        _reference_block(p, x, w, w // 2 if shift else 0, heads)))(params, x)
    np.testing.assert_allclose(np.asarray(out), np.asarray(ref), atol=2e-5, rtol=2e-5)


def test_shifted_block_regions_do_not_interact():
    # 8x8, window 4, shift 2: original pixels (0,0) and (7,7) share the last
    # shifted window only via the cyclic wrap, so must not see each other;
    # (1,1) shares that window and region with (0,0), so must see it.
    block = SwinBlock(dim=8, num_heads=2, window_size=4, shift=True)
    x = jnp.asarray(np.random.RandomState(0).randn(1, 8, 8, 8), jnp.float32)
    params = _random_block_params(block, x, seed=3)
    apply = jax.jit(lambda p, x: block.apply(p, x, train=False))
    out = apply(params, x)
    # (a non-constant perturbation: LayerNorm would remove a constant one)
    delta = jnp.asarray(np.random.RandomState(1).randn(8), jnp.float32)
    out2 = apply(params, x.at[0, 0, 0].add(delta))
    np.testing.assert_allclose(np.asarray(out2[0, 7, 7]), np.asarray(out[0, 7, 7]), atol=1e-6)
    assert np.abs(np.asarray(out2[0, 1, 1] - out[0, 1, 1])).max() > 1e-3


# ----------------------------------------------------------------- model behaviour

def test_not_translation_or_permutation_invariant(compact):
    _, _, apply, x, params = compact
    out = np.asarray(apply(params, x))
    shifted = np.asarray(apply(params, jnp.roll(x, (3, 5), axis=(1, 2))))
    assert np.abs(out - shifted).max() > 1e-3
    perm = np.random.RandomState(0).permutation(56 * 56)
    xp = x.reshape(2, -1, 1)[:, perm].reshape(x.shape)
    assert np.abs(out - np.asarray(apply(params, xp))).max() > 1e-3


def test_gradients_finite_with_drop_path(compact):
    model = SwinTransformer(**COMPACT, drop_path_rate=0.2)
    x = jnp.asarray(np.random.RandomState(2).randn(2, 56, 56, 1), jnp.float32)
    params = compact[-1]  # drop_path_rate does not change the parameters

    def loss(p, x, rng):
        return jnp.mean(model.apply(p, x, train=True, rngs={"dropout": rng}) ** 2)

    gp, gx = jax.jit(jax.grad(loss, argnums=(0, 1)))(params, x, jax.random.key(1))
    leaves = jax.tree_util.tree_leaves(gp)
    assert all(np.all(np.isfinite(np.asarray(g))) for g in leaves)
    assert np.all(np.isfinite(np.asarray(gx))) and np.abs(np.asarray(gx)).max() > 0
    assert sum(float(jnp.abs(g).sum()) for g in leaves) > 0


def test_vmap_over_parameter_folds(compact):
    model, init, apply, x, params = compact
    params_b = init(jax.random.key(7), x)
    stacked = jax.tree_util.tree_map(lambda a, b: jnp.stack([a, b]), params, params_b)
    out = jax.jit(jax.vmap(lambda p: model.apply(p, x, train=False)))(stacked)
    assert out.shape == (2, 2, 7, 7, 64)
    np.testing.assert_allclose(np.asarray(out[0]), np.asarray(apply(params, x)), atol=1e-5)
    np.testing.assert_allclose(np.asarray(out[1]), np.asarray(apply(params_b, x)), atol=1e-5)


def test_bfloat16_compute_dtype():
    model = SwinTransformer(patch_size=4, embed_dim=16, depths=(1, 1), num_heads=(1, 2),
                            window_size=4, dtype=jnp.bfloat16)
    x = jnp.ones((1, 32, 32, 1), jnp.float32)
    out, params = jax.jit(
        lambda x: model.init_with_output(jax.random.key(0), x, train=False))(x)
    assert all(a.dtype == jnp.float32 for a in jax.tree_util.tree_leaves(params))
    assert out.shape == (1, 4, 4, 32) and out.dtype == jnp.bfloat16
    assert np.all(np.isfinite(np.asarray(out, np.float32)))
