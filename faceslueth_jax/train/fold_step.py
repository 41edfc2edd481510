"""The maths of one fold: its state, one training step, one epoch, its test logits.

Every function here is pure and module-level, so each can be called and tested
alone (as flax's ``train_step``); ``fold_trainer`` maps them over folds and
devices. ``model`` is any Flax module mapping a dict of batched views to logits.

One step on a batch of B samples (positions p of the epoch's permutation; the
weight w_i = 1 for training samples, 0 for the fillers that pad a fold's last
batch or the steps it does not need; ``batch_weights``):

    loss = sum_i w_i (CE_i + sum_aux aux_i) / max(sum_i w_i, 1)

where ``aux`` are the per-sample losses the model sows into ``AUX_LOSSES``
(FDP's dynamic-image reconstruction). Options of the recipe (``train.*``):
``label_smoothing`` eps: CE against (1 - eps) onehot + eps / K; ``class_balance``:
w_i = n / (K n_c) for a sample of class c, n_c counted over the fold's training
samples (so every class weighs the same in the loss); ``ema_decay`` d > 0: the fold
also keeps an exponential moving average of its weights,

    ema_t = m_t ema_{t-1} + (1 - m_t) params_t,   m_t = min(d, (1 + t) / (10 + t)),

(t: steps applied so far), BatchNorm's running moments averaged alike, and its test
logits come from the averages; ``mixup_alpha``
a > 0: after augmentation each sample i is mixed with its partner j = i XOR 1 (the
neighbouring position of the batch, on the same device),

    x_i <- lam_i x_i + (1 - lam_i) x_j,   y_i <- lam_i onehot(y_i) + (1 - lam_i) onehot(y_j),

lam_i ~ Beta(a, a) from sample i's own key (lam_i = 1 when j is a filler), and the
cross-entropy is taken against the mixed targets.

Fillers take no part at all: their inputs are zeroed, their losses dropped (not
multiplied by 0, so a NaN cannot leak) and BatchNorm's moments leave them out
(``batch_context``). With the mesh axis ``data`` of size D every device holds B / D
samples; losses and gradients are summed over it. A step whose batch has no
weight leaves the state untouched. A step whose loss, gradients or updated weights
are not all finite leaves it untouched too and marks the fold diverged: it stays
frozen at the weights from before that step, and is tested with them.

Randomness of fold f (key k_f): initial weights from fold_in(k_f, 0); epoch e
from fold_in(fold_in(k_f, 1), e), split into the permutation's key and the
steps' key; step s from fold_in(steps' key, s), split into augmentation (one key
per sample of the whole batch, then this device's share) and dropout (the same
key on every device; layers split it per sample of the whole batch, see
``models.layers.sample_keys``). So no draw depends on the placement.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import flax
import jax
import jax.numpy as jnp
import optax

from faceslueth_jax import batch_context
from faceslueth_jax.data import augment
from faceslueth_jax.train.placement import DATA

# Collection in which a model sows per-sample (B,) auxiliary training losses
# (``self.sow(AUX_LOSSES, name, loss)``); each is added to the cross-entropy.
AUX_LOSSES = "losses"


@flax.struct.dataclass
class FoldState:
    params: dict
    batch_stats: dict
    opt_state: optax.OptState
    diverged: jax.Array  # bool ()
    ema: dict = dataclasses.field(default_factory=dict)  # {} or {"params", "steps"}


@flax.struct.dataclass
class FoldSpec:
    key: jax.Array        # (2,) uint32
    train_idx: jax.Array  # (M,) int32 rows of the device group's data block, valid up to num_train
    num_train: jax.Array  # () int32
    test_idx: jax.Array   # (S,) int32 rows of the device group's data block


def init_fold(model, example: dict, optimizer, key, ema: bool = False) -> FoldState:
    """Fold f's initial state from its key k_f (parameters drawn with fold_in(k_f, 0));
    with ``ema`` the weights' moving average starts at the initial weights."""
    variables = model.init(jax.random.fold_in(key, 0), example, train=False)
    params = variables["params"]
    stats = variables.get("batch_stats", {})
    average = ({"params": params, "batch_stats": stats, "steps": jnp.zeros((), jnp.int32)}
               if ema else {})
    return FoldState(params=params, batch_stats=stats,
                     opt_state=optimizer.init(params), diverged=jnp.array(False), ema=average)


