r"""HTNet (Wang et al., Neurocomputing 2024): a hierarchical transformer on
four landmark patches of the optical flow, as the public PyTorch HTNet builds it
(wangzhifengharrison/HTNet, Model.py). NHWC throughout.

Input x: (B, S, S, 3), the four 14x14 flow patches tiled into S = 28
(``faceslueth_jax.data.htnet_patches``), times ``input_scale``.

Tokens. Space-to-depth with patch P (each PxP patch's pixels flattened in the
order (row, column, channel)), then a 1x1 convolution to ``dim``: an
(S/P) x (S/P) map of tokens, 4x4 of 256 at S = 28, P = 7.

Hierarchy. With L = num_hierarchies levels, level i = 0..L-1 (in order):
  1. split the map into 2^(L-1-i) x 2^(L-1-i) equal blocks, each a sequence of
     n = ((S/P) / 2^(L-1)) ^ 2 tokens (the same n at every level);
  2. per block, a Transformer of block_repeats[i] pre-norm layers with weights
     shared by the blocks: x += pos_emb (a learned scalar per position, the same
     for every channel); then x += MHA(LN(x)); x += FF(LN(x));
       MHA: q, k, v = 1x1 conv (no bias) to 3 * h_i * d with h_i = heads * 2^i
            heads of d = dim // heads channels (h_i * d may be < the width, as
            255 < 256: the reference's arithmetic), softmax(q k^T / sqrt(d)) v,
            then a 1x1 conv (with bias) back to the width;
       FF:  1x1 conv to mlp_mult x width, exact (erf) GELU, 1x1 conv back;
       LN:  over channels, biased variance, eps 1e-5, scale g and shift b;
  3. blocks stitched back; except after the last level, aggregate: 3x3 conv
     (pad 1) doubling the width, LN, max-pool 3 stride 2 pad 1 (halves the map).
At 28x28: 4x4x256 (16 blocks of 1 token) -> 2x2x512 (4 blocks of 1 token) ->
1x1x1024 (1 block of 1 token); at this size every sequence is a single token,
so the attention weights are all 1 (each token attends only to itself).

Head. LN, mean over the map, linear to the classes.

Dropout (0 in the reference): after the attention softmax, after its output
projection, after the GELU and after the second FF convolution.

Initialisation follows PyTorch's defaults: convolution and linear weights and
biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming-uniform with a = sqrt(5)),
pos_emb N(0, 1) (torch.randn), LN g = 1, b = 0.

``params_from_torch`` maps the reference's state_dict onto this module's params.
"""

from __future__ import annotations

import math
import re
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from faceslueth_jax.models.layers import Conv, Dropout


def torch_uniform(fan_in: int):
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's default for Conv/Linear biases,
    and for their weights (kaiming_uniform with a = sqrt(5)); fan_in is given
    explicitly because a bias's shape does not carry it."""
    bound = 1.0 / math.sqrt(fan_in)

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)
    return init


def dense(features: int, fan_in: int, name: str, use_bias: bool = True) -> nn.Dense:
    """A 1x1 convolution / linear layer initialised as PyTorch's."""
    return nn.Dense(features, use_bias=use_bias, kernel_init=torch_uniform(fan_in),
                    bias_init=torch_uniform(fan_in), name=name)


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channel (last) axis: (x - mean) / sqrt(var + eps) * g + b,
    biased variance; PyTorch reference's ``LayerNorm`` on NCHW maps."""
    eps: float = 1e-5

    @nn.compact
    def __call__(self, x):
        dim = x.shape[-1]
        g = self.param("g", nn.initializers.ones, (dim,))
        b = self.param("b", nn.initializers.zeros, (dim,))
        mean = jnp.mean(x, axis=-1, keepdims=True)
        var = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)
        return (x - mean) / jnp.sqrt(var + self.eps) * g + b


