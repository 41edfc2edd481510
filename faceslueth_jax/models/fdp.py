"""FDP: micro-expression recognition via fine-grained dynamic perception (Shao et al.,
arXiv 2509.06015), in Flax.

Input ``views["frames"]``: (B, T, S, S, 1), T frames at uniform positions over
the whole clip onset..offset (``tfds_builders.features.clip_frame_numbers``),
grey aligned faces normalised (x / 255 - 0.5) / 0.5 (``records.prepare``).

    X_t  = LGFT(frame t)                              (B, T, h, w, C), h = w = S / 32
    R_t  = RankScorer(X)_t + b_t                      (B, T, h, w, R) rank scores
    P    = (1/T) sum_t R_t (x) X_t                    (B, h, w, R, C) temporal pooling
    logits = fc_K(ReLU(fc_H(dropout(flatten P))))     MER module
    D    = Decoder(P)                                 (B, S, S, 1) in 0..1 (sigmoid)

LGFT is the local-global feature-aware transformer (``models.lgft``). The rank
scorer is one 3D convolution over (frames, rows, columns) of the stacked frame
feature maps, kernel (score_kernel, 3, 3), 'same' padding, C -> R channels: each
frame gets R scores per position, from its own features and its neighbours' in
time; b_t is a learned per-frame offset, initialised to the approximate
rank-pooling weights fw / max|fw| (``models.dynamic_image``). fw sums to zero
over the frames, so rank pooling cancels what all frames share (the face's
appearance) and keeps their change. With ``score_init='rank'`` the 3D kernel
starts at zero and the pooling starts as exactly that; with 'random' (the
default) it is drawn as any convolution's, and its scores, of the features'
scale and not summing to zero, let the appearance through: on the aligned
synthetic clips 99.6% of the pooled energy at init is the mean frame's
(``bench/fdp_pooling_probe.py``). The temporal pooling sums the
frames' features weighted by their scores (R pooled maps, one per score
channel): the "dynamic representation" shared by the MER module and the decoder.

The decoder is SegNet-style: P as an (h, w, R C) map -> conv1x1 to c0 channels,
ReLU -> nearest upsampling to a (g, g, c0) grid -> an
encoder of conv3x3-BN-ReLU + 2x2 max pool per width of ``decoder_dims``
(remembering each pool's argmax) -> a decoder that max-unpools with those
switches, each followed by conv3x3-BN-ReLU -> nearest x2 upsampling with
conv3x3-BN-ReLU until S -> conv3x3 to one channel -> sigmoid.

Training target: the dynamic image of the input frames by approximate rank
pooling, min-max normalised to 0..1 per sample (``models.dynamic_image``), with
the gradient stopped. In train mode the model sows
``mse_weight * mean over pixels (D - DI)^2`` per sample, shape (B,), into the
"losses" collection (``fold_step.AUX_LOSSES``); the trainer adds it to each
sample's cross-entropy (the paper: CE + 100 x MSE). At initialisation (which
runs in eval mode) the decoder runs too, so its parameters exist; at
evaluation it is skipped.

Departures from the public code (CYF-cuber/FDP at 7ad36d9, per the project's
notes; the paper is followed where they differ):
  * The public encoder builds only the convolutional (local) blocks of its
    Next-ViT adaptation, no attention; here the global blocks (self-attention
    with spatial reduction) are built as the paper describes, at the positions
    Next-ViT-S puts them (``global_every``).
  * The public "rank scorer" reshapes the stacked (B, 8, 4096) frame features to
    (B, 1, 64, 64, 8) without a permute, so its Conv3d kernel of depth 8 runs
    over 8 consecutive feature elements of one frame instead of over the 8
    frames. Here the 3D convolution runs over the frame axis (and the feature
    map's rows and columns) as the paper says: the frames are scored and the
    scored features pooled over time.
  * The public MER head max-pools the Conv3d output and maps 3528 -> 256 ->
    classes; here it reads the flattened pooled features (hidden width
    ``head_hidden``, 256 in the paper preset).
  * The per-frame score offset initialised to the rank-pooling weights is this
    implementation's choice (the paper does not give the scorer's initialisation).
  * BatchNorm uses PyTorch's momentum/epsilon (``layers.batch_norm``), statistics
    over all frames of the batch.
Sizes: ``PRESETS`` in configs/fdp_recipe.py ('compact' for a 2-core CPU, 0.24 M
parameters; 'paper': Next-ViT-S-like stem 64/32/64, depths 3/4/10/3, local widths
96/192/384/768 and global widths -/256/512/1024, head_dim 8, sr 8/4/2/1,
2x2x1024 = 4096 features per frame, 8 rank heads: 42.2 M parameters, of which
the encoder 32.7 M, the MER head 8.4 M, the decoder 0.9 M; the public code's
85.3 M are not matched, its decoder's and head's sizes not being reproduced).
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from faceslueth_jax.models.dynamic_image import dynamic_image, rank_pooling_weights
from faceslueth_jax.models.layers import Dropout
from faceslueth_jax.models.lgft import ConvBN, LocalGlobalTransformer

AUX_LOSS_NAME = "dynamic_image"  # sown into the "losses" collection
# model.fdp.score_init -> the rank scorer's 3D kernel at init (RankScorer)
KERNEL_INITS = {"random": nn.linear.default_kernel_init, "rank": nn.initializers.zeros}
SCORE_INITS = tuple(KERNEL_INITS)


def rank_scores(num_frames: int) -> np.ndarray:
    """(T,) fw / max|fw|: the scores of approximate rank pooling, largest magnitude 1."""
    fw = rank_pooling_weights(num_frames)
    return fw / np.abs(fw).max()


class RankScorer(nn.Module):
    """(B, T, h, w, C) frame features -> (B, T, h, w, R) rank scores (module docstring).

    ``score_init``: 'random' draws the 3D kernel as any convolution's (LeCun normal),
    whose scores at init are of the features' scale and do not sum to zero over time;
    'rank' starts the kernel at zero, so the scores start as exactly fw / max|fw|."""
    rank_heads: int
    score_kernel: int = 3
    score_init: str = "random"

    @nn.compact
    def __call__(self, x):
        t = x.shape[1]
        k = self.score_kernel
        if self.score_init not in SCORE_INITS:
            raise ValueError(f"unknown score_init {self.score_init!r}; choose from {SCORE_INITS}")
        scores = nn.Conv(self.rank_heads, (k, 3, 3), padding="SAME",
                         kernel_init=KERNEL_INITS[self.score_init], name="conv3d")(x)
        offset = self.param("frame_offset",
                            lambda _: jnp.asarray(np.tile(rank_scores(t)[:, None],
                                                          (1, self.rank_heads))))
        return scores + offset[None, :, None, None, :]


def temporal_pool(scores, features):
    """(B, T, h, w, R) scores, (B, T, h, w, C) features -> (B, h, w, R, C):
    the score-weighted mean over frames."""
    return jnp.einsum("bthwr,bthwc->bhwrc", scores, features) / features.shape[1]


def max_pool_with_switches(x):
    """2x2 max pool of (B, H, W, C) and the one-hot position of each window's max
    (first in row-major order on ties), (B, H/2, W/2, C, 4)."""
    b, h, w, c = x.shape
    windows = x.reshape(b, h // 2, 2, w // 2, 2, c).transpose(0, 1, 3, 5, 2, 4)
    windows = windows.reshape(b, h // 2, w // 2, c, 4)
    switches = jax.nn.one_hot(jnp.argmax(windows, axis=-1), 4, dtype=x.dtype)
    return windows.max(axis=-1), switches


def max_unpool(y, switches):
    """SegNet's unpooling: each value back to where its window's max was, zeros elsewhere."""
    b, h, w, c = y.shape
    out = (y[..., None] * switches).reshape(b, h, w, c, 2, 2).transpose(0, 1, 4, 2, 5, 3)
    return out.reshape(b, 2 * h, 2 * w, c)


class DynamicImageDecoder(nn.Module):
    """Pooled features (B, h, w, R, C) -> (B, S, S, 1) in 0..1 (module docstring)."""
    size: int
    grid: int = 8
    dims: Sequence[int] = (32, 64)
    batch_axis: str | None = None

    @nn.compact
    def __call__(self, z, train: bool):
        c0 = self.dims[0]
        x = z.reshape(z.shape[:3] + (-1,))
        x = nn.relu(nn.Conv(c0, (1, 1), name="to_grid")(x))
        x = jax.image.resize(x, (x.shape[0], self.grid, self.grid, c0), "nearest")
        switches = []
        for i, width in enumerate(self.dims):
            x = ConvBN(width, 3, relu=True, batch_axis=self.batch_axis, name=f"enc{i}")(x, train)
            x, s = max_pool_with_switches(x)
            switches.append(s)
        for i, width in reversed(list(enumerate(self.dims))):
            x = max_unpool(x, switches[i])
            x = ConvBN(self.dims[max(i - 1, 0)], 3, relu=True, batch_axis=self.batch_axis,
                       name=f"dec{i}")(x, train)
        side, i = self.grid, 0
        while side < self.size:
            x = jax.image.resize(x, (x.shape[0], 2 * side, 2 * side, x.shape[-1]), "nearest")
            x = ConvBN(c0, 3, relu=True, batch_axis=self.batch_axis, name=f"up{i}")(x, train)
            side, i = 2 * side, i + 1
        return nn.sigmoid(nn.Conv(1, (3, 3), padding=1, name="out")(x))


class FDP(nn.Module):
    num_classes: int
    num_frames: int = 8
    encoder: dict | None = None        # LocalGlobalTransformer fields
    rank_heads: int = 4
    score_kernel: int = 3
    score_init: str = "random"         # RankScorer.score_init
    head_hidden: int = 128
    dropout: float = 0.0
    decoder_grid: int = 8
    decoder_dims: Sequence[int] = (32, 64)
    mse_weight: float = 100.0
    batch_axis: str | None = None      # mapped axis a batch is split over (layers.batch_norm)
    decode_at_eval: bool = False       # also decode in eval mode, sown as intermediates
                                       # 'decoded' (for pictures; the logits are unchanged)

    @nn.compact
    def __call__(self, views: dict, *, train: bool):
        if "frames" not in views:
            raise ValueError("FDP reads views['frames']: build the records with "
                             "data.build.clip_frames (data.synthetic.clip_frames) > 0")
        frames = views["frames"]
        b, t, s = frames.shape[0], frames.shape[1], frames.shape[2]
        if t != self.num_frames or frames.shape[2] != frames.shape[3]:
            raise ValueError(f"FDP expects frames (batch, {self.num_frames}, S, S, C), "
                             f"got {frames.shape}: model.fdp.frames must equal the records' "
                             "clip_frames")
        encoder = LocalGlobalTransformer(**(self.encoder or {}), batch_axis=self.batch_axis,
                                         name="encoder")
        x = encoder(frames.reshape((b * t,) + frames.shape[2:]), train)
        x = x.reshape((b, t) + x.shape[1:])
        scores = RankScorer(self.rank_heads, self.score_kernel, self.score_init,
                            name="rank_scorer")(x)
        pooled = temporal_pool(scores, x)
        z = pooled.reshape(b, -1)

        h = Dropout(self.dropout)(z, deterministic=not train) if self.dropout else z
        h = nn.relu(nn.Dense(self.head_hidden, name="fc1")(h))
        if self.dropout:
            h = Dropout(self.dropout)(h, deterministic=not train)
        logits = nn.Dense(self.num_classes, name="classifier")(h)

        if train or self.is_initializing() or self.decode_at_eval:
            decoded = DynamicImageDecoder(s, self.decoder_grid, tuple(self.decoder_dims),
                                          self.batch_axis, name="decoder")(pooled, train)
            if not train:
                self.sow("intermediates", "decoded", decoded)
            if train:
                target = jax.lax.stop_gradient(dynamic_image(frames))
                per_sample = self.mse_weight * jnp.mean(
                    (decoded - target) ** 2, axis=(1, 2, 3))
                self.sow("losses", AUX_LOSS_NAME, per_sample)
        return logits


ENCODER_FIELDS = ("stem_widths", "depths", "dims", "global_dims", "global_every", "sr_ratios",
                  "head_dim", "mlp_ratio")


def check_config(f) -> None:
    """ValueError for a ``model.fdp`` the model cannot be built from, before any data."""
    if f.get("score_init", "random") not in SCORE_INITS:
        raise ValueError(f"model.fdp.score_init is {f.score_init!r}; choose from {SCORE_INITS}")


def from_config(f, num_classes: int) -> FDP:
    """The FDP of ``model.fdp`` (configs/fdp_recipe.py defines its fields)."""
    check_config(f)
    tupled = {k: tuple(v) if isinstance(v, (list, tuple)) else v
              for k, v in ((k, f[k]) for k in ENCODER_FIELDS)}
    return FDP(num_classes=num_classes, num_frames=f.frames, encoder=tupled,
               rank_heads=f.rank_heads, score_kernel=f.score_kernel,
               score_init=f.get("score_init", "random"),
               head_hidden=f.head_hidden, dropout=f.dropout, decoder_grid=f.decoder_grid,
               decoder_dims=tuple(f.decoder_dims), mse_weight=f.mse_weight)
