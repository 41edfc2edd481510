"""The parameter-free recurrent convolutional networks of Xia et al. (IEEE TIP 2020,
composite-database micro-expression recognition), RCN-A and RCN-S, at the sizes
tvaranka/meb trains on the composite (F = 64 feature maps, pooled grid P = 7,
3-channel flow (u, v, strain) at 60 x 60).

    h  = dropout(maxpool_2(relu(BN(conv5x5_{valid}(x, F)))))          (60 -> 56 -> 28)

RCN-A: one recurrent convolutional layer (RCL) and a class-activation attention:

    RCL(h):  y = relu(BN_f(conv1x1(h)));  r = relu(BN_r(conv3x3(h + y)));
             r = relu(BN_r(conv3x3(h + r)))     (the same conv3x3 and BN_r twice)
             out = dropout(maxpool_2(r))                               (28 -> 14)
    A      = adaptive_avgpool_P(h)                                     (P x P x F)
    cam_c  = mean_f(W_c * A), W_c = the classifier's weights of class c, seen as
             P x P x F; each cam_c min-max scaled over space per sample
    a      = mean_c cam_c                                              (P x P x 1)
    logits = W flatten(adaptive_avgpool_P(RCL(h)) * a) + b

RCN-S: no attention; the RCL is replaced by the dense block
    y = relu(BN_1(conv1x1(h))); z = c(h + y); e = c(h + y + z); d = c(h + y + z + e)
    with c = relu(BN_2(conv3x3(.))) (one module, three times); out = dropout(maxpool_2(d)).

Dropout is element-wise, rate 0.5. Adaptive pooling splits n cells into P bins
[floor(i n / P), ceil((i + 1) n / P)), as torch's AdaptiveAvgPool2d. The attention's
scaling divides by max(max cam, 1e-12) (the reference divides by the max alone, which a
flat map, such as an all-zero input, turns into NaN). Initialisation
as the reference: convolutions He-normal on fan-out, the classifier N(0, 0.01^2) with
zero bias. Parameters for K classes (F = 64, P = 7): 4 992 (conv, BN) + 41 344 (RCL)
+ 3137 K, 55 747 for K = 3 (RCN-S's dense block: 41 344 as well, its third
convolution unused in the reference and not built here).

The reference's RCN-W and RCN-P need dilated convolutions, and meb's RCN-P does not
run (its forward reads a classifier it never builds); they are not provided.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from faceslueth_jax.models import field_checks
from faceslueth_jax.models.layers import Conv, Dropout, batch_norm

HE_FAN_OUT = nn.initializers.variance_scaling(2.0, "fan_out", "normal")
CLASSIFIER_INIT = nn.initializers.normal(0.01)


def adaptive_pool_matrix(n: int, p: int) -> np.ndarray:
    """(p, n): row i averages cells floor(i n / p) .. ceil((i + 1) n / p) - 1."""
    m = np.zeros((p, n), np.float32)
    for i in range(p):
        start, end = (i * n) // p, -((-(i + 1) * n) // p)
        m[i, start:end] = 1.0 / (end - start)
    return m


def adaptive_avg_pool(x, p: int):
    """(B, H, W, C) -> (B, p, p, C), torch's AdaptiveAvgPool2d((p, p))."""
    rows = jnp.asarray(adaptive_pool_matrix(x.shape[1], p))
    cols = jnp.asarray(adaptive_pool_matrix(x.shape[2], p))
    return jnp.einsum("ih,bhwc,jw->bijc", rows, x, cols)


def class_attention(pooled, kernel):
    """(B, P, P, F) pooled maps and the (P P F, K) classifier kernel -> (B, P, P, 1):
    the mean over classes of each class's activation map, min-max scaled per sample."""
    b, p, _, f = pooled.shape
    weights = kernel.reshape(p, p, f, -1)
    cams = jnp.einsum("bijf,ijfk->bijk", pooled, weights) / f
    cams = cams - cams.min(axis=(1, 2), keepdims=True)
    cams = cams / jnp.maximum(cams.max(axis=(1, 2), keepdims=True), 1e-12)
    return cams.mean(-1, keepdims=True)


class ConvBN(nn.Module):
    """relu(BN(conv_k(x))), the reference's Conv-BN-ReLU unit."""
    features: int
    kernel_size: int
    padding: int
    conv_impl: str = "auto"
    batch_axis: str | None = None

    @nn.compact
    def __call__(self, x, *, train: bool):
        x = Conv(self.features, self.kernel_size, padding=self.padding, use_bias=True,
                 impl=self.conv_impl, kernel_init=HE_FAN_OUT, name="conv")(x)
        return nn.relu(batch_norm(train, "bn", self.batch_axis)(x))


class RCN(nn.Module):
    num_classes: int
    variant: str = "a"          # 'a' (RCL and attention) or 's' (dense block)
    features: int = 64
    pool_size: int = 7
    dropout: float = 0.5
    conv_impl: str = "auto"
    batch_axis: str | None = None

    def _unit(self, k: int, name: str):
        return ConvBN(self.features, k, k // 2, self.conv_impl, self.batch_axis, name=name)

    @nn.compact
    def __call__(self, views: dict, *, train: bool):
        x = views["flow"]
        h = ConvBN(self.features, 5, 0, self.conv_impl, self.batch_axis, name="conv1")(
            x, train=train)
        h = Dropout(self.dropout, name="dropout1")(
            nn.max_pool(h, (2, 2), strides=(2, 2)), deterministic=not train)
        p, f = self.pool_size, self.features
        kernel = self.param("classifier_kernel", CLASSIFIER_INIT, (p * p * f, self.num_classes))
        bias = self.param("classifier_bias", nn.initializers.zeros, (self.num_classes,))
        if self.variant == "a":
            feed, recur = self._unit(1, "rcl_feed"), self._unit(3, "rcl_recurrent")
            r = recur(h + feed(h, train=train), train=train)
            r = recur(h + r, train=train)
        elif self.variant == "s":
            first, dense = self._unit(1, "dense_1x1"), self._unit(3, "dense_3x3")
            y = first(h, train=train)
            z = dense(h + y, train=train)
            e = dense(h + y + z, train=train)
            r = dense(h + y + z + e, train=train)
        else:
            raise ValueError(f"model.rcn variant must be 'a' or 's', got {self.variant!r}")
        r = Dropout(self.dropout, name="dropout2")(
            nn.max_pool(r, (2, 2), strides=(2, 2)), deterministic=not train)
        z = adaptive_avg_pool(r, p)
        if self.variant == "a":
            z = z * class_attention(adaptive_avg_pool(h, p), kernel)
        return z.reshape(z.shape[0], -1) @ kernel + bias


def from_config(cfg, num_classes: int) -> RCN:
    """RCN from ``model.rcn_a`` or ``model.rcn_s`` (variant, features, pool_size, dropout,
    conv_impl)."""
    return RCN(num_classes=num_classes, variant=cfg.variant, features=cfg.features,
               pool_size=cfg.pool_size, dropout=cfg.dropout,
               conv_impl=cfg.get("conv_impl", "auto"))


def check_config(cfg) -> None:
    """``model.rcn_a`` / ``model.rcn_s``: variant 'a' or 's', positive sizes."""
    if cfg.variant not in ("a", "s"):
        raise ValueError(f"model.rcn_*.variant must be 'a' or 's', got {cfg.variant!r}")
    field_checks.positive_ints("model.rcn_*", features=cfg.features, pool_size=cfg.pool_size)