def update_ema(ema: dict, params, batch_stats, decay: float) -> dict:
    """ema <- m ema + (1 - m) new with m = min(decay, (1 + t) / (10 + t)), for the
    weights and, alike, BatchNorm's running moments (so the averaged weights are
    tested with statistics of averaged weights, not of the live ones)."""
    t = ema["steps"].astype(jnp.float32)
    m = jnp.minimum(decay, (1.0 + t) / (10.0 + t))

    def average(old, new):
        return jax.tree.map(lambda e, p: m * e + (1.0 - m) * p, old, new)

    return {"params": average(ema["params"], params),
            "batch_stats": average(ema["batch_stats"], batch_stats), "steps": ema["steps"] + 1}


def eval_variables(state: FoldState) -> tuple:
    """(params, batch_stats) a fold is tested with: the moving averages when it keeps
    them."""
    if state.ema:
        return state.ema["params"], state.ema["batch_stats"]
    return state.params, state.batch_stats


def cast_floats(tree, dtype):
    """Every floating leaf of ``tree`` as ``dtype`` (others unchanged)."""
    return jax.tree.map(lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating)
                        else a, tree)


def apply_in(model, variables, views, dtype, **kwargs):
    """``model.apply`` computed in ``dtype`` ('float32': as is; 'bfloat16': parameters,
    statistics and views cast to bf16 for the computation while the parameters
    themselves stay float32, the gradient reaching them through the casts); what it
    returns (logits, mutated collections) as float32."""
    if jnp.dtype(dtype) == jnp.float32:
        return model.apply(variables, views, **kwargs)
    out = model.apply(cast_floats(variables, dtype), cast_floats(views, dtype), **kwargs)
    return cast_floats(out, jnp.float32)


def weighted_loss(model, params, batch_stats, views, labels, weight, total_weight,
                  dropout_key, offset, batch_size: int, label_smoothing: float = 0.0,
                  compute_dtype: str = "float32"):
    """(loss, new batch_stats): this device's share of the batch's weighted mean loss.
    ``labels``: (B,) class indices or (B, K) target probabilities (mixup).
    ``offset``: index of this device's first sample in the batch of ``batch_size``.
    ``compute_dtype``: see ``apply_in``."""
    real = weight > 0
    views = {k: jnp.where(real.reshape((-1,) + (1,) * (v.ndim - 1)), v, jnp.zeros_like(v))
             for k, v in views.items()}  # fillers: zeros, so nothing of theirs is NaN
    with batch_context.within(real, offset, batch_size):
        logits, updates = apply_in(
            model, {"params": params, "batch_stats": batch_stats}, views, compute_dtype,
            train=True, mutable=["batch_stats", AUX_LOSSES], rngs={"dropout": dropout_key})
    if labels.ndim == 2 or label_smoothing:  # (B, K) soft targets (mixup) or smoothing
        targets = labels if labels.ndim == 2 else jax.nn.one_hot(labels, logits.shape[-1])
        if label_smoothing:
            targets = optax.smooth_labels(targets, label_smoothing)
        per_sample = optax.softmax_cross_entropy(logits, targets)
    else:
        per_sample = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    for aux in jax.tree.leaves(updates.get(AUX_LOSSES, {})):
        per_sample = per_sample + aux  # e.g. FDP's dynamic-image reconstruction
    loss = jnp.sum(jnp.where(real, per_sample * weight, 0.0)) / jnp.maximum(total_weight, 1.0)
    return loss, updates.get("batch_stats", {})


def balanced_class_weights(labels, valid, num_classes: int) -> jax.Array:
    """(K,) weights n / (K n_c) over the ``valid`` entries of ``labels`` (n of them,
    n_c of class c): each class then carries the same total weight."""
    counts = jnp.sum(jnp.where(valid[:, None], jax.nn.one_hot(labels, num_classes), 0.0), axis=0)
    return jnp.sum(valid) / (num_classes * jnp.maximum(counts, 1.0))