class Attention(nn.Module):
    heads: int
    dim_head: int
    dropout: float = 0.0

    @nn.compact
    def __call__(self, x, train: bool):
        b, h, w, dim = x.shape
        inner = self.heads * self.dim_head
        qkv = dense(3 * inner, dim, "qkv", use_bias=False)(x)
        # channels (head, d) -> (b, heads, tokens, d); tokens in row-major order
        q, k, v = (t.reshape(b, h * w, self.heads, self.dim_head).transpose(0, 2, 1, 3)
                   for t in jnp.split(qkv, 3, axis=-1))
        dots = jnp.einsum("bhid,bhjd->bhij", q, k) * self.dim_head ** -0.5
        attn = Dropout(self.dropout)(jax.nn.softmax(dots, axis=-1), deterministic=not train)
        out = jnp.einsum("bhij,bhjd->bhid", attn, v)
        out = out.transpose(0, 2, 1, 3).reshape(b, h, w, inner)
        out = dense(dim, inner, "out")(out)
        return Dropout(self.dropout)(out, deterministic=not train)


class FeedForward(nn.Module):
    mlp_mult: int = 4
    dropout: float = 0.0

    @nn.compact
    def __call__(self, x, train: bool):
        dim = x.shape[-1]
        x = dense(dim * self.mlp_mult, dim, "fc1")(x)
        x = Dropout(self.dropout)(nn.gelu(x, approximate=False), deterministic=not train)
        x = dense(dim, dim * self.mlp_mult, "fc2")(x)
        return Dropout(self.dropout)(x, deterministic=not train)


class Transformer(nn.Module):
    """Pre-norm layers over the tokens of each (B', h, w, C) block."""
    seq_len: int
    depth: int
    heads: int
    dim_head: int
    mlp_mult: int = 4
    dropout: float = 0.0

    @nn.compact
    def __call__(self, x, train: bool):
        _, h, w, _ = x.shape
        pos_emb = self.param("pos_emb", nn.initializers.normal(1.0), (self.seq_len,))
        x = x + pos_emb[:h * w].reshape(1, h, w, 1)
        for j in range(self.depth):
            y = ChannelLayerNorm(name=f"attn_norm{j}")(x)
            x = x + Attention(self.heads, self.dim_head, self.dropout, name=f"attn{j}")(y, train)
            y = ChannelLayerNorm(name=f"ff_norm{j}")(x)
            x = x + FeedForward(self.mlp_mult, self.dropout, name=f"ff{j}")(y, train)
        return x


def conv3x3(features: int, in_features: int, name: str) -> Conv:
    """3x3 convolution, stride 1, zero padding 1, with bias and torch's default
    initialiser (``layers.Conv``, impl 'auto': the trainer's formulation, else one matmul
    over the nine shifted copies of the input on CPU, where XLA's convolution is orders
    of magnitude slower than that matmul when the map is smaller than the kernel, as
    HTNet's 2x2 top level is)."""
    init = torch_uniform(9 * in_features)
    return Conv(features, 3, 1, use_bias=True, impl="auto", kernel_init=init, bias_init=init,
                name=name)


def to_blocks(x, n: int):
    """(B, n*h, n*w, C) -> (B*n*n, h, w, C), blocks in row-major order."""
    b, hh, ww, c = x.shape
    h, w = hh // n, ww // n
    x = x.reshape(b, n, h, n, w, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b * n * n, h, w, c)


def from_blocks(x, n: int):
    """The inverse of ``to_blocks``."""
    bnn, h, w, c = x.shape
    b = bnn // (n * n)
    x = x.reshape(b, n, n, h, w, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, n * h, n * w, c)


