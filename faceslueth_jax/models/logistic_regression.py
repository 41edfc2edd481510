"""Multinomial logistic regression on flattened features, trained for every fold.

For fold f with train set T_f: features are standardised with T_f's mean and
std, then W, b minimise

    (1/|T_f|) sum_{i in T_f} CE(softmax(W x_i + b), y_i) + (l2 / 2) |W|^2

by full-batch L-BFGS. A reference point for how hard a data set is: it sees
the same flow inputs and folds as the deep model, without any structure.

Nothing of a test sample (i not in T_f) reaches fold f's fit: its features and
label are masked out (replaced, not multiplied by a zero weight, so that even a
non-finite sample cannot leak through 0 * NaN) before the standardisation
statistics and the loss are computed; it only receives the fitted model's logits.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax


def _fit_predict(x, y, train_mask, num_classes: int, l2: float, steps: int):
    # Samples outside T_f are replaced by zeros (features) and class 0 (labels) before
    # anything is computed from them, not weighted by 0: 0 * NaN is NaN, so a
    # non-finite test sample would otherwise spoil the whole fold's fit.
    train = train_mask[:, None]
    x_train = jnp.where(train, x, 0.0)
    y_train = jnp.where(train_mask, y, 0)
    w_train = train_mask.astype(x.dtype)
    n = jnp.maximum(w_train.sum(), 1.0)
    mean = x_train.sum(0) / n
    std = jnp.sqrt(jnp.where(train, (x_train - mean) ** 2, 0.0).sum(0) / n) + 1e-6
    z_train = jnp.where(train, (x_train - mean) / std, 0.0)

    def loss(params):
        logits = z_train @ params["w"] + params["b"]
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, y_train)
        return (ce * w_train).sum() / n + 0.5 * l2 * jnp.sum(params["w"] ** 2)

    params = {"w": jnp.zeros((x.shape[1], num_classes)), "b": jnp.zeros(num_classes)}
    solver = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(loss)

    def step(carry, _):
        params, state = carry
        value, grad = value_and_grad(params, state=state)
        updates, state = solver.update(grad, state, params, value=value, grad=grad,
                                       value_fn=loss)
        return (optax.apply_updates(params, updates), state), None

    (params, _), _ = jax.lax.scan(step, (params, solver.init(params)), None, length=steps)
    return (x - mean) / std @ params["w"] + params["b"]


def fold_logits(features: np.ndarray, labels: np.ndarray, folds, num_classes: int,
                l2: float = 1e-2, steps: int = 100) -> np.ndarray:
    """Logits (N, K) for every sample from the fold that tests it."""
    x = jnp.asarray(features.reshape(len(features), -1), jnp.float32)
    y = jnp.asarray(labels, jnp.int32)
    masks = np.zeros((folds.num_folds, len(x)), bool)
    for f in range(folds.num_folds):
        masks[f, folds.train_samples(f)] = True
    # data as arguments (closed-over arrays would be baked into the program)
    fit = jax.jit(jax.vmap(lambda x, y, m: _fit_predict(x, y, m, num_classes, l2, steps),
                           in_axes=(None, None, 0)))
    all_logits = np.asarray(fit(x, y, jnp.asarray(masks)))  # (F, N, K)
    out = np.zeros((len(x), num_classes), np.float32)
    for f in range(folds.num_folds):
        idx = folds.test_samples(f)
        out[idx] = all_logits[f, idx]
    return out