def mixup(keys, views: dict, labels, real, num_classes: int, alpha: float):
    """(mixed views, (B, K) targets): sample i mixed with i XOR 1 by lam_i ~ Beta(a, a)
    drawn from ``keys[i]``; lam_i = 1 where the partner is not ``real``. Only floating
    views are mixed. B must be even (pairs never straddle two devices)."""
    size = labels.shape[0]
    if size % 2:
        raise ValueError(f"train.mixup_alpha needs an even number of samples per device, "
                         f"got {size}")
    partner = jnp.arange(size) ^ 1
    lam = jax.vmap(lambda k: jax.random.beta(jax.random.fold_in(k, 2), alpha, alpha))(keys)
    lam = jnp.where(real[partner], lam, 1.0)

    def mix(v):
        if not jnp.issubdtype(v.dtype, jnp.floating):
            return v
        w = lam.reshape((-1,) + (1,) * (v.ndim - 1)).astype(v.dtype)
        return w * v + (1 - w) * v[partner]

    onehot = jax.nn.one_hot(labels, num_classes)
    return ({k: mix(v) for k, v in views.items()},
            lam[:, None] * onehot + (1 - lam[:, None]) * onehot[partner])


def all_finite(tree) -> jax.Array:
    """() bool: every element of every leaf of ``tree`` is finite.

    One reduction over the leaves laid end to end: a reduction per leaf costs XLA:CPU
    a kernel per leaf in the loop body, and the tests' tiny FaceSleuth-R compiled 1.75
    times slower that way (``bench/finite_check_compile.py``)."""
    leaves = [x.ravel() for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.inexact)]
    return jnp.all(jnp.isfinite(jnp.concatenate(leaves))) if leaves else jnp.array(True)


def train_step(model, optimizer, state: FoldState, views: dict, labels, weight, dropout_key,
               offset=0, batch_size: int | None = None, label_smoothing: float = 0.0,
               ema_decay: float = 0.0, compute_dtype: str = "float32"
               ) -> tuple[FoldState, jax.Array, jax.Array]:
    """One optimiser step on a weighted batch (this device's share of it under the
    mesh axis ``data``, starting at sample ``offset`` of ``batch_size``; default the
    whole batch): (new state, the batch's loss, NaN when the step diverged, its total
    weight)."""
    total_weight = jax.lax.psum(weight.sum(), DATA)
    (loss, batch_stats), grads = jax.value_and_grad(weighted_loss, argnums=1, has_aux=True)(
        model, state.params, state.batch_stats, views, labels, weight, total_weight, dropout_key,
        offset, batch_size or weight.shape[0], label_smoothing, compute_dtype)
    loss, grads = jax.lax.psum((loss, grads), DATA)
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    ema = update_ema(state.ema, params, batch_stats, ema_decay) if state.ema else state.ema
    new = FoldState(params, batch_stats, opt_state, state.diverged, ema)
    # a finite loss can still come with a NaN gradient (e.g. sqrt at 0): the step is
    # applied only when the loss, every gradient and every new weight are finite
    finite = jnp.isfinite(loss) & all_finite(grads) & all_finite((params, batch_stats))
    apply = (total_weight > 0) & finite & ~state.diverged
    state = jax.tree.map(lambda n, o: jnp.where(apply, n, o), new, state)
    state = state.replace(diverged=state.diverged | ~finite)
    return state, jnp.where(finite, loss, jnp.nan), total_weight


LAST_BATCH = ("fill", "short")