class HTNet(nn.Module):
    """``__call__(views, train)``: logits (B, num_classes) from views['flow'] (B, S, S, C)."""
    num_classes: int
    image_size: int = 28
    patch_size: int = 7
    dim: int = 256
    heads: int = 3
    num_hierarchies: int = 3
    block_repeats: Sequence[int] = (2, 2, 10)
    mlp_mult: int = 4
    dropout: float = 0.0
    input_scale: float = 1.0

    def geometry(self) -> tuple[int, int]:
        """(token map side, tokens per block), checking that the sizes divide."""
        if self.image_size % self.patch_size:
            raise ValueError(f"htnet: image_size {self.image_size} is not a multiple of "
                             f"patch_size {self.patch_size}")
        fmap = self.image_size // self.patch_size
        blocks = 2 ** (self.num_hierarchies - 1)
        if fmap % blocks:
            raise ValueError(f"htnet: the {fmap}x{fmap} token map does not split into "
                             f"{blocks}x{blocks} blocks (num_hierarchies={self.num_hierarchies})")
        return fmap, (fmap // blocks) ** 2

    @nn.compact
    def __call__(self, views: dict, *, train: bool):
        x = jnp.asarray(views["flow"], jnp.float32) * self.input_scale
        b, hh, ww, c = x.shape
        if (hh, ww) != (self.image_size, self.image_size):
            raise ValueError(f"htnet: expects {self.image_size}x{self.image_size} input, "
                             f"got {hh}x{ww}")
        fmap, seq_len = self.geometry()
        repeats = tuple(self.block_repeats)
        if len(repeats) == 1:
            repeats *= self.num_hierarchies
        if len(repeats) != self.num_hierarchies:
            raise ValueError(f"htnet: block_repeats {repeats} needs {self.num_hierarchies} entries")

        p = self.patch_size
        x = x.reshape(b, fmap, p, fmap, p, c).transpose(0, 1, 3, 2, 4, 5)
        x = x.reshape(b, fmap, fmap, p * p * c)  # features ordered (row, column, channel)
        x = dense(self.dim, p * p * c, "patch_embed")(x)

        dim_head = self.dim // self.heads
        for i in range(self.num_hierarchies):
            n = 2 ** (self.num_hierarchies - 1 - i)  # blocks per side
            width = self.dim * 2 ** i
            x = to_blocks(x, n)
            x = Transformer(seq_len, repeats[i], self.heads * 2 ** i, dim_head, self.mlp_mult,
                            self.dropout, name=f"transformer{i}")(x, train)
            x = from_blocks(x, n)
            if i < self.num_hierarchies - 1:
                x = conv3x3(2 * width, x.shape[-1], name=f"aggregate{i}_conv")(x)
                x = ChannelLayerNorm(name=f"aggregate{i}_norm")(x)
                x = nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
        x = ChannelLayerNorm(name="head_norm")(x).mean(axis=(1, 2))
        return dense(self.num_classes, x.shape[-1], "head")(x)


def from_config(h, num_classes: int) -> HTNet:
    """HTNet from ``model.htnet`` (configs/htnet_composite.py)."""
    return HTNet(
        num_classes=num_classes,
        image_size=int(h.image_size),
        patch_size=int(h.patch_size),
        dim=int(h.dim),
        heads=int(h.heads),
        num_hierarchies=int(h.num_hierarchies),
        block_repeats=tuple(int(r) for r in h.block_repeats),
        mlp_mult=int(h.mlp_mult),
        dropout=float(h.get("dropout", 0.0)),
        # The reference feeds cv2.imread's 0..255 pixel values as floats; the records
        # hold the same PNGs divided by 255, so input_scale = 255 gives it the same numbers.
        input_scale=float(h.get("input_scale", 1.0)))


def param_count(model: HTNet, channels: int = 3) -> int:
    """Number of parameters, from shapes only (nothing allocated)."""
    x = {"flow": jax.ShapeDtypeStruct((1, model.image_size, model.image_size, channels),
                                      jnp.float32)}
    shapes = jax.eval_shape(lambda k, v: model.init(k, v, train=False), jax.random.key(0), x)
    return sum(int(np.prod(a.shape)) for a in jax.tree.leaves(shapes["params"]))


# The reference's state_dict names (Model.py's nn.Sequential/ModuleList indices) ->
# this module's params paths. Each entry: pattern, path template, kind.
_TORCH_NAMES = (
    (r"to_patch_embedding\.1\.(weight|bias)", "patch_embed", "dense"),
    (r"layers\.(\d+)\.0\.pos_emb", "transformer{0}/pos_emb", "array"),
    (r"layers\.(\d+)\.0\.layers\.(\d+)\.0\.norm\.(g|b)", "transformer{0}/attn_norm{1}", "norm"),
    (r"layers\.(\d+)\.0\.layers\.(\d+)\.0\.fn\.to_qkv\.(weight)", "transformer{0}/attn{1}/qkv", "dense"),
    (r"layers\.(\d+)\.0\.layers\.(\d+)\.0\.fn\.to_out\.0\.(weight|bias)", "transformer{0}/attn{1}/out", "dense"),
    (r"layers\.(\d+)\.0\.layers\.(\d+)\.1\.norm\.(g|b)", "transformer{0}/ff_norm{1}", "norm"),
    (r"layers\.(\d+)\.0\.layers\.(\d+)\.1\.fn\.net\.0\.(weight|bias)", "transformer{0}/ff{1}/fc1", "dense"),
    (r"layers\.(\d+)\.0\.layers\.(\d+)\.1\.fn\.net\.3\.(weight|bias)", "transformer{0}/ff{1}/fc2", "dense"),
    (r"layers\.(\d+)\.1\.0\.(weight|bias)", "aggregate{0}_conv", "conv"),
    (r"layers\.(\d+)\.1\.1\.(g|b)", "aggregate{0}_norm", "norm"),
    (r"mlp_head\.0\.(g|b)", "head_norm", "norm"),
    (r"mlp_head\.2\.(weight|bias)", "head", "dense"),
)


def params_from_torch(state: dict, *, flip_input_channels: bool = True, channels: int = 3) -> dict:
    """The reference HTNet's state_dict (name -> array; torch tensors or numpy) as
    this module's params.

    ``flip_input_channels``: the reference reads the flow PNG with cv2.imread, so
    its channels are B, G, R = (strain, v, u); the records hold (u, v, strain).
    True reverses the patch embedding's input channels so the converted weights
    read the records as the reference read its PNGs.
    """
    params: dict = {}
    for name, value in state.items():
        a = np.asarray(value.detach().cpu().numpy() if hasattr(value, "detach") else value,
                       np.float32)
        for pattern, template, kind in _TORCH_NAMES:
            m = re.fullmatch(pattern, name)
            if m:
                break
        else:
            raise ValueError(f"htnet: {name!r} is not a parameter of the reference HTNet")
        groups = m.groups()
        path = template.format(*groups[:-1]) if kind != "array" else template.format(*groups)
        leaf = {"weight": "kernel", "bias": "bias", "g": "g", "b": "b"}.get(groups[-1])
        if kind == "array":
            *path, leaf = path.split("/")
            path = "/".join(path)
        elif kind == "norm":
            a = a.reshape(-1)
        elif kind == "dense" and leaf == "kernel":  # (out, in[, 1, 1]) -> (in, out)
            a = a.reshape(a.shape[0], -1)
            if path == "patch_embed" and flip_input_channels:
                p = int(round(math.sqrt(a.shape[1] // channels)))
                a = a.reshape(a.shape[0], p, p, channels)[..., ::-1].reshape(a.shape[0], -1)
            a = a.T
        elif kind == "conv" and leaf == "kernel":  # (out, in, kh, kw) -> (kh, kw, in, out)
            a = a.transpose(2, 3, 1, 0)
        node = params
        for key in path.split("/"):
            node = node.setdefault(key, {})
        node[leaf] = np.ascontiguousarray(a)
    return params


def check_params(params: dict, model: HTNet, channels: int = 3) -> None:
    """Raise ValueError unless ``params`` has exactly the model's names and shapes."""
    x = {"flow": jax.ShapeDtypeStruct((1, model.image_size, model.image_size, channels),
                                      jnp.float32)}
    want = jax.eval_shape(lambda k, v: model.init(k, v, train=False),
                          jax.random.key(0), x)["params"]
    flat_want = {jax.tree_util.keystr(k): v.shape
                 for k, v in jax.tree_util.tree_leaves_with_path(want)}
    flat_got = {jax.tree_util.keystr(k): np.shape(v)
                for k, v in jax.tree_util.tree_leaves_with_path(params)}
    if flat_want != flat_got:
        missing = sorted(set(flat_want) - set(flat_got))
        extra = sorted(set(flat_got) - set(flat_want))
        wrong = sorted(k for k in set(flat_want) & set(flat_got) if flat_want[k] != flat_got[k])
        raise ValueError(f"htnet: converted params do not fit the model: missing {missing[:5]}, "
                         f"unexpected {extra[:5]}, wrong shape {wrong[:5]}")