def batch_weights(positions, num_train, batch_size: int, last_batch: str = "fill"):
    """Weights of the epoch's ``positions`` (sample p of the fold's permutation is
    position p; position p >= n wraps to p mod n) for a fold of n training samples:

      'fill'   1 for p < ceil(n / B) B: the fold's last batch is completed with the
               start of its permutation, so every batch it trains on holds B samples;
      'short'  1 for p < n: the last batch holds n mod B samples (PyTorch's
               DataLoader, drop_last=False); the rest are weight-0 fillers.

    Positions beyond are weight-0 fillers either way (a fold with fewer samples than
    the largest skips the steps it does not need). A batch of a few real samples
    gives BatchNorm moments of those few and one full-size step on them; with Adam
    such a step every epoch stalled training (the synthetic data, n = 194, B = 32:
    loss 0.89 after 30 epochs with 'short', 0.12 with full batches)."""
    if last_batch == "fill":
        end = -(-num_train // batch_size) * batch_size
    elif last_batch == "short":
        end = num_train
    else:
        raise ValueError(f"train.last_batch must be one of {LAST_BATCH}, got {last_batch!r}")
    return (positions < end).astype(jnp.float32)


def train_epoch(model, optimizer, train_cfg, state: FoldState, spec: FoldSpec, data_views: dict,
                data_labels, epoch, *, steps: int, data_parallel: int, u_mirror_offset: float,
                unroll: int, num_classes: int = 0) -> tuple[FoldState, jax.Array]:
    """``steps`` steps over a fresh permutation of the fold's training rows:
    (new state, the epoch's mean training loss, NaN once diverged).
    ``num_classes``: K, needed by ``train_cfg.class_balance`` and ``mixup_alpha``."""
    batch_size = train_cfg.batch_size
    local = batch_size // data_parallel  # this device's share of every batch
    shard = jax.lax.axis_index(DATA)
    epoch_key = jax.random.fold_in(jax.random.fold_in(spec.key, 1), epoch)
    perm_key, step_key = jax.random.split(epoch_key)
    num_slots = spec.train_idx.shape[0]
    valid = jnp.arange(num_slots) < spec.num_train
    order = jnp.argsort(jnp.where(valid, jax.random.uniform(perm_key, (num_slots,)), 2.0))
    class_weight = None
    alpha = train_cfg.get("mixup_alpha", 0.0)
    if (train_cfg.get("class_balance", False) or alpha) and num_classes < 1:
        raise ValueError("train.class_balance and train.mixup_alpha need "
                         "train_epoch(num_classes=K)")
    if train_cfg.get("class_balance", False):
        class_weight = balanced_class_weights(data_labels[spec.train_idx], valid, num_classes)

    last_batch = train_cfg.get("last_batch", "fill")

    def step(state: FoldState, s):
        positions = s * batch_size + shard * local + jnp.arange(local)
        weight = batch_weights(positions, spec.num_train, batch_size, last_batch)
        idx = spec.train_idx[order[positions % spec.num_train]]
        if class_weight is not None:
            weight = weight * class_weight[data_labels[idx]]
        views = gather(data_views, idx)
        augment_key, dropout_key = jax.random.split(jax.random.fold_in(step_key, s))
        keys = jax.random.split(augment_key, batch_size)  # one per sample of the batch
        keys = jax.lax.dynamic_slice_in_dim(keys, shard * local, local)
        # jitter and spatial augmentation (none without cfg.augment); drops the windows
        views = augment.train_views(keys, views, train_cfg, u_mirror_offset)
        labels = data_labels[idx]
        if alpha:
            views, labels = mixup(keys, views, labels, weight > 0, num_classes, alpha)
        state, loss, total_weight = train_step(
            model, optimizer, state, views, labels, weight, dropout_key, shard * local,
            batch_size, train_cfg.get("label_smoothing", 0.0), train_cfg.get("ema_decay", 0.0),
            train_cfg.get("compute_dtype", "float32"))
        return state, (loss, total_weight)

    state, (losses, counts) = jax.lax.scan(step, state, jnp.arange(steps), unroll=unroll)
    mean_loss = jnp.sum(jnp.nan_to_num(losses, nan=0.0) * counts) / jnp.maximum(counts.sum(), 1)
    return state, jnp.where(state.diverged, jnp.nan, mean_loss)


def gather(views: dict, rows) -> dict:
    """The ``rows`` of every view, float32 (views may sit on device as bfloat16)."""
    return {k: v[rows].astype(jnp.float32) if jnp.issubdtype(v.dtype, jnp.floating)
            else v[rows] for k, v in views.items()}


def test_logits(model, state: FoldState, test_idx, data_views: dict, batch_size: int,
                unroll: int, compute_dtype: str = "float32", mirror_offset: float | None = None):
    """Logits (S, K) of the fold's test rows, in batches of at most B (bounded memory),
    computed in ``compute_dtype`` as training is (``apply_in``); with ``mirror_offset``
    (the flow's c, ``augment.mirror_sample``) of the rows mirrored left-right."""
    size = test_idx.shape[0]
    batch = min(batch_size, size)
    count = math.ceil(size / batch)
    idx = jnp.pad(test_idx, (0, count * batch - size), mode="edge").reshape(count, batch)
    params, batch_stats = eval_variables(state)
    variables = {"params": params, "batch_stats": batch_stats}

    def one(_, rows):  # exactly onset and apex: no jitter windows
        views = gather(augment.model_views(data_views), rows)
        if mirror_offset is not None:
            views = jax.vmap(lambda v: augment.mirror_sample(v, mirror_offset))(views)
        return None, apply_in(model, variables, views, compute_dtype, train=False)

    _, logits = jax.lax.scan(one, None, idx, unroll=min(unroll, count))
    return logits.reshape(count * batch, -1)[:size]


def probe_values(probes: dict[str, Callable], params) -> dict:
    """{name: fn(params)} for the values recorded after every epoch."""
    return {name: fn(params) for name, fn in probes.items()}
